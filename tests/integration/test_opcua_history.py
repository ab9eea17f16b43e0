"""HistoryRead raw on tag nodes, served from a HistoryProvider (an in-memory fake here)."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio
from asyncua import Client, ua
from gatewaykit import PLC_POINTS, plc_device
from opcuakit import OpcRig, connect, opc_rig, until

from gateway.errors import GatewayError
from gateway.model import Status, TagValue

pytestmark = pytest.mark.asyncio(loop_scope="module")

T0 = 1_700_000_000.0


@dataclass(frozen=True)
class Page:
    values: Sequence[TagValue]
    continuation: str | None


class MemoryHistory:
    """Stores TagValues per tag; pages with an index token, like the storage layer."""

    def __init__(self) -> None:
        self.values: dict[str, list[TagValue]] = defaultdict(list)
        self.limits: list[int] = []

    def add(self, values: Iterable[TagValue]) -> None:
        for value in values:
            self.values[value.tag].append(value)

    async def read_raw(
        self,
        key: str,
        start: float | None,
        end: float | None,
        *,
        limit: int,
        continuation: str | None,
    ) -> Page:
        self.limits.append(limit)
        offset = 0
        if continuation is not None:
            subject, _, index = continuation.rpartition("@")
            if subject != key or not index.isdigit():
                raise GatewayError(f"invalid continuation point {continuation!r}")
            offset = int(index)
        rows = [
            value
            for value in self.values[key]
            if (start is None or (value.source_time or value.server_time) >= start)
            and (end is None or (value.source_time or value.server_time) < end)
        ]
        following = offset + limit
        token = f"{key}@{following}" if following < len(rows) else None
        return Page(rows[offset:following], token)


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _reading(index: int, status: Status = Status.GOOD) -> TagValue:
    value = None if status.is_bad else 20.0 + index
    return TagValue("plc.temp", value, status, T0 + index, T0 + index + 0.5)


HISTORY = MemoryHistory()
HISTORY.add(_reading(i) for i in range(10))
HISTORY.add([_reading(10, Status.UNCERTAIN_NO_COMMUNICATION_LAST_USABLE_VALUE)])
HISTORY.add([_reading(11, Status.BAD_NO_COMMUNICATION)])


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[OpcRig]:
    pki: Path = tmp_path_factory.mktemp("history") / "pki"
    async with opc_rig({"plc": PLC_POINTS}, lambda r: [plc_device(r)], pki, history=HISTORY) as r:
        yield r


@pytest_asyncio.fixture(loop_scope="module")
async def client(rig: OpcRig) -> AsyncIterator[Client]:
    async with connect(rig.url, user="view", password="view-secret") as connected:
        yield connected


def _details(start: float | None, end: float | None, count: int = 0) -> ua.ReadRawModifiedDetails:
    return ua.ReadRawModifiedDetails(
        IsReadModified=False,
        StartTime=_at(start) if start is not None else ua.get_win_epoch(),
        EndTime=_at(end) if end is not None else ua.get_win_epoch(),
        NumValuesPerNode=count,
        ReturnBounds=False,
    )


async def _read(
    client: Client,
    nodeid: ua.NodeId,
    details: ua.ReadRawModifiedDetails,
    continuation: bytes | None = None,
    timestamps: ua.TimestampsToReturn = ua.TimestampsToReturn.Both,
) -> ua.HistoryReadResult:
    params = ua.HistoryReadParameters(
        HistoryReadDetails=details,
        TimestampsToReturn=timestamps,
        ReleaseContinuationPoints=False,
        NodesToRead=[ua.HistoryReadValueId(NodeId=nodeid, ContinuationPoint=continuation)],
    )
    [result] = await client.uaclient.history_read(params)
    return result


async def test_raw_read_of_a_time_range(rig: OpcRig, client: Client) -> None:
    result = await _read(client, rig.node_id("plc.temp"), _details(T0 + 2, T0 + 5))
    assert result.StatusCode.is_good()
    assert result.ContinuationPoint is None
    values = result.HistoryData.DataValues
    assert [v.Value.Value for v in values] == [22.0, 23.0, 24.0]
    assert all(v.Value.VariantType == ua.VariantType.Float for v in values)
    assert [v.SourceTimestamp for v in values] == [_at(T0 + i) for i in (2, 3, 4)]
    assert [v.ServerTimestamp for v in values] == [_at(T0 + i + 0.5) for i in (2, 3, 4)]


async def test_num_values_per_node_pages_with_continuation_points(
    rig: OpcRig, client: Client
) -> None:
    node, details = rig.node_id("plc.temp"), _details(T0, T0 + 10, count=4)
    pages: list[list[float]] = []
    continuation = None
    while True:
        result = await _read(client, node, details, continuation)
        assert result.StatusCode.is_good()
        pages.append([v.Value.Value for v in result.HistoryData.DataValues])
        continuation = result.ContinuationPoint
        if continuation is None:
            break
    assert pages == [[20.0, 21.0, 22.0, 23.0], [24.0, 25.0, 26.0, 27.0], [28.0, 29.0]]
    assert HISTORY.limits[-3:] == [4, 4, 4]


async def test_client_helper_reads_everything(rig: OpcRig, client: Client) -> None:
    values = await client.get_node(rig.node_id("plc.temp")).read_raw_history(_at(T0), None)
    assert len(values) == 12
    uncertain, bad = values[10], values[11]
    assert uncertain.StatusCode.value == Status.UNCERTAIN_NO_COMMUNICATION_LAST_USABLE_VALUE
    assert uncertain.Value.Value == 30.0
    assert bad.StatusCode.value == Status.BAD_NO_COMMUNICATION
    assert bad.Value.Value is None


async def test_timestamps_to_return(rig: OpcRig, client: Client) -> None:
    result = await _read(
        client,
        rig.node_id("plc.temp"),
        _details(T0, T0 + 1),
        timestamps=ua.TimestampsToReturn.Source,
    )
    [value] = result.HistoryData.DataValues
    assert value.SourceTimestamp == _at(T0)
    assert value.ServerTimestamp is None


async def test_empty_range_is_good_no_data(rig: OpcRig, client: Client) -> None:
    result = await _read(client, rig.node_id("plc.temp"), _details(T0 - 100, T0 - 50))
    assert result.StatusCode.value == ua.StatusCodes.GoodNoData
    assert result.HistoryData.DataValues == []


@pytest.mark.parametrize(
    "case",
    [
        ("plc._Status.State", _details(T0, T0 + 5), None, "BadHistoryOperationUnsupported"),
        ("plc.temp", _details(T0 + 5, T0), None, "BadHistoryOperationUnsupported"),
        ("plc.temp", _details(T0, T0 + 5), b"plc.mode@2", "BadContinuationPointInvalid"),
    ],
    ids=["not a tag", "reverse order", "foreign continuation point"],
)
async def test_unsupported_reads(
    rig: OpcRig, client: Client, case: tuple[str, ua.ReadRawModifiedDetails, bytes | None, str]
) -> None:
    key, details, continuation, status = case
    result = await _read(client, rig.node_id(key), details, continuation)
    assert result.StatusCode.value == getattr(ua.StatusCodes, status)


async def test_history_after_scans_of_the_plc(rig: OpcRig, client: Client) -> None:
    """Values the bus carried (recorded like the storage writer would) read back in order."""
    subscription = rig.acquisition.bus.subscribe("recorder")
    started = time.time()
    unit = rig.plant.slave("plc").unit(1)
    try:
        node = client.get_node(rig.node_id("plc.mode"))
        for mode in (2, 3, 4):
            unit.set("mode", mode)

            async def changed(expected: int = mode) -> bool:
                return bool(await node.read_value() == expected)

            await until(changed, message=f"mode {mode}")
        for batch in subscription.get_nowait():
            HISTORY.add(batch)
    finally:
        rig.acquisition.bus.unsubscribe(subscription)
        unit.set("mode", 1)
    values = await client.get_node(rig.node_id("plc.mode")).read_raw_history(_at(started), None)
    assert [v.Value.Value for v in values] == [2, 3, 4]
    assert all(v.Value.VariantType == ua.VariantType.UInt16 for v in values)


async def test_history_from_the_real_historian_after_scans(tmp_path: Path) -> None:
    """Storage records the PLC's changes; HistoryRead pages through them (SQLite)."""
    storage = {"url": f"sqlite:///{tmp_path / 'history.db'}", "flush_interval": "50ms"}
    started = time.time()
    async with (
        opc_rig(
            {"plc": PLC_POINTS}, lambda r: [plc_device(r)], tmp_path / "pki", storage=storage
        ) as rig,
        connect(rig.url, user="view", password="view-secret") as client,
    ):
        node = client.get_node(rig.node_id("plc.mode"))
        assert ua.AccessLevel.HistoryRead in await node.get_access_level()
        unit = rig.plant.slave("plc").unit(1)
        for mode in (2, 3, 4, 5):
            unit.set("mode", mode)

            async def changed(expected: int = mode) -> bool:
                return bool(await node.read_value() == expected)

            await until(changed, message=f"mode {mode}")
        details = _details(started, None, count=2)

        async def stored() -> list[list[int]]:
            pages, continuation = [], None
            while True:
                result = await _read(client, rig.node_id("plc.mode"), details, continuation)
                assert result.StatusCode.is_good()
                # A slow first connect may store a Bad value first: count the Good ones.
                good = [v for v in result.HistoryData.DataValues if v.StatusCode.is_good()]
                pages.append([v.Value.Value for v in good])
                continuation = result.ContinuationPoint
                if continuation is None:
                    flat = [value for page in pages for value in page]
                    return pages if flat[-1:] == [5] else []

        pages = await until(stored, message="history flushed")
        assert [value for page in pages for value in page] == [1, 2, 3, 4, 5]
        assert all(len(page) <= 2 for page in pages)  # NumValuesPerNode
        assert len(pages) >= 3
