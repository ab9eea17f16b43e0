"""`python -m gateway` and the `gateway` command: the command-line interface.

The interface is imported inside `main`, so a Ctrl-C while Python loads it
ends the command with exit code 130 like a Ctrl-C later on, not a traceback.
"""

from __future__ import annotations


def main() -> int:
    """The `gateway` command: load the interface, then run it."""
    try:
        from gateway.cli import main as run  # noqa: PLC0415 - inside the Ctrl-C guard
    except KeyboardInterrupt:
        return 130
    return run()


if __name__ == "__main__":
    raise SystemExit(main())
