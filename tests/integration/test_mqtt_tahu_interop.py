"""Interop: Eclipse Tahu's JavaScript decoder (npm sparkplug-payload) and MQTT.js subscribe.

Our own tests decode with our own schema, so a mistake made on both sides
would pass them. Here tests/interop/sparkplug-payload/subscriber.mjs, an
independent subscriber, receives the edge node's messages from a private
Mosquitto and decodes them with Tahu's library; every payload must decode,
Tahu's encoding of what it decoded must equal our bytes exactly, and its
names, aliases, types and values must be ours. The npm packages are
installed once (`npm ci`, lock file pinned). Without node and npm the test
skips on a laptop and fails in CI (the CI env var).
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest
from gatewaykit import PLC_POINTS, PLC_TAGS, plc_device
from mqttkit import mosquitto, mqtt_rig
from npmkit import INTEROP, node_with_packages

from gateway.mqtt.sparkplug import MetricType, decode_payload

PROJECT = INTEROP / "sparkplug-payload"
TIMEOUT = 30.0
#: Tahu's names of the datatypes.
TAHU_TYPES = {
    kind: kind.name.title().replace("Uint", "UInt").replace("Datetime", "DateTime")
    for kind in MetricType
}


@pytest.fixture(scope="module")
def node() -> str:
    """The node executable, with subscriber.mjs's packages installed (`npm ci`, once)."""
    return node_with_packages(PROJECT)


async def _line(process: asyncio.subprocess.Process) -> dict[str, Any]:
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), TIMEOUT)
    if not line:
        pytest.fail("the Tahu subscriber exited")
    decoded: dict[str, Any] = json.loads(line)
    return decoded


def _tahu_value(metric: dict[str, Any]) -> Any:
    value = metric["value"]
    if metric["type"] in ("Int64", "UInt64", "UInt32", "DateTime") and isinstance(value, str):
        return int(value)
    return value


async def test_tahu_decodes_every_message_byte_for_byte(node: str, tmp_path: Path) -> None:
    with mosquitto(tmp_path) as broker:
        process = await asyncio.create_subprocess_exec(
            node,
            str(PROJECT / "subscriber.mjs"),
            broker.url,
            "spBv1.0/tahu/#",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            assert (await _line(process)) == {"subscribed": "spBv1.0/tahu/#"}
            settings = {"servers": [broker.url], "sparkplug": {"group": "tahu"}}
            received: list[dict[str, Any]] = []
            async with mqtt_rig(
                {"plc": PLC_POINTS}, lambda r: [plc_device(r)], settings, tmp_path
            ) as rig:
                while len(received) < 2:  # NBIRTH, DBIRTH
                    received.append(await _line(process))
                rig.plant.slave("plc").unit(1).set("mode", 3)
                rig.plant.slave("plc").unit(1).set("level", -2.5)
                deadline = time.monotonic() + TIMEOUT
                while not any("DDATA" in m["topic"] for m in received):
                    assert time.monotonic() < deadline, "no DDATA"
                    received.append(await _line(process))
            received.append(await _line(process))  # the NDEATH before the disconnect
        finally:
            process.kill()
            await process.wait()
    kinds = [message["topic"].split("/")[2] for message in received]
    assert kinds[:2] == ["NBIRTH", "DBIRTH"]
    assert kinds[-1] == "NDEATH"
    for message in received:
        assert "error" not in message, message
        assert message["reencoded"] == message["payload"], message["topic"]
        ours = decode_payload(base64.b64decode(message["payload"]))
        theirs = message["decoded"]
        aliases = [None if m.get("alias") is None else int(m["alias"]) for m in theirs["metrics"]]
        assert aliases == [m.alias for m in ours.metrics]  # Rebirth has none
        for mine, tahu in zip(ours.metrics, theirs["metrics"], strict=True):
            assert tahu.get("name") == mine.name
            assert tahu["type"] == TAHU_TYPES[MetricType(mine.datatype)]
            assert _tahu_value(tahu) == mine.value, (mine.name, tahu)
    dbirth = received[1]["decoded"]["metrics"]
    assert {m["name"] for m in dbirth} >= {tag["name"] for tag in PLC_TAGS}
    temp = next(m for m in dbirth if m["name"] == "temp")
    assert temp["properties"]["EngUnit"] == {"type": "String", "value": "degC"}
    assert temp["properties"]["Quality"] == {"type": "Int32", "value": 192}
