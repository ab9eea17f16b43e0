"""HistoryReadProcessed (Part 11 §6.5.4, Part 13) on a real historian, with asyncua's client.

plc.temp holds Part 13's Historian 1 (Annex A.1.1) yesterday from 12:00:10:
the server's answers must be the spec's tables (tests/data/part13_annex_a.json),
pages must continue where they stopped, an aggregate the gateway does not
compute must be refused per node, and the server must list what it offers.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from asyncua import Client, ua
from gatewaykit import PLC_POINTS, PLC_TAGS, plc_device
from opcuakit import OPEN, OpcRig, connect, gateway_config, opc_rig
from storagekit import DIALECTS, fresh_database

from gateway.aggregates import Aggregate, describe_status
from gateway.bus import Bus
from gateway.model import Status
from gateway.opcua.history import MAX_VALUES_PER_READ
from gateway.storage.database import Database
from gateway.storage.historian import Historian
from gateway.storage.rows import encode_value, to_us
from gateway.storage.tagsync import tag_infos

pytestmark = pytest.mark.asyncio(loop_scope="module")

DATA = json.loads((Path(__file__).parents[1] / "data" / "part13_annex_a.json").read_text())
#: 00:00 UTC yesterday (inside the retention).
DAY = (time.time() // 86400 - 1) * 86400
_STATUS = {
    "Good": Status.GOOD,
    "Uncertain": Status.UNCERTAIN_NO_COMMUNICATION_LAST_USABLE_VALUE,
    "Bad": Status.BAD_NO_COMMUNICATION,
}


def _at(clock: str) -> float:
    hours, minutes, seconds = clock.split(":")
    return DAY + int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _shown(code: int) -> str:
    """Part 13's notation; a raw value's own Uncertain code is just "Uncertain" there."""
    if code & 0xFFFF0000 == Status.UNCERTAIN_NO_COMMUNICATION_LAST_USABLE_VALUE:
        return "Uncertain"
    return describe_status(code)


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@pytest_asyncio.fixture(loop_scope="module", scope="module", params=DIALECTS)
async def rig(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[OpcRig]:
    folder = tmp_path_factory.mktemp("processed")
    with fresh_database(request.param, folder) as url:
        offline = [{"name": "plc", "host": "127.0.0.1", "enabled": False, "tags": PLC_TAGS}]
        config = gateway_config(offline, OPEN, {"url": url})
        database = Database(config.storage, tag_infos(config), gateway=config.gateway.name)
        database.prepare()
        rows = []
        for row in DATA["historian1"]["raw"]:
            if row["status"] == "BadNoData":
                continue  # the archive's "point created" mark: a historian stores nothing
            status = _STATUS[row["status"]]
            value = None if status is Status.BAD_NO_COMMUNICATION else row["value"]
            number, _ = encode_value(value)
            rows.append(("plc.temp", to_us(_at(row["time"])), number, None, int(status)))
        database.write(rows)
        database.dispose()
        async with (
            Historian(config, Bus()) as historian,
            opc_rig(
                {"plc": PLC_POINTS}, lambda r: [plc_device(r)], folder / "pki", history=historian
            ) as rig,
        ):
            yield rig


@pytest_asyncio.fixture(loop_scope="module")
async def client(rig: OpcRig) -> AsyncIterator[Client]:
    async with connect(rig.url, user="view", password="view-secret") as connected:
        yield connected


def _details(aggregate: int, start: float, end: float, interval_ms: float) -> Any:
    return ua.ReadProcessedDetails(
        StartTime=_utc(start),
        EndTime=_utc(end),
        ProcessingInterval=interval_ms,
        AggregateType=[ua.NodeId(aggregate)],
        AggregateConfiguration=ua.AggregateConfiguration(UseServerCapabilitiesDefaults=True),
    )


async def _read(
    client: Client, node: ua.NodeId, details: Any, continuation: bytes | None = None
) -> ua.HistoryReadResult:
    params = ua.HistoryReadParameters(
        HistoryReadDetails=details,
        TimestampsToReturn=ua.TimestampsToReturn.Source,
        ReleaseContinuationPoints=False,
        NodesToRead=[ua.HistoryReadValueId(NodeId=node, ContinuationPoint=continuation)],
    )
    [result] = await client.uaclient.history_read(params)
    return result


TABLES = [pytest.param(t, id=t["aggregate"]) for t in DATA["tables"] if "deviations" not in t]


@pytest.mark.parametrize("table", TABLES)
async def test_processed_reads_answer_part13s_tables(
    rig: OpcRig, client: Client, table: dict[str, Any]
) -> None:
    aggregate = next(a for a in Aggregate if a.browse_name == table["aggregate"])
    details = _details(
        aggregate.node_number, _at(table["start"]), _at(table["end"]), table["interval"] * 1000.0
    )
    result = await _read(client, rig.node_id("plc.temp"), details)
    assert result.StatusCode.is_good()
    assert result.ContinuationPoint is None
    got = [
        (
            round(v.SourceTimestamp.timestamp() - DAY, 3),
            None if v.Value.Value is None else round(float(v.Value.Value), 3),
            _shown(v.StatusCode.value),
        )
        for v in result.HistoryData.DataValues
    ]
    expected = [
        (round(_at(row["time"]) - DAY, 3), row["value"], row["status"]) for row in table["expected"]
    ]
    assert got == expected


async def test_long_processed_reads_continue_where_they_stopped(
    rig: OpcRig, client: Client
) -> None:
    node = rig.node_id("plc.temp")
    count = MAX_VALUES_PER_READ + 300
    details = _details(
        Aggregate.INTERPOLATIVE.node_number, _at("12:00:00"), _at("12:00:00") + count * 0.01, 10.0
    )
    first = await _read(client, node, details)
    assert len(first.HistoryData.DataValues) == MAX_VALUES_PER_READ
    assert first.ContinuationPoint
    second = await _read(client, node, details, first.ContinuationPoint)
    assert len(second.HistoryData.DataValues) == 300
    assert second.ContinuationPoint is None
    times = [
        v.SourceTimestamp for v in [*first.HistoryData.DataValues, *second.HistoryData.DataValues]
    ]
    assert times == sorted(set(times))
    assert second.HistoryData.DataValues[-1].Value.Value == pytest.approx(52.99)
    forged = await _read(client, node, details, b'[2, "plc.temp", 2341, -4]')
    assert forged.StatusCode.value == ua.StatusCodes.BadContinuationPointInvalid


async def test_other_aggregates_are_refused_per_node(rig: OpcRig, client: Client) -> None:
    details = _details(
        ua.ObjectIds.AggregateFunction_StandardDeviationPopulation,
        _at("12:00:00"),
        _at("12:01:40"),
        16_000.0,
    )
    result = await _read(client, rig.node_id("plc.temp"), details)
    assert result.StatusCode.value == ua.StatusCodes.BadAggregateNotSupported
    details.AggregateType = []
    mismatch = await _read(client, rig.node_id("plc.temp"), details)
    assert mismatch.StatusCode.value == ua.StatusCodes.BadAggregateListMismatch


async def test_the_request_configuration_applies(rig: OpcRig, client: Client) -> None:
    details = _details(Aggregate.AVERAGE.node_number, _at("12:01:04"), _at("12:01:20"), 16_000.0)
    lenient = await _read(client, rig.node_id("plc.temp"), details)
    details.AggregateConfiguration = ua.AggregateConfiguration(
        UseServerCapabilitiesDefaults=False,
        TreatUncertainAsBad=True,
        PercentDataBad=100,
        PercentDataGood=100,
    )
    strict = await _read(client, rig.node_id("plc.temp"), details)
    assert lenient.HistoryData.DataValues[0].Value.Value == 70.0
    assert strict.HistoryData.DataValues[0].StatusCode.value == ua.StatusCodes.BadNoData
    details.AggregateConfiguration.PercentDataBad = 10
    details.AggregateConfiguration.PercentDataGood = 10
    rejected = await _read(client, rig.node_id("plc.temp"), details)
    assert rejected.StatusCode.value == ua.StatusCodes.BadAggregateConfigurationRejected


async def test_the_server_lists_the_aggregates_it_computes(client: Client) -> None:
    expected = {a.browse_name for a in Aggregate}
    for folder in (
        ua.ObjectIds.Server_ServerCapabilities_AggregateFunctions,
        ua.ObjectIds.HistoryServerCapabilities_AggregateFunctions,
    ):
        children = await client.get_node(ua.NodeId(folder)).get_children()
        names = {(await child.read_browse_name()).Name for child in children}
        assert names == expected
    access = client.get_node(
        ua.NodeId(ua.ObjectIds.HistoryServerCapabilities_AccessHistoryDataCapability)
    )
    assert await access.read_value() is True


async def test_a_range_without_data_is_good_no_data(rig: OpcRig, client: Client) -> None:
    details = _details(Aggregate.AVERAGE.node_number, _at("10:00:00"), _at("11:00:00"), 600_000.0)
    result = await _read(client, rig.node_id("plc.temp"), details)
    assert result.StatusCode.value == ua.StatusCodes.GoodNoData
    values = result.HistoryData.DataValues
    assert len(values) == 6
    assert all(v.StatusCode.value == ua.StatusCodes.BadNoData for v in values)
