"""`gateway demo --mqtt URL` publishes the demo plant: a Sparkplug B edge node and JSON topics."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from mqttkit import mosquitto, recorder


async def _demo(tmp_path: Path, url: str, seconds: str) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "demo", "--data-dir", str(tmp_path / "data"),
        "--port", "0", "--http-port", "0", "--duration", seconds, "--mqtt", url,
        cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(90):
        out, err = await process.communicate()
    text = out.decode()
    assert process.returncode == 0, text + err.decode()
    return text


@pytest.mark.timeout(180)
async def test_demo_publishes_the_plant_to_mqtt(tmp_path: Path) -> None:
    with mosquitto(tmp_path) as broker:
        async with recorder(broker.port, "spBv1.0/demo/#", "demo-plant/#") as record:
            text = await _demo(tmp_path, broker.url, "8")
            assert f"MQTT: {broker.url}: Sparkplug B spBv1.0/demo/+/demo-plant/#" in text
            await record.until(lambda: record.of("NDEATH"), message="the NDEATH at the end")
            # tck-id-payloads-nbirth-bdseq-increment, across a restart: the historian kept it
            await _demo(tmp_path, broker.url, "3")
            await record.until(lambda: len(record.of("NBIRTH")) == 2, message="the second NBIRTH")
            bd_seqs = [
                next(m.value for m in birth.sparkplug.metrics if m.name == "bdSeq")
                for birth in record.of("NBIRTH")
            ]
            assert bd_seqs == [0, 1]
    births = {m.topic.rsplit("/", 1)[-1] for m in record.of("DBIRTH")}
    assert births == {"boiler", "compressor", "compressor_vfd", "tank_farm", "meter"}
    assert record.of("NBIRTH")[0].topic == "spBv1.0/demo/NBIRTH/demo-plant"
    assert record.of("DDATA"), "the demo plant's values move"
    assert any(m.topic == "demo-plant/boiler/water_temperature" for m in record.messages)


async def test_demo_with_a_bad_mqtt_url_says_so(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "demo", "--data-dir", str(tmp_path / "data"),
        "--port", "0", "--mqtt", "http://broker",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(60):
        _, err = await process.communicate()
    assert process.returncode != 0
    message = err.decode()
    assert "--mqtt: expected mqtt://HOST[:PORT]" in message
    assert "Traceback" not in message
