"""`demo`: the bundled demo plant and a gateway for it, with a live status."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gateway.cli.common import Commands, positive_float

__all__ = ["register"]

#: The OPC UA default port, where clients look first.
DEFAULT_PORT = 4840
#: The status page's port (a browser's http://127.0.0.1:8080/).
DEFAULT_HTTP_PORT = 8080


def _port(text: str) -> int:
    """An argparse type: a TCP port, 0 for any free one."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be 0..65535, got {value}")
    return value


def _cmd_demo(args: argparse.Namespace) -> int:
    from gateway.collector import collector_paused_until_running
    from gateway.loop import run

    with collector_paused_until_running() as running:  # as `gateway run` does
        from gateway.demo import DemoOptions, run_demo

        options = DemoOptions(
            data_dir=args.data_dir,
            port=args.port,
            duration=args.duration,
            http_port=args.http_port,
            mqtt=args.mqtt,
        )
        run(run_demo(options, sys.stdout, running=running))
    return 0


def register(commands: Commands) -> None:
    """Add `demo`."""
    demo = commands.add_parser(
        "demo",
        help="run the bundled demo plant and a gateway for it, with a live status",
        description=(
            "Start the bundled demo plant (simulated PLCs on free ports) and a gateway for "
            "it that stores readings in SQLite in the data directory, serves OPC UA and a "
            "status page on 127.0.0.1. Prints the endpoint, the status page's URL, the security "
            "summary and the demo credentials, then a live status until Ctrl-C. For the demo "
            "only, anonymous clients may read over an unsecured endpoint."
        ),
    )
    demo.add_argument(
        "--duration", type=positive_float, default=None, metavar="S", help="stop after S seconds"
    )
    demo.add_argument(
        "--data-dir",
        type=Path,
        default=Path("gateway-demo"),
        metavar="DIR",
        help="history database, certificates and the demo's config (default: ./gateway-demo)",
    )
    demo.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        metavar="N",
        help=f"OPC UA port on 127.0.0.1 (default {DEFAULT_PORT}; 0: any free port)",
    )
    demo.add_argument(
        "--http-port",
        type=_port,
        default=DEFAULT_HTTP_PORT,
        metavar="N",
        help=f"status page and /metrics on 127.0.0.1 (default {DEFAULT_HTTP_PORT}; 0: any free "
        "port)",
    )
    demo.add_argument(
        "--mqtt",
        default=None,
        metavar="URL",
        help="also publish the plant to this MQTT broker (mqtt://HOST:PORT): a Sparkplug B "
        "edge node in group 'demo' and one JSON topic per tag (needs the mqtt extra)",
    )
    demo.set_defaults(handler=_cmd_demo)
