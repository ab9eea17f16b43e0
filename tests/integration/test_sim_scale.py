"""The scale generator over real TCP: float32 layout and the fraction that changes."""

from __future__ import annotations

import socket
import struct

import pytest
from conftest import ClientFactory, WaitUntil
from pymodbus.client import AsyncModbusTcpClient

from simulators.scale import ScaleSpec, changed_indices, run_scale


async def read_floats(client: AsyncModbusTcpClient, registers: int) -> list[float]:
    words: list[int] = []
    for start in range(0, registers, 124):
        count = min(124, registers - start)
        response = await client.read_holding_registers(start, count=count, device_id=1)
        assert not response.isError()
        words += response.registers
    data = struct.pack(f">{len(words)}H", *words)
    return list(struct.unpack(f">{len(words) // 2}f", data))  # word order big: ABCD


@pytest.mark.parametrize("pattern", ["spread", "clustered"])
async def test_each_tick_changes_the_chosen_fraction(
    modbus_client: ClientFactory, pattern: str
) -> None:
    spec = ScaleSpec(slaves=3, registers=400, change=0.1, pattern=pattern)  # type: ignore[arg-type]
    async with run_scale(spec, autotick=False) as scale:
        clients = [await modbus_client(port) for port in scale.ports]
        before = [await read_floats(c, 400) for c in clients]
        assert before[0] == [0.0] * 200
        await scale.advance()
        after = [await read_floats(c, 400) for c in clients]
    for index, (old, new) in enumerate(zip(before, after, strict=True)):
        changed = [i for i, (a, b) in enumerate(zip(old, new, strict=True)) if a != b]
        assert changed == sorted(changed_indices(200, 0.1, 1, pattern))  # type: ignore[arg-type]
        assert len(changed) == 20
        (expected,) = struct.unpack(">f", struct.pack(">f", 1 + index / 1000))
        assert {new[i] for i in changed} == {expected}


async def test_toggle_alternates_every_float_between_zero_and_the_value(
    modbus_client: ClientFactory,
) -> None:
    spec = ScaleSpec(slaves=2, registers=20, change=1.0, toggle=100.0)
    async with run_scale(spec, autotick=False) as scale:
        clients = [await modbus_client(port) for port in scale.ports]
        seen = []
        for _ in range(3):
            await scale.advance()
            seen.append([await read_floats(c, 20) for c in clients])
    assert [ticks[1] for ticks in seen] == [[100.0] * 10, [0.0] * 10, [100.0] * 10]
    assert all(ticks[0] == ticks[1] for ticks in seen)  # the same on every slave


def test_spread_changes_touch_every_block_and_clustered_few() -> None:
    spread = changed_indices(1000, 0.1, 5, "spread")
    clustered = changed_indices(1000, 0.1, 5, "clustered")
    blocks = 62  # float32 per 124-register read
    assert len({i // blocks for i in spread}) == 17  # every block of 1000 floats
    assert len({i // blocks for i in clustered}) <= 3
    assert changed_indices(1000, 0.0, 5, "spread") == []


async def test_fixed_base_port_and_the_ticker(
    modbus_client: ClientFactory, eventually: WaitUntil
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        base = probe.getsockname()[1]
    spec = ScaleSpec(slaves=1, registers=10, change=1.0, tick=0.05, base_port=base)
    async with run_scale(spec) as scale:
        assert scale.ports == [base]
        client = await modbus_client(base)
        await eventually(lambda: scale.tick_index >= 3, timeout=5, message="3 ticks")
        floats = await read_floats(client, 10)
        assert all(value >= 3 for value in floats)


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"slaves": 0, "registers": 2}, "slaves must be at least 1"),
        ({"slaves": 1, "registers": 3}, "registers must be even"),
        ({"slaves": 1, "registers": 2, "change": 1.5}, "change must be a fraction"),
        ({"slaves": 10, "registers": 2, "base_port": 65530}, "beyond 65535"),
    ],
)
def test_bad_specs_are_refused(kwargs: dict[str, int | float], text: str) -> None:
    with pytest.raises(ValueError, match=text):
        ScaleSpec(**kwargs)  # type: ignore[arg-type]
