"""Interop: node-opcua (an independent OPC UA stack, in Node.js) against the gateway's server.

The other OPC UA tests use asyncua on both sides, so a mistake asyncua makes
symmetrically would pass them. Here tests/interop/node-opcua/client.mjs, a
long-lived Node process speaking JSON lines, connects over the secured
endpoint (Basic256Sha256, SignAndEncrypt, user name and password, its own
certificate trusted in the gateway's pki/trusted) and over the None endpoint,
browses, reads, subscribes, writes and reads history. The npm packages are
installed once into tests/interop/node-opcua/node_modules (`npm ci`, lock
file pinned). Without node and npm the test skips on a laptop and fails in
CI (the CI env var), like the mbpoll interop test.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from gatewaykit import PLC_POINTS, plc_device
from npmkit import INTEROP, node_with_packages
from opcuakit import OpcRig, opc_rig, until

pytestmark = pytest.mark.asyncio(loop_scope="module")

PROJECT = INTEROP / "node-opcua"
#: Seconds one request to the Node client may take (a secured connect is the slowest).
REQUEST_TIMEOUT = 30.0

#: The application URI of node-opcua clients whose certificate the gateway does not trust.
UNTRUSTED_URI = "urn:test:node-opcua-untrusted"

SECURED: dict[str, Any] = {
    "endpoint": "opc.tcp://127.0.0.1:0",
    "namespace": "urn:test:gateway",
    "security": {
        "allow_none": True,
        "policies": ["Basic256Sha256"],
        "modes": ["SignAndEncrypt"],
    },
    "users": [
        {"name": "op", "password": "op-secret", "role": "operator"},
        {"name": "view", "password": "view-secret", "role": "viewer"},
    ],
}


@pytest.fixture(scope="module")
def node() -> str:
    """The node executable, with client.mjs's packages installed (`npm ci`, once)."""
    return node_with_packages(PROJECT)


class NodeClientError(Exception):
    """A request the Node client answered with ok=false (the message is node-opcua's)."""


class NodeClient:
    """One client.mjs process: `await call(op, **arguments)` → its result."""

    def __init__(self, process: asyncio.subprocess.Process, stderr: Path) -> None:
        self._process = process
        self._stderr = stderr
        self._next = 1

    def _log(self) -> str:
        return self._stderr.read_text(errors="replace")[-4000:]

    async def receive(self) -> dict[str, Any]:
        assert self._process.stdout is not None
        try:
            line = await asyncio.wait_for(self._process.stdout.readline(), REQUEST_TIMEOUT)
        except TimeoutError:
            pytest.fail(f"the node-opcua client did not answer; its log:\n{self._log()}")
        if not line:
            pytest.fail(f"the node-opcua client exited; its log:\n{self._log()}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def call(self, op: str, **arguments: Any) -> Any:
        assert self._process.stdin is not None
        request = {"id": self._next, "op": op, **arguments}
        self._next += 1
        self._process.stdin.write(json.dumps(request).encode() + b"\n")
        await self._process.stdin.drain()
        answer = await self.receive()
        assert answer["id"] == request["id"], answer
        if not answer["ok"]:
            raise NodeClientError(answer["error"])
        return answer["result"]


@asynccontextmanager
async def node_client(node: str, log: Path) -> AsyncIterator[NodeClient]:
    with log.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            node,
            str(PROJECT / "client.mjs"),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )
        client = NodeClient(process, log)
        try:
            hello = await client.receive()
            assert hello["ok"], hello
            yield client
        finally:
            assert process.stdin is not None
            process.stdin.close()  # the client disconnects and exits at end of input
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()


#: One alarm of each Part 9 type the gateway serves (none trips during the tests).
NODE_ALARMS: list[dict[str, Any]] = [
    {"name": "temp_high", "tag": "plc.temp", "high": 80},
    {"name": "temp_jump", "tag": "plc.temp", "rate_of_change": {"per": "1s", "limit": 1000}},
    {"name": "temp_off_sp", "tag": "plc.temp", "deviation": {"from": "plc.setpoint", "limit": 90}},
    {"name": "flow_frozen", "tag": "plc.flow", "stale": "1h"},
]


class Rig:
    """The gateway under test, its PKI folder and when it started (history reads from it)."""

    def __init__(self, opc: OpcRig, pki: Path, started: float) -> None:
        self.opc = opc
        self.pki = pki
        self.started = started

    def node_id(self, identifier: str) -> str:
        return f"ns={self.opc.ns};s={identifier}"


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory, node: str) -> AsyncIterator[Rig]:
    root = tmp_path_factory.mktemp("node-interop")
    storage = {"url": f"sqlite:///{root / 'history.db'}", "flush_interval": "50ms"}
    started = time.time()
    async with opc_rig(
        {"plc": PLC_POINTS},
        lambda r: [plc_device(r)],
        root / "pki",
        opcua=SECURED,
        storage=storage,
        alarms=NODE_ALARMS,
    ) as opc:
        yield Rig(opc, root / "pki", started)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def operator(
    rig: Rig, node: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[NodeClient]:
    """node-opcua as `op` over Basic256Sha256 SignAndEncrypt; certificates trusted both ways."""
    folder = tmp_path_factory.mktemp("node-opcua")
    async with node_client(node, folder / "client.log") as client:
        made = await client.call(
            "certificate", pki=str(folder / "pki"), applicationUri="urn:test:node-opcua-interop"
        )
        shutil.copy(made["certificate"], rig.pki / "trusted" / "node-opcua.pem")
        await client.call("trust", file=str(rig.pki / "own" / "cert.der"))
        endpoint = await client.call(
            "connect",
            url=rig.opc.url,
            policy="Basic256Sha256",
            mode="SignAndEncrypt",
            user="op",
            password="op-secret",
        )
        assert endpoint == {
            "securityPolicyUri": "http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256",
            "securityMode": "SignAndEncrypt",
        }
        yield client


@pytest.fixture(scope="module")
def untrusted_pki(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One PKI folder for every client the gateway does not trust (key made once)."""
    return str(tmp_path_factory.mktemp("node-opcua-untrusted") / "pki")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def viewer(
    rig: Rig, node: str, untrusted_pki: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[NodeClient]:
    """node-opcua as `view` over the None endpoint (allow_none).

    node-opcua sends its certificate in CreateSession even on a None channel,
    where the server must ignore it: this one is not in the gateway's trust list.
    """
    folder = tmp_path_factory.mktemp("node-opcua-none")
    async with node_client(node, folder / "client.log") as client:
        await client.call("certificate", pki=untrusted_pki, applicationUri=UNTRUSTED_URI)
        await client.call(
            "connect",
            url=rig.opc.url,
            policy="None",
            mode="None",
            user="view",
            password="view-secret",
        )
        yield client


async def test_browse_gateway_tree(rig: Rig, operator: NodeClient) -> None:
    objects = await operator.call("browse", nodeId="i=85")
    [root] = [r for r in objects if r["nodeId"] == rig.node_id("test")]
    assert root["nodeClass"] == "Object"
    assert root["browseName"] == f"{rig.opc.ns}:test"
    under_root = await operator.call("browse", nodeId=root["nodeId"])
    [devices] = [r for r in under_root if r["browseName"] == f"{rig.opc.ns}:Devices"]
    assert devices["nodeId"] == rig.node_id("Devices")
    [plc] = await operator.call("browse", nodeId=devices["nodeId"])
    assert plc["nodeId"] == rig.node_id("plc")
    children = {r["nodeId"]: r for r in await operator.call("browse", nodeId=plc["nodeId"])}
    tags = {"temp", "flow", "run", "fault", "ready", "setpoint", "mode", "label", "level", "pump"}
    assert {rig.node_id(f"plc.{tag}") for tag in tags} <= set(children)
    assert children[rig.node_id("plc.temp")]["nodeClass"] == "Variable"
    assert children[rig.node_id("plc.setpoint")]["typeDefinition"] == "ns=0;i=2368"  # AnalogItem
    assert children[rig.node_id("plc.temp")]["typeDefinition"] == "ns=0;i=15318"  # BaseAnalog


async def test_read_value_datatype_and_eurange(rig: Rig, operator: NodeClient) -> None:
    async def polled() -> Any:
        read = await operator.call("read", nodeId=rig.node_id("plc.setpoint"))
        return read if read["value"]["statusCode"] == "Good" else None

    read = await until(polled, message="plc.setpoint Good at node-opcua")
    assert read["value"]["value"] == 50.0
    assert read["value"]["dataType"] == "Float"
    assert read["dataType"] == "ns=0;i=10"  # Float
    assert read["historizing"] is True
    assert read["accessLevel"] & 0b111 == 0b111  # CurrentRead | CurrentWrite | HistoryRead
    properties = await operator.call("eurange", nodeId=rig.node_id("plc.setpoint"))
    assert properties["euRange"]["statusCode"] == "Good"
    assert properties["euRange"]["value"] == {"low": 0, "high": 100}
    units = await operator.call("eurange", nodeId=rig.node_id("plc.temp"))
    assert units["engineeringUnits"]["value"]["displayName"]["text"] == "°C"
    mode = await operator.call("read", nodeId=rig.node_id("plc.mode"))
    assert mode["dataType"] == "ns=0;i=5"  # UInt16


async def test_subscription_receives_register_change(rig: Rig, operator: NodeClient) -> None:
    await operator.call("subscribe", nodeId=rig.node_id("plc.level"), handle="level")
    first = await operator.call("changes", handle="level", value=7.0)
    assert first["found"], first
    rig.opc.plant.slave("plc").unit(1).set("level", 9.5)
    seen = await operator.call("changes", handle="level", value=9.5)
    assert seen["found"], seen
    [change] = [c for c in seen["changes"] if c["value"] == 9.5]
    assert change["statusCode"] == "Good"
    assert change["dataType"] == "Float"
    assert change["sourceTimestamp"] is not None


async def test_write_reaches_the_plc(rig: Rig, operator: NodeClient) -> None:
    unit = rig.opc.plant.slave("plc").unit(1)
    node_id = rig.node_id("plc.setpoint")
    written = await operator.call("write", nodeId=node_id, dataType="Float", value=42.5)
    assert written == {"statusCode": "Good"}
    assert unit.get("setpoint") == 42.5
    out_of_range = await operator.call("write", nodeId=node_id, dataType="Float", value=250.0)
    assert out_of_range == {"statusCode": "BadOutOfRange"}
    wrong_type = await operator.call("write", nodeId=node_id, dataType="String", value="x")
    assert wrong_type == {"statusCode": "BadTypeMismatch"}
    read_only = await operator.call(
        "write", nodeId=rig.node_id("plc.level"), dataType="Float", value=1.0
    )
    assert read_only["statusCode"] in ("BadNotWritable", "BadUserAccessDenied")
    assert unit.get("setpoint") == 42.5


async def test_viewer_on_none_endpoint_reads_but_cannot_write(rig: Rig, viewer: NodeClient) -> None:
    read = await viewer.call("read", nodeId=rig.node_id("plc.setpoint"))
    assert read["value"]["statusCode"] == "Good"
    assert read["userAccessLevel"] & 0b10 == 0  # no CurrentWrite for a viewer
    denied = await viewer.call(
        "write", nodeId=rig.node_id("plc.setpoint"), dataType="Float", value=10.0
    )
    assert denied == {"statusCode": "BadUserAccessDenied"}
    assert rig.opc.plant.slave("plc").unit(1).get("setpoint") != 10.0


async def test_untrusted_certificate_is_refused_on_the_secured_endpoint(
    rig: Rig, node: str, untrusted_pki: str, tmp_path: Path
) -> None:
    async with node_client(node, tmp_path / "client.log") as client:
        made = await client.call("certificate", pki=untrusted_pki, applicationUri=UNTRUSTED_URI)
        await client.call("trust", file=str(rig.pki / "own" / "cert.der"))
        # Refused when it opens the secure channel (OPC 10000-6 §6.7.6: an ERR message
        # with Bad_SecurityChecksFailed, then the socket closes; node-opcua reports that).
        with pytest.raises(NodeClientError, match="rejected by server"):
            await client.call(
                "connect",
                url=rig.opc.url,
                policy="Basic256Sha256",
                mode="SignAndEncrypt",
                user="op",
                password="op-secret",
            )
    pem = await asyncio.to_thread(Path(made["certificate"]).read_bytes)
    der = x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)
    rejected = await asyncio.to_thread(lambda: [p.read_bytes() for p in rig.pki.glob("rejected/*")])
    assert der in rejected


async def test_wrong_password_is_rejected(
    rig: Rig, node: str, untrusted_pki: str, tmp_path: Path
) -> None:
    async with node_client(node, tmp_path / "client.log") as client:
        await client.call("certificate", pki=untrusted_pki, applicationUri=UNTRUSTED_URI)
        with pytest.raises(NodeClientError, match="BadUserAccessDenied"):
            await client.call(
                "connect", url=rig.opc.url, policy="None", mode="None", user="view", password="no"
            )


async def test_history_read_raw_with_continuation(rig: Rig, operator: NodeClient) -> None:
    unit = rig.opc.plant.slave("plc").unit(1)
    for mode in (2, 3, 4):
        unit.set("mode", mode)

        async def changed(expected: int = mode) -> bool:
            read = await operator.call("read", nodeId=rig.node_id("plc.mode"))
            return bool(read["value"]["value"] == expected)

        await until(changed, message=f"mode {mode}")
    start = datetime.fromtimestamp(rig.started, UTC).isoformat()

    async def stored() -> Any:
        history = await operator.call(
            "history", nodeId=rig.node_id("plc.mode"), start=start, count=2
        )
        good = [
            v["value"] for p in history["pages"] for v in p["values"] if v["statusCode"] == "Good"
        ]
        return history if good[-1:] == [4] else None

    history = await until(stored, message="history of plc.mode flushed")
    pages = history["pages"]
    assert all(page["statusCode"] == "Good" for page in pages)
    assert all(len(page["values"]) <= 2 for page in pages)
    assert len(pages) >= 2
    values = [v for page in pages for v in page["values"] if v["statusCode"] == "Good"]
    assert [v["value"] for v in values] == [1, 2, 3, 4]
    assert all(v["dataType"] == "UInt16" for v in values)
    stamps = [v["sourceTimestamp"] for v in values]
    assert stamps == sorted(stamps)
    # Newest first (EndTime before StartTime), with bounds: none exist beyond either end.
    later = datetime.fromtimestamp(round(time.time() + 60), UTC)
    reverse = await operator.call(
        "history", nodeId=rig.node_id("plc.mode"), start=later.isoformat(), end=start, bounds=True
    )
    [page] = reverse["pages"]
    first, *inside, last = page["values"]
    assert first["statusCode"] == last["statusCode"] == "BadBoundNotFound"
    assert first["value"] is None
    assert datetime.fromisoformat(first["sourceTimestamp"]) == later  # stamped with StartTime
    good = [v["value"] for v in inside if v["statusCode"] == "Good"]
    assert good == [4, 3, 2, 1]


async def test_condition_types_shelving_and_enable_with_node_opcua(
    rig: Rig, operator: NodeClient, viewer: NodeClient
) -> None:
    conditions = await operator.call("browse", nodeId=rig.node_id("Alarms"))
    types = {c["browseName"].split(":")[-1]: c["typeDefinition"] for c in conditions}
    assert types == {
        "temp_high": "ns=0;i=9341",  # ExclusiveLimitAlarmType
        "temp_jump": "ns=0;i=9623",  # ExclusiveRateOfChangeAlarmType
        "temp_off_sp": "ns=0;i=9764",  # ExclusiveDeviationAlarmType
        "flow_frozen": "ns=0;i=10637",  # OffNormalAlarmType
    }
    condition = rig.node_id("Alarms.temp_high")
    shelving = rig.node_id("Alarms.temp_high.ShelvingState")
    members = {m["browseName"] for m in await operator.call("browse", nodeId=shelving)}
    assert {"TimedShelve", "OneShotShelve", "Unshelve"} <= members

    async def becomes(identifier: str, expected: bool) -> None:
        """The member's value, written after the call returns, becomes `expected`."""

        async def read() -> bool:
            value = await operator.call("read", nodeId=rig.node_id(identifier))
            return bool(value["value"]["value"] is expected)

        await until(read, message=f"{identifier} {expected}")

    one_minute = [{"dataType": "Double", "value": 60000.0}]
    assert await viewer.call("call", objectId=shelving, methodId="i=9212") == (
        "BadUserAccessDenied"
    )
    assert (
        await operator.call("call", objectId=shelving, methodId="i=9213", inputArguments=one_minute)
        == "Good"
    )
    await becomes("Alarms.temp_high.SuppressedOrShelved", True)
    assert await operator.call("call", objectId=shelving, methodId="i=9212") == (
        "BadConditionAlreadyShelved"
    )
    assert await operator.call("call", objectId=shelving, methodId="i=9211") == "Good"
    await becomes("Alarms.temp_high.SuppressedOrShelved", False)
    assert await operator.call("call", objectId=shelving, methodId="i=9211") == (
        "BadConditionNotShelved"
    )
    assert await operator.call("call", objectId=condition, methodId="i=9028") == "Good"
    await becomes("Alarms.temp_high.EnabledState.Id", False)
    assert await operator.call("call", objectId=condition, methodId="i=9027") == "Good"
    await becomes("Alarms.temp_high.EnabledState.Id", True)


async def test_history_read_processed_with_continuation(rig: Rig, operator: NodeClient) -> None:
    """Part 13 aggregates through node-opcua: values, pages, a refused aggregate, the list."""
    unit = rig.opc.plant.slave("plc").unit(1)
    unit.set("mode", 9)
    start = datetime.fromtimestamp(rig.started, UTC).isoformat()

    async def stored() -> bool:
        history = await operator.call("history", nodeId=rig.node_id("plc.mode"), start=start)
        return any(v["value"] == 9 for p in history["pages"] for v in p["values"])

    await until(stored, message="history of plc.mode flushed")
    end = datetime.fromtimestamp(time.time() + 1, UTC).isoformat()
    maximum = await operator.call(
        "processed",
        nodeId=rig.node_id("plc.mode"),
        start=start,
        end=end,
        aggregate="ns=0;i=2347",  # Maximum
        intervalMs=0,
    )
    [page] = maximum["pages"]
    [value] = page["values"]
    assert page["statusCode"] == "Good"
    assert value["value"] >= 9
    assert value["dataType"] == "UInt16"  # Maximum keeps the source's type
    stamped = datetime.fromisoformat(value["sourceTimestamp"]).timestamp()
    assert abs(stamped - rig.started) < 0.001  # the interval's start (JavaScript: ms)
    # 5,000 intervals per call: 5,200 one-millisecond intervals take two pages.
    begin = float(int(rig.started))  # whole seconds: JavaScript dates hold milliseconds
    paged = await operator.call(
        "processed",
        nodeId=rig.node_id("plc.mode"),
        start=datetime.fromtimestamp(begin, UTC).isoformat(),
        end=datetime.fromtimestamp(begin + 5.2, UTC).isoformat(),
        aggregate="ns=0;i=2341",  # Interpolative
        intervalMs=1,
        brief=True,
    )
    assert [p["count"] for p in paged["pages"]] == [5000, 200]
    refused = await operator.call(
        "processed",
        nodeId=rig.node_id("plc.mode"),
        start=start,
        end=end,
        aggregate="ns=0;i=2355",  # NumberOfTransitions: not computed here
        intervalMs=0,
    )
    assert refused["pages"][0]["statusCode"] == "BadAggregateNotSupported"
    listed = await operator.call("browse", nodeId="ns=0;i=2997")
    assert {r["browseName"] for r in listed} >= {"Average", "Count", "Maximum", "TimeAverage"}
