"""`gateway bench mqtt`: the MQTT publisher's CPU, birth time, change→DDATA latency, replay rate.

A synthetic plant (N devices × M tags, every device `ok`) feeds the bus as
the pollers would: each device's changed tags once a second, spread over the
second. The publisher sends to a private Mosquitto (or `--broker URL`), and
a subscriber in another process notes when each message arrives:

- CPU: this process's CPU per second with the publisher running, minus the
  same driver without it (A/B in one run);
- births: from the start of the NBIRTH to the last DBIRTH at the subscriber;
- latency: bus publish (the end of a scan) → DDATA at the subscriber, p50/p99;
- replay: a historian (SQLite) of R stored rows replayed as historical DDATA,
  metrics per second handed to the broker, while real pollers scan N simulated
  slaves × M tags (`python -m simulators scale`) in this event loop and the
  historian stores their changes: the scans they miss meanwhile (target 0).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

from gateway.bench.fleet import ScaleFleet
from gateway.bench.measure import CpuWindow
from gateway.bench.report import Report, percentile
from gateway.bus import Bus
from gateway.config import DeviceConfig, GatewayConfig, MqttConfig, parse_server
from gateway.errors import GatewayError
from gateway.modbus.acquisition import Acquisition
from gateway.modbus.health import DeviceHealth, DeviceState
from gateway.model import Status, TagValue, Value
from gateway.mqtt.edge import EdgeSession
from gateway.mqtt.metrics import Catalog
from gateway.mqtt.plant import Plant
from gateway.mqtt.publisher import MqttPublisher
from gateway.mqtt.replay import ReplayJob, replay
from gateway.mqtt.state import ConnectionState, MqttState
from gateway.mqtt.topics import SparkplugTopics
from gateway.storage import Historian
from gateway.storage.database import Database
from gateway.storage.tagsync import tag_infos
from gateway.tags import Tag, build_tags

__all__ = ["MqttSpec", "bench_mqtt"]

GROUP = "bench"


@dataclass(frozen=True, slots=True)
class MqttSpec:
    devices: int = 100
    tags: int = 1000
    change: float = 0.1  # share of each device's tags changing per second
    seconds: float = 10.0  # of steady state, per run
    replay_rows: int = 1_000_000
    runs: int = 1
    broker: str | None = None  # None: a private mosquitto on a free port


def _devices(spec: MqttSpec) -> list[DeviceConfig]:
    tags = [
        {"name": f"t{i}", "table": "holding_register", "address": 2 * i, "type": "float32"}
        for i in range(spec.tags)
    ]
    return [
        DeviceConfig.model_validate({"name": f"d{d}", "host": "127.0.0.1", "tags": tags})
        for d in range(spec.devices)
    ]


class SyntheticPlant:
    """Tags, healths and current values without Modbus: what the pollers would publish."""

    def __init__(self, devices: list[DeviceConfig]) -> None:
        self.devices = devices
        self.tags: dict[str, Tag] = {t.key: t for d in devices for t in build_tags(d)}
        self.values: dict[str, TagValue] = {
            key: TagValue(key, 0.0, Status.GOOD, 1.0, 1.0) for key in self.tags
        }
        self.healths = {d.name: DeviceHealth(d.name, state=DeviceState.OK) for d in devices}

    def plant(self) -> Plant:
        async def write(key: str, value: Value) -> None:
            raise GatewayError("the benchmark plant is read-only")

        return Plant(
            name="bench",
            devices=tuple(d.name for d in self.devices),
            tags=self.tags,
            current=lambda keys: [self.values[key] for key in keys],
            health=self.healths.__getitem__,
            write=write,
        )

    async def drive(self, bus: Bus, change: float, stop: asyncio.Event) -> None:
        """Each device's changed tags once a second, devices spread over the second."""
        per_device = max(1, round(change * len(self.devices[0].tags)))
        step = 1.0 / len(self.devices)
        tick = 0
        while not stop.is_set():
            for device in self.devices:
                now = time.time()
                first = (tick * per_device) % len(device.tags)
                batch = []
                for i in range(first, first + per_device):
                    key = f"{device.name}.t{i % len(device.tags)}"
                    value = TagValue(key, float(tick), Status.GOOD, now, now)
                    self.values[key] = value
                    batch.append(value)
                bus.publish(batch)
                await asyncio.sleep(step)
                if stop.is_set():
                    return
            tick += 1


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def _broker(url: str | None, directory: Path) -> Iterator[str]:
    if url is not None:
        yield url
        return
    if shutil.which("mosquitto") is None:
        raise GatewayError("mosquitto is not installed: install it or pass --broker URL")
    port = _free_port()
    conf = directory / "mosquitto.conf"
    # set_tcp_nodelay: the broker forwards each message at once (docs/mqtt.md, "Brokers").
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n")
    process = subprocess.Popen(
        ["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if time.monotonic() > deadline:
                raise GatewayError("mosquitto did not start")
            time.sleep(0.05)
        yield f"mqtt://127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait()


@contextlib.asynccontextmanager
async def _subscriber(url: str, lines: list[str]) -> AsyncIterator[None]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway.bench.mqttsub", url, GROUP,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert process.stdout is not None
    stdout = process.stdout
    ready = await asyncio.wait_for(stdout.readline(), 30)
    if ready.strip() != b"ready":
        raise GatewayError("the benchmark's MQTT subscriber did not start")

    async def pump() -> None:
        while line := await stdout.readline():
            lines.append(line.decode())

    async with asyncio.TaskGroup() as group:
        reader = group.create_task(pump())
        try:
            yield
        finally:
            await asyncio.sleep(0.5)  # the last messages in flight
            process.kill()
            await process.wait()
            reader.cancel()


async def _steady(spec: MqttSpec, url: str, directory: Path) -> dict[str, float]:
    """One run: the CPU A/B, the births, and the latency under 10% change per second."""
    synthetic = SyntheticPlant(_devices(spec))
    bus = Bus()
    stop = asyncio.Event()
    baseline = CpuWindow()
    drain = bus.subscribe("baseline consumer")  # another consumer, as the historian is
    async with asyncio.TaskGroup() as group:
        group.create_task(synthetic.drive(bus, spec.change, stop))
        baseline.start()
        await asyncio.sleep(spec.seconds)
        baseline.stop()
        drain.get_nowait()
        stop.set()
    settings = MqttConfig.model_validate({"servers": [url], "sparkplug": {"group": GROUP}})
    publisher = MqttPublisher(settings, synthetic.plant(), bus, config_dir=directory)
    lines: list[str] = []
    loaded = CpuWindow()
    stop = asyncio.Event()
    async with _subscriber(url, lines):
        started = time.time()
        async with publisher:
            while publisher.state.state is not ConnectionState.ONLINE:  # noqa: ASYNC110
                await asyncio.sleep(0.01)  # the state is a plain record, not an event
            async with asyncio.TaskGroup() as group:
                group.create_task(synthetic.drive(bus, spec.change, stop))
                loaded.start()
                await asyncio.sleep(spec.seconds)
                loaded.stop()
                drain.get_nowait()
                stop.set()
    return _figures(lines, started, spec, baseline.cores, loaded.cores)


def _figures(
    lines: list[str], started: float, spec: MqttSpec, base_cpu: float, mqtt_cpu: float
) -> dict[str, float]:
    nbirth = next(float(line.split()[1]) for line in lines if line.startswith("NBIRTH"))
    dbirths = [float(line.split()[1]) for line in lines if line.startswith("DBIRTH")]
    if len(dbirths) < spec.devices:
        raise GatewayError(f"only {len(dbirths)} of {spec.devices} DBIRTHs arrived")
    latencies = [float(x) for line in lines if line.startswith("DDATA") for x in line.split()[2:]]
    return {
        "cpu": mqtt_cpu - base_cpu,
        "births": max(dbirths) - min(nbirth, started),
        "p50": percentile(latencies, 0.5),
        "p99": percentile(latencies, 0.99),
    }


@dataclass(frozen=True, slots=True)
class ReplayRun:
    """One replay: its rate, and what the pollers scanning meanwhile did."""

    rate: float
    missed_scans: int
    scans: int


def _replay_config(spec: MqttSpec, directory: Path, fleet: ScaleFleet) -> GatewayConfig:
    """The stored devices (10 × 100 tags, not polled) and the polled ones (`p000`…)."""
    stored = [d.model_dump(mode="json", exclude_defaults=True) for d in _devices(_STORED)]
    polled = [
        {
            "name": f"p{index:03d}",
            "host": host,
            "port": port,
            "scan_interval": 1.0,
            "timeout": "2s",
            "tags": [
                {"name": f"t{i}", "table": "holding_register", "address": 2 * i, "type": "float32"}
                for i in range(spec.tags)
            ],
        }
        for index, (host, port) in enumerate(fleet.addresses)
    ]
    return GatewayConfig.model_validate(
        {
            "gateway": {"name": "bench"},
            "storage": {"url": f"sqlite:///{directory / 'replay.db'}"},
            "devices": stored + polled,
        }
    )


_STORED = MqttSpec(devices=10, tags=100)


def _store_rows(config: GatewayConfig, keys: list[str], per_tag: int) -> float:
    """`per_tag` rows of each key in the last hour; returns the first row's time (s)."""
    database = Database(config.storage, tag_infos(config), gateway=config.gateway.name)
    database.prepare()
    # Rows of the last hour, 1 ms apart per tag: within the retention (which runs when the
    # historian starts, and would delete older rows while they are replayed).
    first_us = int((time.time() - 3600) * 1_000_000)
    for step in range(0, per_tag, 100):
        rows = [
            (key, first_us + i * 1000, float(i), None, 0)
            for key in keys
            for i in range(step, min(per_tag, step + 100))
        ]
        database.write(rows)
    database.dispose()
    return first_us / 1e6


async def _scanned(acquisition: Acquisition, at_least: list[int], timeout: float = 60.0) -> None:
    """Wait until every poller has finished `at_least[i]` scans."""
    async with asyncio.timeout(timeout):
        while any(  # noqa: ASYNC110
            h.scans < n for h, n in zip(acquisition.healths, at_least, strict=True)
        ):
            await asyncio.sleep(0.05)  # the healths are plain counters, not events


async def _replay_run(spec: MqttSpec, url: str, directory: Path, fleet: ScaleFleet) -> ReplayRun:
    """A replay of `replay_rows` stored rows (SQLite) while pollers scan the fleet.

    The pollers, the historian (storing what they publish) and the replay share
    this process's event loop, as in `gateway run`; the scans they miss during
    the replay (and at least one scan of each, for a short replay) are counted
    from the pollers' own counters."""
    devices = _devices(_STORED)
    config = _replay_config(spec, directory, fleet)
    keys = [f"{d.name}.{t.name}" for d in devices for t in d.tags]
    per_tag = max(1, spec.replay_rows // len(keys))
    first = _store_rows(config, keys, per_tag)
    polled = config.model_copy(update={"devices": config.devices[len(devices) :]})
    synthetic = SyntheticPlant(devices)
    state = MqttState()
    bus = Bus()
    async with (
        Historian(config, bus) as historian,
        Acquisition(polled, bus, seed=0) as acquisition,
        _replay_session(url, synthetic, state) as session,
    ):
        await _scanned(acquisition, [2] * len(acquisition.healths))  # in their steady state
        before = [(h.scans, h.missed_scans) for h in acquisition.healths]
        started = time.perf_counter()
        job = ReplayJob(first - 1, time.time())
        await replay(session, historian, keys, [job], state, settle=0.0)
        elapsed = time.perf_counter() - started
        # A short replay still covers a scan of every poller.
        await _scanned(acquisition, [scans + 1 for scans, _ in before])
        after = [(h.scans, h.missed_scans) for h in acquisition.healths]
    if state.replay_sent != per_tag * len(keys):
        raise GatewayError(f"replayed {state.replay_sent} of {per_tag * len(keys)} rows")
    return ReplayRun(
        rate=state.replay_sent / elapsed,
        missed_scans=sum(a[1] - b[1] for a, b in zip(after, before, strict=True)),
        scans=sum(a[0] - b[0] for a, b in zip(after, before, strict=True)),
    )


@contextlib.asynccontextmanager
async def _replay_session(
    url: str, synthetic: SyntheticPlant, state: MqttState
) -> AsyncIterator[EdgeSession]:
    """A born edge node session on its own connection, for the replay alone."""
    from gateway.mqtt import client  # noqa: PLC0415

    server = parse_server(url)
    async with client.connect(server, client_id="bench-replay", keepalive=30, timeout=10) as link:

        async def send(topic: str, payload: bytes) -> None:
            await link.publish(topic, payload, qos=0)

        session = EdgeSession(
            plant=synthetic.plant(),
            catalog=Catalog([d.name for d in synthetic.devices], synthetic.tags.values()),
            topics=SparkplugTopics(GROUP, "replay"),
            bd_seq=0,
            send=send,
            state=state,
            commands=False,
        )
        await session.birth()
        yield session


async def _replay_with_pollers(spec: MqttSpec, url: str, directory: Path) -> ReplayRun:
    async with ScaleFleet(
        slaves=spec.devices, registers=2 * spec.tags, change=spec.change, tick=1.0
    ) as fleet:
        return await _replay_run(spec, url, directory, fleet)


async def bench_mqtt(spec: MqttSpec) -> Report:
    report = Report(
        "mqtt",
        {
            "devices": spec.devices,
            "tags": spec.tags,
            "change": spec.change,
            "seconds": spec.seconds,
            "replay_rows": spec.replay_rows,
        },
    )
    runs: list[dict[str, float]] = []
    replays: list[ReplayRun] = []
    with tempfile.TemporaryDirectory() as folder, _broker(spec.broker, Path(folder)) as url:
        for run in range(spec.runs):
            runs.append(await _steady(spec, url, Path(folder)))
            replays.append(await _replay_with_pollers(spec, url, Path(folder) / f"r{run}"))
    report.add("CPU added by MQTT", "cores", [r["cpu"] for r in runs], "≤ 0.15")
    report.add("NBIRTH + all DBIRTHs", "s", [r["births"] for r in runs], "≤ 2")
    report.add("change → DDATA p50", "ms", [r["p50"] for r in runs])
    report.add("change → DDATA p99", "ms", [r["p99"] for r in runs], "≤ 20")
    report.add("replay", "metrics/s", [r.rate for r in replays], "≥ 50000")
    report.add("missed scans during replay", "scans", [r.missed_scans for r in replays], "0")
    report.add("scans during replay", "scans", [r.scans for r in replays])
    report.notes.append(
        "synthetic plant (no Modbus) for CPU, births and latency: latency is from the bus"
        " publish at the end of a scan"
    )
    report.notes.append(
        f"replay: {spec.devices} pollers × {spec.tags} tags scanning simulated slaves every"
        " second and the historian storing their changes, in the same event loop"
    )
    return report
