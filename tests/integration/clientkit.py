"""Running the client commands in a test: `gateway ARGV…` in a thread, with what it printed."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from gateway.cli import main

__all__ = ["Run", "gateway"]


@dataclass
class Run:
    code: int
    out: str
    err: str


async def gateway(capsys: pytest.CaptureFixture[str], *argv: str) -> Run:
    """`gateway ARGV…` in a thread (its own event loop, as from a shell), with its output."""
    code = await asyncio.to_thread(main, list(argv))
    captured = capsys.readouterr()
    return Run(code, captured.out, captured.err)
