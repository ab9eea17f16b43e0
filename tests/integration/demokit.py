"""Test kit for `gateway demo` run as a real process: its output, an OPC UA client."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import NoReturn

import pytest
from asyncua import Client, ua

#: The banner line with the endpoint clients connect to.
ENDPOINT = re.compile(r"^OPC UA endpoint: (opc\.tcp://\S+)$")
DEMO_NAMESPACE = "urn:example:demo-plant"


@contextlib.asynccontextmanager
async def killed_at_exit(process: asyncio.subprocess.Process) -> AsyncIterator[None]:
    """Kill `process` when the block ends with it still running (a failed test)."""
    try:
        yield
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def rest_and_code(process: asyncio.subprocess.Process, timeout: float) -> tuple[str, int]:
    """The rest of the process's stdout and its exit code, once it exits within `timeout`."""
    assert process.stdout is not None
    async with asyncio.timeout(timeout):
        rest = (await process.stdout.read()).decode()
        return rest, await process.wait()


async def read_until(
    stream: asyncio.StreamReader,
    pattern: re.Pattern[str],
    seen: list[str],
    timeout: float,
    errors: Path | None = None,
) -> re.Match[str]:
    """Lines of `stream` (kept in `seen`) until one matches `pattern`; fail on EOF or timeout.

    `errors`: the process's stderr file, shown in the failure message.
    """

    def fail(why: str) -> NoReturn:
        stderr = "" if errors is None else f"\n--- stderr:\n{errors.read_text()}"
        pytest.fail(f"{why}:\n{''.join(seen)}{stderr}")

    try:
        async with asyncio.timeout(timeout):
            while True:
                line = (await stream.readline()).decode()
                if not line:
                    fail(f"demo ended before printing {pattern.pattern!r}")
                seen.append(line)
                match = pattern.search(line.rstrip("\n"))
                if match:
                    return match
    except TimeoutError:
        fail(f"no {pattern.pattern!r} within {timeout} s")


async def read_good_value(url: str, tag: str, timeout: float = 30.0) -> ua.DataValue:
    """Connect anonymously on the None endpoint and read `tag` until its status is Good."""
    deadline = time.monotonic() + timeout
    async with Client(url, timeout=10) as client:
        ns = await client.get_namespace_index(DEMO_NAMESPACE)
        node = client.get_node(ua.NodeId(tag, ns))
        while True:
            value: ua.DataValue = await node.read_data_value(raise_on_bad_status=False)
            if value.StatusCode.is_good():
                return value
            if time.monotonic() > deadline:
                pytest.fail(f"{tag} not Good within {timeout} s: {value.StatusCode}")
            await asyncio.sleep(0.2)  # polling the server, not settling


async def write_as_operator(url: str, tag: str, value: float, timeout: float = 10.0) -> None:
    """Write a float32 tag as the demo's operator, then read it back until it is there."""
    client = Client(url, timeout=10)
    client.set_user("operator")
    client.set_password("demo-operator")
    async with client:
        ns = await client.get_namespace_index(DEMO_NAMESPACE)
        node = client.get_node(ua.NodeId(tag, ns))
        await node.write_value(ua.DataValue(ua.Variant(value, ua.VariantType.Float)))
        deadline = time.monotonic() + timeout
        while (read := await node.read_data_value(raise_on_bad_status=False)).Value.Value != value:
            if time.monotonic() > deadline:
                pytest.fail(f"{tag} is {read.Value.Value} ({read.StatusCode}), not {value}")
            await asyncio.sleep(0.2)  # polling the server, not settling
