"""HistoryRead on tag nodes.

Raw reads from an in-memory provider first; then OPC UA Part 11's read modes
(reverse, bounds, one time only, at-time) from a real historian, on SQLite
and on PostgreSQL.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from asyncua import Client, ua
from gatewaykit import PLC_POINTS, PLC_TAGS, plc_device
from opcuakit import OPEN, OpcRig, connect, gateway_config, opc_rig, until
from storagekit import DIALECTS, fresh_database

from gateway.bus import Bus
from gateway.errors import GatewayError
from gateway.model import Status, TagValue
from gateway.opcua import history
from gateway.storage.database import Database
from gateway.storage.historian import Historian
from gateway.storage.rows import encode_value, to_us
from gateway.storage.tagsync import tag_infos

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
        reverse: bool = False,
    ) -> Page:
        self.limits.append(limit)
        offset = 0
        if continuation is not None:
            subject, _, index = continuation.rpartition("@")
            if subject != key or not index.isdigit():
                raise GatewayError(f"invalid continuation point {continuation!r}")
            offset = int(index)

        def inside(value: TagValue) -> bool:
            time = value.source_time or value.server_time or 0.0
            if reverse:  # start < time <= end, like the storage layer
                return (start is None or time > start) and (end is None or time <= end)
            return (start is None or time >= start) and (end is None or time < end)

        rows = [value for value in self.values[key] if inside(value)]
        if reverse:
            rows.reverse()
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
    """asyncua's helper: StartTime only, NumValuesPerNode 0 (lenient) and ReturnBounds."""
    values = await client.get_node(rig.node_id("plc.temp")).read_raw_history(_at(T0), None)
    assert len(values) == 13  # the value at StartTime is its own bound; no end bound exists
    uncertain, bad, no_bound = values[10], values[11], values[12]
    assert no_bound.StatusCode.value == ua.StatusCodes.BadBoundNotFound
    assert no_bound.Value.Value is None
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
        ("plc.temp", _details(None, None, count=5), None, "BadHistoryOperationInvalid"),
        ("plc.temp", _details(T0, T0 + 5), b"plc.mode@2", "BadContinuationPointInvalid"),
        (
            "plc.temp",
            _details(T0, T0 + 5),
            b'[1, "plc.mode", "values", null]',
            "BadContinuationPointInvalid",
        ),
    ],
    ids=["not a tag", "no time given", "damaged continuation point", "foreign continuation point"],
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
    node = client.get_node(rig.node_id("plc.mode"))
    values = await node.read_raw_history(_at(started), None, return_bounds=False)
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


# -- read modes against the real historian (OPC UA Part 11) ------------------------------------

#: 00:00 UTC yesterday: the spec's example history is stored then (inside the retention).
DAY = (time.time() // 86400 - 1) * 86400
#: Part 11 §4.4 Table 1's history: values stored at 5:00, 5:02, 5:03, 5:05 and 5:06.
SPEC_TIMES = ("5:00", "5:02", "5:03", "5:05", "5:06")


def _clock(text: str | None) -> float | None:
    if text is None:
        return None
    hours, minutes = text.split(":")
    return DAY + int(hours) * 3600 + int(minutes) * 60


def _spec_details(
    start: str | None, end: str | None, count: int, bounds: bool
) -> ua.ReadRawModifiedDetails:
    details = _details(_clock(start), _clock(end), count)
    details.ReturnBounds = bounds
    return details


def _clocks(values: Sequence[ua.DataValue]) -> list[str]:
    """Each value as its H:MM source time, or FIRST/LAST for a Bad_BoundNotFound bound."""
    shown = []
    for value in values:
        if value.StatusCode.value == ua.StatusCodes.BadBoundNotFound:
            assert value.Value.Value is None
            shown.append("BOUND")
            continue
        assert value.StatusCode.is_good()
        seconds = int(value.SourceTimestamp.timestamp() - DAY)
        assert value.Value.Value == float(seconds // 60)  # stored value = minute of the day
        shown.append(f"{seconds // 3600}:{seconds % 3600 // 60:02d}")
    return shown


@pytest_asyncio.fixture(loop_scope="module", scope="module", params=DIALECTS)
async def stored(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[OpcRig]:
    """A server whose plc.level history (in a real database) is Part 11's example."""
    folder = tmp_path_factory.mktemp("history-modes")
    with fresh_database(request.param, folder) as url:
        offline = [{"name": "plc", "host": "127.0.0.1", "enabled": False, "tags": PLC_TAGS}]
        config = gateway_config(offline, OPEN, {"url": url})
        database = Database(config.storage, tag_infos(config), gateway=config.gateway.name)
        database.prepare()
        rows = []
        for text in SPEC_TIMES:
            at = _clock(text)
            assert at is not None
            number, _ = encode_value((at - DAY) // 60)
            rows.append(("plc.level", to_us(at), number, None, int(Status.GOOD)))
        database.write(rows)
        database.dispose()
        # A bus of its own: the historian serves the rows above and records nothing live.
        async with (
            Historian(config, Bus()) as historian,
            opc_rig(
                {"plc": PLC_POINTS}, lambda r: [plc_device(r)], folder / "pki", history=historian
            ) as rig,
        ):
            yield rig


@pytest_asyncio.fixture(loop_scope="module")
async def stored_client(stored: OpcRig) -> AsyncIterator[Client]:
    async with connect(stored.url, user="view", password="view-secret") as connected:
        yield connected


# Part 11 §4.4 Table 1: (start, end, NumValuesPerNode, ReturnBounds) → the first response
# (BOUND: a null Bad_BoundNotFound value; [] is GoodNoData) and whether it continues.
SPEC_TABLE: list[tuple[str | None, str | None, int, bool, list[str], bool]] = [
    ("5:00", "5:05", 0, True, ["5:00", "5:02", "5:03", "5:05"], False),
    ("5:00", "5:05", 0, False, ["5:00", "5:02", "5:03"], False),
    ("5:01", "5:04", 0, True, ["5:00", "5:02", "5:03", "5:05"], False),
    ("5:01", "5:04", 0, False, ["5:02", "5:03"], False),
    ("5:05", "5:00", 0, True, ["5:05", "5:03", "5:02", "5:00"], False),
    ("5:05", "5:00", 0, False, ["5:05", "5:03", "5:02"], False),
    ("5:04", "5:01", 0, True, ["5:05", "5:03", "5:02", "5:00"], False),
    ("5:04", "5:01", 0, False, ["5:03", "5:02"], False),
    ("4:59", "5:05", 0, True, ["BOUND", "5:00", "5:02", "5:03", "5:05"], False),
    ("4:59", "5:05", 0, False, ["5:00", "5:02", "5:03"], False),
    ("5:01", "5:07", 0, True, ["5:00", "5:02", "5:03", "5:05", "5:06", "BOUND"], False),
    ("5:01", "5:07", 0, False, ["5:02", "5:03", "5:05", "5:06"], False),
    ("5:00", "5:05", 3, True, ["5:00", "5:02", "5:03"], True),
    ("5:00", "5:05", 3, False, ["5:00", "5:02", "5:03"], False),
    ("5:01", "5:04", 3, True, ["5:00", "5:02", "5:03"], True),
    ("5:01", "5:04", 3, False, ["5:02", "5:03"], False),
    ("5:05", "5:00", 3, True, ["5:05", "5:03", "5:02"], True),
    ("5:05", "5:00", 3, False, ["5:05", "5:03", "5:02"], False),
    ("5:04", "5:01", 3, True, ["5:05", "5:03", "5:02"], True),
    ("5:04", "5:01", 3, False, ["5:03", "5:02"], False),
    ("4:59", "5:05", 3, True, ["BOUND", "5:00", "5:02"], True),
    ("4:59", "5:05", 3, False, ["5:00", "5:02", "5:03"], False),
    ("5:01", "5:07", 3, True, ["5:00", "5:02", "5:03"], True),
    ("5:01", "5:07", 3, False, ["5:02", "5:03", "5:05"], True),
    ("5:00", None, 3, True, ["5:00", "5:02", "5:03"], True),
    ("5:00", None, 3, False, ["5:00", "5:02", "5:03"], True),
    ("5:00", None, 6, True, ["5:00", "5:02", "5:03", "5:05", "5:06", "BOUND"], False),
    ("5:00", None, 6, False, ["5:00", "5:02", "5:03", "5:05", "5:06"], False),
    ("5:07", None, 6, True, ["5:06", "BOUND"], False),
    ("5:07", None, 6, False, [], False),
    (None, "5:06", 3, True, ["5:06", "5:05", "5:03"], True),
    (None, "5:06", 3, False, ["5:06", "5:05", "5:03"], True),
    (None, "5:06", 6, True, ["5:06", "5:05", "5:03", "5:02", "5:00", "BOUND"], False),
    (None, "5:06", 6, False, ["5:06", "5:05", "5:03", "5:02", "5:00"], False),
    (None, "4:48", 6, True, ["5:00", "BOUND"], False),
    (None, "4:48", 6, False, [], False),
    ("4:48", "4:48", 0, True, ["BOUND", "5:00"], False),
    ("4:48", "4:48", 0, False, [], False),
    ("4:48", "4:48", 1, True, ["BOUND"], True),
    ("4:48", "4:48", 1, False, [], False),
    ("4:48", "4:48", 2, True, ["BOUND", "5:00"], False),
    ("5:00", "5:00", 0, True, ["5:00", "5:02"], False),
    ("5:00", "5:00", 0, False, ["5:00"], False),
    ("5:00", "5:00", 1, True, ["5:00"], True),
    ("5:00", "5:00", 1, False, ["5:00"], False),
    ("5:01", "5:01", 0, True, ["5:00", "5:02"], False),
    ("5:01", "5:01", 0, False, [], False),
    ("5:01", "5:01", 1, True, ["5:00"], True),
    ("5:01", "5:01", 1, False, [], False),
]


@pytest.mark.parametrize(
    "row",
    SPEC_TABLE,
    ids=[f"{s}-{e}-n{n}-{'bounds' if b else 'raw'}" for s, e, n, b, _, _ in SPEC_TABLE],
)
async def test_part11_bounding_value_examples(
    stored: OpcRig,
    stored_client: Client,
    row: tuple[str | None, str | None, int, bool, list[str], bool],
) -> None:
    start, end, count, bounds, expected, more = row
    details = _spec_details(start, end, count, bounds)
    result = await _read(stored_client, stored.node_id("plc.level"), details)
    assert _clocks(result.HistoryData.DataValues) == expected
    assert (result.ContinuationPoint is not None) == more
    status = ua.StatusCodes.Good if expected else ua.StatusCodes.GoodNoData
    assert result.StatusCode.value == status


async def _pages(
    client: Client, node: ua.NodeId, details: ua.ReadRawModifiedDetails
) -> list[list[ua.DataValue]]:
    pages, continuation = [], None
    while True:
        result = await _read(client, node, details, continuation)
        assert result.StatusCode.is_good()
        pages.append(result.HistoryData.DataValues)
        continuation = result.ContinuationPoint
        if continuation is None:
            return pages
        assert len(pages) < 20, "the server keeps returning continuation points"


async def test_reverse_read_with_bounds_pages_newest_first(
    stored: OpcRig, stored_client: Client
) -> None:
    pages = await _pages(
        stored_client, stored.node_id("plc.level"), _spec_details("5:06", "4:48", 2, True)
    )
    assert [_clocks(page) for page in pages] == [
        ["5:06", "5:05"],
        ["5:03", "5:02"],
        ["5:00", "BOUND"],
    ]
    missing = pages[-1][-1]
    assert missing.SourceTimestamp == _at(_clock("4:48") or 0.0)  # the bound's own time


async def test_forward_read_with_bounds_pages_and_ends_with_the_end_bound(
    stored: OpcRig, stored_client: Client
) -> None:
    pages = await _pages(
        stored_client, stored.node_id("plc.level"), _spec_details("4:59", "5:04", 2, True)
    )
    assert [_clocks(page) for page in pages] == [["BOUND", "5:00"], ["5:02", "5:03"], ["5:05"]]
    assert pages[0][0].SourceTimestamp == _at(_clock("4:59") or 0.0)


async def test_end_time_only_reads_backwards_through_every_page(
    stored: OpcRig, stored_client: Client
) -> None:
    pages = await _pages(
        stored_client, stored.node_id("plc.level"), _spec_details(None, "5:05", 2, False)
    )
    assert [_clocks(page) for page in pages] == [["5:05", "5:03"], ["5:02", "5:00"]]


async def _history_read(
    client: Client, node: ua.NodeId, details: Any, continuation: bytes | None = None
) -> ua.HistoryReadResult:
    params = ua.HistoryReadParameters(
        HistoryReadDetails=details,
        TimestampsToReturn=ua.TimestampsToReturn.Both,
        ReleaseContinuationPoints=False,
        NodesToRead=[ua.HistoryReadValueId(NodeId=node, ContinuationPoint=continuation)],
    )
    [result] = await client.uaclient.history_read(params)
    return result


@pytest.mark.parametrize(
    "details",
    [
        ua.ReadRawModifiedDetails(
            IsReadModified=True, StartTime=_at(DAY), EndTime=_at(DAY + 86400)
        ),
        ua.ReadEventDetails(StartTime=_at(DAY), EndTime=_at(DAY + 86400)),
    ],
    ids=["modified", "events"],
)
async def test_unsupported_read_kinds_are_a_per_node_status(
    stored: OpcRig, stored_client: Client, details: Any
) -> None:
    result = await _history_read(stored_client, stored.node_id("plc.level"), details)
    assert result.StatusCode.value == ua.StatusCodes.BadHistoryOperationUnsupported
    # The session is still fine afterwards.
    assert await stored_client.get_node(stored.node_id("plc.level")).read_browse_name()


async def test_read_at_time_uses_stepped_interpolation(
    stored: OpcRig, stored_client: Client
) -> None:
    times = [_at(_clock(text) or 0.0) for text in ("4:59", "5:00", "5:01", "5:04", "6:00")]
    details = ua.ReadAtTimeDetails(ReqTimes=times, UseSimpleBounds=True)
    result = await _history_read(stored_client, stored.node_id("plc.level"), details)
    assert result.StatusCode.is_good()
    assert result.ContinuationPoint is None
    before, exact, between, later, last = result.HistoryData.DataValues
    assert before.StatusCode.value == ua.StatusCodes.BadNoData
    assert before.Value.Value is None
    assert exact.StatusCode.value == ua.StatusCodes.Good  # a raw value: no interpolation bit
    assert exact.Value.Value == 300.0
    interpolated = ua.StatusCodes.Good | 0x0400 | 0x0002  # InfoType DataValue + Interpolated
    assert [v.StatusCode.value for v in (between, later, last)] == [interpolated] * 3
    assert [v.Value.Value for v in (between, later, last)] == [300.0, 303.0, 306.0]
    assert [v.SourceTimestamp for v in result.HistoryData.DataValues] == times


async def test_read_at_time_pages_with_continuation_points(
    stored: OpcRig, stored_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(history, "MAX_TIMES_PER_READ", 2)
    times = [_at(_clock(text) or 0.0) for text in ("5:00", "5:01", "5:02", "5:03", "5:04")]
    details = ua.ReadAtTimeDetails(ReqTimes=times, UseSimpleBounds=True)
    node = stored.node_id("plc.level")
    pages, continuation = [], None
    while True:
        result = await _history_read(stored_client, node, details, continuation)
        assert result.StatusCode.is_good()
        pages.append([v.Value.Value for v in result.HistoryData.DataValues])
        continuation = result.ContinuationPoint
        if continuation is None:
            break
    assert pages == [[300.0, 300.0], [302.0, 303.0], [303.0]]
    foreign = await _history_read(stored_client, node, details, b'["plc.temp", 2]')
    assert foreign.StatusCode.value == ua.StatusCodes.BadContinuationPointInvalid


async def test_neither_timestamp_is_refused_for_history(
    stored: OpcRig, stored_client: Client
) -> None:
    details = _spec_details("5:00", "5:05", 0, False)
    with pytest.raises(ua.UaStatusCodeError) as refused:
        await _read(
            stored_client,
            stored.node_id("plc.level"),
            details,
            timestamps=ua.TimestampsToReturn.Neither,
        )
    assert refused.value.code == ua.StatusCodes.BadTimestampsToReturnInvalid
    # A service fault, not a broken session: the next read works.
    result = await _read(stored_client, stored.node_id("plc.level"), details)
    assert _clocks(result.HistoryData.DataValues) == ["5:00", "5:02", "5:03"]
