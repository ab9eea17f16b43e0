"""asyncua's standard address space read from a file (gateway/opcua/stack/shelf.py).

A gateway whose standard nodes come from the file answers a real asyncua
client as one holding them in memory does, its own nodes never reach the
file, and every way the file can be missing, foreign, stale or unwritable
ends in a server built in memory, never in a failed start.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from asyncua import Client, ua
from gatewaykit import PLC_POINTS, plc_device
from opcuakit import OpcRig, connect, opc_rig, until

from gateway.opcua.guards import ServerLimits
from gateway.opcua.stack import StackServer, gate
from gateway.opcua.stack.shelf import ENV_SWITCH, STALE_AFTER, ShelfPlace

pytestmark = pytest.mark.asyncio(loop_scope="module")

OID = ua.ObjectIds
ALARMS: list[dict[str, Any]] = [
    {"name": "temp_high", "tag": "plc.temp", "high": 80, "severity": 700},
    {"name": "plc_fault", "tag": "plc.fault", "equals": True, "severity": 900},
]
#: Standard nodes the gateway's nodes and alarms refer to, and the server's own.
STANDARD_NODES = [
    OID.RootFolder,
    OID.ObjectsFolder,
    OID.TypesFolder,
    OID.Server,
    OID.Server_ServerStatus,
    OID.Server_ServerStatus_State,
    OID.Server_ServerCapabilities,
    OID.Server_ServerCapabilities_OperationLimits,
    OID.Server_ServerCapabilities_OperationLimits_MaxNodesPerRead,
    OID.Server_NamespaceArray,
    OID.BaseObjectType,
    OID.FolderType,
    OID.BaseDataVariableType,
    OID.PropertyType,
    OID.EUInformation,
    OID.Range,
    OID.Float,
    OID.HasComponent,
    OID.HierarchicalReferences,
    OID.ConditionType,
    OID.AlarmConditionType,
    OID.ExclusiveLimitAlarmType,
    OID.OffNormalAlarmType,
    OID.ExclusiveLimitStateMachineType,
    OID.AcknowledgeableConditionType_Acknowledge,
]
#: Attributes every node has; value-less, so equal on two servers started apart.
ATTRIBUTES = [
    ua.AttributeIds.NodeClass,
    ua.AttributeIds.BrowseName,
    ua.AttributeIds.DisplayName,
    ua.AttributeIds.Description,
]


def _limits() -> ServerLimits:
    return ServerLimits()


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


async def _init(shelf: Path | None) -> StackServer:
    server = StackServer(limits=_limits())
    await server.init(
        name="shelf test",
        application_uri="urn:test:shelf",
        product_uri="urn:test",
        manufacturer="test",
        version="1",
        built=datetime(2026, 1, 1, tzinfo=UTC),
        shelf=shelf,
    )
    return server


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache") / "modbus-opcua-gateway"


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def written(cache: Path) -> Path:
    """The file a first start wrote (that start served from memory)."""
    server = await _init(cache)
    assert server.shelved is None
    path = ShelfPlace(cache).path
    assert path.is_file()
    return path


@contextmanager
def _rig_environment(cache: Path | None) -> Iterator[None]:
    """The gateway's OPC UA server reads its shelf from `cache`, or (None) from no file."""
    if cache is None:
        with _environment(**{ENV_SWITCH: "0"}):
            yield
    else:
        with _environment(XDG_CACHE_HOME=str(cache.parent), **{ENV_SWITCH: "1"}):
            yield


def _devices(running: Any) -> list[dict[str, Any]]:
    return [plc_device(running)]


@asynccontextmanager
async def _served(pki: Path, cache: Path | None) -> AsyncIterator[OpcRig]:
    """The gateway's OPC UA server on a plant, its standard nodes from `cache` (or memory)."""
    with _rig_environment(cache):
        rig = opc_rig({"plc": PLC_POINTS}, _devices, pki, alarms=ALARMS)
        running = await rig.__aenter__()
    try:
        yield running
    finally:
        await rig.__aexit__(None, None, None)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def shelved(
    written: Path, cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[OpcRig]:
    async with _served(tmp_path_factory.mktemp("shelved") / "pki", cache) as rig:
        yield rig


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def in_memory(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[OpcRig]:
    async with _served(tmp_path_factory.mktemp("in_memory") / "pki", None) as rig:
        yield rig


def _stack(rig: OpcRig) -> StackServer:
    server = rig.server.server
    assert server is not None
    return server


async def _describe(client: Client, identifier: int) -> tuple[Any, ...]:
    """A standard node's attributes and references, in a comparable form."""
    node = client.get_node(ua.NodeId(identifier))
    values = await node.read_attributes(ATTRIBUTES)
    references = await node.get_references(ua.ObjectIds.References, ua.BrowseDirection.Both)
    return (
        [(value.StatusCode.value, value.Value) for value in values],
        sorted(
            (r.ReferenceTypeId.to_string(), r.IsForward, r.NodeId.to_string(), r.BrowseName.Name)
            for r in references
        ),
    )


async def test_the_gateway_reads_its_standard_nodes_from_the_file(
    shelved: OpcRig, in_memory: OpcRig
) -> None:
    nodes = _stack(shelved).shelved
    assert nodes is not None
    assert nodes.path == ShelfPlace(nodes.path.parent).path
    assert 0 < nodes.loaded < 1000  # of about 6,000 standard nodes
    assert _stack(in_memory).shelved is None


async def test_standard_nodes_browse_and_read_as_from_memory(
    shelved: OpcRig, in_memory: OpcRig
) -> None:
    async with connect(shelved.url) as from_file, connect(in_memory.url) as from_memory:
        for identifier in STANDARD_NODES:
            described = await _describe(from_file, identifier)
            assert described == await _describe(from_memory, identifier), identifier
            assert described[1], f"{identifier} has references"


async def test_standard_values_written_at_runtime_stay_current(shelved: OpcRig) -> None:
    limits = _stack(shelved).limits
    async with connect(shelved.url) as client:
        namespaces = await client.get_node(ua.NodeId(OID.Server_NamespaceArray)).read_value()
        assert namespaces[shelved.ns] == "urn:test:gateway"
        state = await client.get_node(ua.NodeId(OID.Server_ServerStatus_State)).read_value()
        assert state == ua.ServerState.Running
        limit = ua.NodeId(OID.Server_ServerCapabilities_OperationLimits_MaxNodesPerRead)
        assert await client.get_node(limit).read_value() == limits.max_nodes_per_read
        product = ua.NodeId(OID.Server_ServerStatus_BuildInfo_ProductName)
        assert (await client.get_node(product).read_value()).startswith("Modbus OPC UA gateway")
        clock = client.get_node(ua.NodeId(OID.Server_ServerStatus_CurrentTime))
        first = await clock.read_value()

        async def ticked() -> bool:
            return bool(await clock.read_value() > first)

        await until(ticked, message="ServerStatus/CurrentTime advances")


class _Changes:
    def __init__(self) -> None:
        self.values: list[Any] = []

    def datachange_notification(self, node: Any, value: Any, data: Any) -> None:
        self.values.append(value)


async def _own_traffic(rig: OpcRig, client: Client, setpoint: float) -> None:
    """What clients do with the gateway's nodes: browse, read, write, subscribe."""
    plc = client.get_node(rig.node_id("plc"))
    for child in await plc.get_children():
        await child.read_browse_name()
    temp = client.get_node(rig.node_id("plc.temp"))
    await temp.read_value()
    await temp.read_data_type()
    await client.get_node(rig.node_id("plc.temp.EngineeringUnits")).read_value()
    [code] = await client.uaclient.write_attributes(
        [rig.node_id("plc.setpoint")], [ua.DataValue(ua.Variant(setpoint, ua.VariantType.Float))]
    )
    assert code.is_good()
    changes = _Changes()
    subscription = await client.create_subscription(20, changes)
    try:
        await subscription.subscribe_data_change(client.get_node(rig.node_id("plc.setpoint")))

        async def arrived() -> bool:
            return setpoint in changes.values

        await until(arrived, message="the written setpoint notified")
    finally:
        await subscription.delete()


async def test_the_gateways_own_nodes_never_reach_the_file(shelved: OpcRig) -> None:
    nodes = _stack(shelved).shelved
    assert nodes is not None
    async with connect(shelved.url, user="op", password="op-secret") as client:
        await _own_traffic(shelved, client, 41.5)  # may read reference types, once
        reads = nodes.reads
        await _own_traffic(shelved, client, 42.5)
        assert nodes.reads == reads
    assert nodes.get(ua.NodeId("no.such.node", shelved.ns)) is None
    assert ua.NodeId(12345678, shelved.ns) not in nodes
    assert nodes.reads == reads


async def test_a_standard_node_is_read_from_the_file_once(shelved: OpcRig) -> None:
    nodes = _stack(shelved).shelved
    assert nodes is not None
    rarely_used = ua.NodeId(OID.AuditHistoryValueUpdateEventType)
    assert not dict.__contains__(nodes, rarely_used)
    async with connect(shelved.url) as client:
        name = await client.get_node(rarely_used).read_browse_name()
        assert name.Name == "AuditHistoryValueUpdateEventType"
        reads = nodes.reads
        await client.get_node(rarely_used).read_display_name()
        assert nodes.reads == reads


# -- where the file lives and what goes wrong with it ------------------------------------


def _inode_and_mode(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_ino, info.st_mode


async def test_the_next_start_reads_the_file_without_rebuilding(written: Path) -> None:
    before = _inode_and_mode(written)
    server = await _init(written.parent)
    assert server.shelved is not None
    assert _inode_and_mode(written) == before
    assert before[1] & 0o077 == 0  # private to the user
    assert server.has_node(ua.NodeId(OID.Server_ServerStatus))


async def test_an_unwritable_directory_keeps_the_nodes_in_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    with caplog.at_level(logging.WARNING, logger="gateway.opcua.stack.shelf"):
        server = await _init(blocker / "cache")
    assert server.shelved is None
    assert server.has_node(ua.NodeId(OID.Server_ServerStatus))
    assert "standard nodes kept in memory" in caplog.text


async def test_a_failed_write_leaves_no_file_behind(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "cache"
    ShelfPlace(directory).path.mkdir(parents=True)  # the rename fails: a directory is there
    directory.chmod(0o700)
    with caplog.at_level(logging.WARNING, logger="gateway.opcua.stack.shelf"):
        server = await _init(directory)
    assert server.shelved is None
    assert "standard nodes kept in memory" in caplog.text
    assert [p.name for p in directory.iterdir()] == [ShelfPlace(directory).path.name]


async def test_a_directory_others_can_write_is_never_read(
    written: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shutil.copy(written, shared / written.name)
    shared.chmod(0o777)  # anyone could have put a pickle there
    with caplog.at_level(logging.WARNING, logger="gateway.opcua.stack.shelf"):
        server = await _init(shared)
    assert server.shelved is None
    assert "not a directory only this user can write" in caplog.text


def _private_copy(written: Path, directory: Path) -> Path:
    """`written` copied into a new folder of this user's alone, as the gateway writes it."""
    directory.mkdir(mode=0o700)
    copy = directory / written.name
    shutil.copy(written, copy)
    copy.chmod(0o600)
    return copy


async def test_a_damaged_file_is_replaced(written: Path, tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    directory.mkdir(mode=0o700)
    damaged = directory / written.name
    damaged.write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)
    damaged.chmod(0o600)
    assert (await _init(directory)).shelved is None
    assert (await _init(directory)).shelved is not None


async def test_a_file_with_one_damaged_node_is_built_again(
    written: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A node row changed on disk (a bad block) is caught at open, not at its first read."""
    directory = tmp_path / "cache"
    damaged = _private_copy(written, directory)
    with sqlite3.connect(damaged) as connection:
        connection.execute("UPDATE nodes SET node = x'00' WHERE id = 'i=2255'")  # NamespaceArray
    connection.close()
    assert (await _init(directory)).shelved is None  # built in memory, the start went on
    assert "is damaged" in caplog.text
    assert (await _init(directory)).shelved is not None  # and the file written again


async def test_a_file_below_a_folder_others_can_write_is_not_used(
    written: Path, tmp_path: Path
) -> None:
    """Another user could rename the folder and put their own pickles in its place."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # writable by all, not sticky
    directory = shared / "cache"
    _private_copy(written, directory)
    assert not ShelfPlace(directory).path.is_symlink()
    assert ShelfPlace(directory).open() is None
    shared.chmod(0o1777)  # sticky, as /tmp: nobody renames what another user owns
    opened = ShelfPlace(directory).open()
    assert opened is not None
    opened.close()


async def test_an_asyncua_upgrade_writes_a_new_file_and_removes_the_old(
    written: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "cache"
    old = _private_copy(written, directory)
    assert (await _init(directory)).shelved is not None
    monkeypatch.setattr(gate, "INSTALLED", gate.INSTALLED + ".post1")
    new = ShelfPlace(directory).path
    assert new != old
    assert (await _init(directory)).shelved is None  # built, and written for the next start
    # The old version's file stays while it is used (another install under this user) …
    assert sorted(directory.iterdir()) == sorted([new, old])
    # … and goes, with a crashed writer's temporary file, once unused for long.
    crashed = directory / f".{old.name}.tmp"
    crashed.write_bytes(b"half a file")
    month_ago = time.time() - STALE_AFTER - 3600
    os.utime(old, (month_ago, month_ago))
    os.utime(crashed, (month_ago, month_ago))
    new.unlink()
    assert (await _init(directory)).shelved is None
    assert sorted(directory.iterdir()) == [new]
    with sqlite3.connect(new) as connection:
        identity = dict(connection.execute("SELECT key, value FROM identity"))
    assert identity["asyncua"] == gate.INSTALLED
    assert (await _init(directory)).shelved is not None


async def test_a_file_of_another_asyncua_under_the_current_name_is_not_used(
    written: Path, tmp_path: Path
) -> None:
    directory = tmp_path / "cache"
    foreign = _private_copy(written, directory)
    with sqlite3.connect(foreign) as connection:
        connection.execute("UPDATE identity SET value = '2.0.9' WHERE key = 'asyncua'")
    assert (await _init(directory)).shelved is None
    assert (await _init(directory)).shelved is not None


_START = """
import asyncio, sys
from datetime import UTC, datetime
from pathlib import Path
from gateway.opcua.guards import ServerLimits
from gateway.opcua.stack import StackServer

async def main():
    server = StackServer(limits=ServerLimits())
    await server.init(name="n", application_uri="urn:n", product_uri="urn:p", manufacturer="m",
                      version="1", built=datetime.now(UTC), shelf=Path(sys.argv[1]))
    print("shelved" if server.shelved is not None else "built")

asyncio.run(main())
"""


async def test_gateways_starting_at_once_share_one_whole_file(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    starts = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", _START, str(directory), stdout=subprocess.PIPE
        )
        for _ in range(3)
    ]
    outputs = [await start.communicate() for start in starts]
    assert [start.returncode for start in starts] == [0, 0, 0]
    assert all(out.strip() in (b"built", b"shelved") for out, _ in outputs)
    assert [p.name for p in directory.iterdir()] == [ShelfPlace(directory).path.name]
    server = await _init(directory)
    assert server.shelved is not None
    assert server.has_node(ua.NodeId(OID.ExclusiveLimitAlarmType))
