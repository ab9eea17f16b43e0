"""Run the demo: simulated PLCs and a gateway for them, on the same event loop.

The simulated PLCs listen on free ports chosen at start (so a second demo, a
`gateway simulate` or anything else on 5020–5022 never collides with them);
the gateway's config reaches them through `GATEWAY_DEMO_*_PORT` variables.
The config is written into the data directory on every start, so `gateway
history -c DIR/gateway.yaml …` works on the demo's data. The OPC UA port is
the one thing a user connects to, so it stays fixed (4840) unless `--port`
says otherwise, and a port in use is a clear error before anything starts.
The status page (`http:`) likewise stays on 127.0.0.1:8080 unless
`--http-port` says otherwise; without the `http` extra installed the demo
runs without it and says how to get it. `--mqtt URL` adds an `mqtt:`
section: the plant as a Sparkplug B edge node and JSON topics on that broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import as_file, files
from pathlib import Path
from typing import TextIO

from gateway.app import Gateway
from gateway.collector import young_collections
from gateway.config import GatewayConfig, MqttConfig, load_config, parse_server
from gateway.demo.banner import access_lines, banner_lines, shown_path
from gateway.demo.status import Sampler, StatusOutput, logs_above
from gateway.errors import GatewayError
from gateway.filemodes import make_private_dirs, write_private_text
from gateway.http import http_available
from gateway.loop import stop_signals
from simulators.loader import load_plant
from simulators.plant import Plant
from simulators.runtime import RunningPlant, run_plant

__all__ = ["DemoOptions", "run_demo"]

HOST = "127.0.0.1"
CONFIG_NAME = "gateway.yaml"

#: The few tags per device the live status shows, so values visibly move.
HIGHLIGHTS: dict[str, tuple[str, ...]] = {
    "boiler": ("water_temperature", "burner_on"),
    "compressor": ("discharge_pressure", "loaded"),
    "compressor_vfd": ("motor_speed", "speed_setpoint"),
    "tank_farm": ("tank1_level", "tank1_outlet_valve"),
    "meter": ("active_power", "energy_total"),
}


#: Where the status page listens unless --http-port says otherwise.
DEFAULT_HTTP_PORT = 8080
_NO_HTTP = "status page: off (it needs the http extra: pip install 'modbus-opcua-gateway[http]')"


@dataclass(frozen=True, slots=True)
class DemoOptions:
    data_dir: Path
    port: int  # 0: any free port
    duration: float | None = None  # None: until SIGINT/SIGTERM
    http_port: int = DEFAULT_HTTP_PORT  # 0: any free port
    mqtt: str | None = None  # a broker URL: publish the plant there (Sparkplug B and JSON)


def _demo_plant() -> Plant:
    """The bundled demo plant, every PLC moved to a free port."""
    with as_file(files("simulators") / "plants" / "demo.yaml") as path:
        plant = load_plant(path)
    slaves = tuple(slave.model_copy(update={"host": HOST, "port": 0}) for slave in plant.slaves)
    return plant.model_copy(update={"slaves": slaves})


def _prepare(data_dir: Path) -> Path:
    """Create the data directory and write the demo's gateway config into it."""
    path = data_dir.expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise GatewayError(f"{path} is not a directory: choose another with --data-dir DIR")
    try:
        make_private_dirs(path)  # history, certificates, passwords: the owner's alone
        text = (files("gateway.demo") / CONFIG_NAME).read_text(encoding="utf-8")
        write_private_text(path / CONFIG_NAME, text)
    except OSError as error:
        raise GatewayError(
            f"cannot use {path} as the demo's data directory ({error.strerror}): "
            "choose another with --data-dir DIR"
        ) from None
    return path


def _check_port(port: int, server: str = "the OPC UA server", option: str = "--port") -> None:
    """Fail early, naming the port and the way out, when a port the demo serves on is taken."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the server will: a port in TIME_WAIT is free, one with a listener is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as error:
            raise GatewayError(
                f"port {port} on {HOST} is not available for {server} "
                f"({error.strerror}): is another gateway running? Stop it, "
                f"or choose another port: gateway demo {option} N"
            ) from None


def _load_config(config_path: Path, running: RunningPlant, options: DemoOptions) -> GatewayConfig:
    environ = dict(os.environ)
    environ["GATEWAY_DEMO_OPCUA_PORT"] = str(options.port)
    environ["GATEWAY_DEMO_HTTP_PORT"] = str(options.http_port)
    for slave in running.slaves.values():
        environ[f"GATEWAY_DEMO_{slave.name.upper()}_PORT"] = str(slave.port)
    config = load_config(config_path, environ=environ).config
    if not http_available():
        config = config.model_copy(update={"http": None})
    if options.mqtt is not None:
        config = config.model_copy(update={"mqtt": demo_mqtt(options.mqtt)})
    return config


#: The Sparkplug group of the demo's edge node.
DEMO_GROUP = "demo"


def demo_mqtt(url: str) -> MqttConfig:
    """`--mqtt URL`: a Sparkplug B edge node in group `demo` and JSON topics per tag,
    with an hour of store and forward."""
    try:
        parse_server(url)
    except ValueError as error:
        raise GatewayError(f"--mqtt: {error}") from None
    return MqttConfig.model_validate(
        {"servers": [url], "sparkplug": {"group": DEMO_GROUP}, "json": {}, "replay": 3600.0}
    )


def mqtt_line(config: GatewayConfig) -> str | None:
    """What the demo publishes where (one line), or None without --mqtt."""
    mqtt = config.mqtt
    if mqtt is None:
        return None
    name = config.gateway.name
    return (
        f"MQTT: {mqtt.servers[0]}: Sparkplug B spBv1.0/{DEMO_GROUP}/+/{name}/#, "
        f"JSON {name}/<device>/<tag>"
    )


def _banner(gateway: Gateway, running: RunningPlant, data_dir: Path, *, live: bool) -> str:
    """The banner; on a terminal the status page's URL is in the live status's header instead
    (so the first screen still fits 80×24)."""
    opcua = gateway.opcua
    summary = opcua.security
    if summary is None:  # set when the server starts, before the banner
        raise GatewayError("the OPC UA server did not start")
    plcs = [(slave.name, slave.host, slave.port) for slave in running.slaves.values()]
    server = (opcua.endpoint_url, summary.endpoints, summary.thumbprint)
    shown = shown_path(data_dir, Path.cwd())
    page = _NO_HTTP if gateway.http is None else None if live else gateway.http.url
    return "\n".join(banner_lines(gateway.config, server, plcs, shown, status_page=page))


async def _show_status(
    output: StatusOutput, sampler: Sampler, stop: asyncio.Event, duration: float | None
) -> None:
    """Refresh the status until `stop` is set or `duration` seconds passed."""
    loop = asyncio.get_running_loop()
    deadline = None if duration is None else loop.time() + duration
    while not stop.is_set():
        wait = output.interval
        if deadline is not None:
            wait = min(wait, deadline - loop.time())
            if wait <= 0:
                return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), wait)
        if not stop.is_set():
            output.show(sampler.sample())


async def run_demo(
    options: DemoOptions, out: TextIO, *, running: Callable[[], None] | None = None
) -> None:
    """Run the demo until SIGINT/SIGTERM or `options.duration`; errors: GatewayError.

    `running` is called once the gateway runs (gateway.collector's start-up pause ends).
    """
    if options.mqtt is not None:
        demo_mqtt(options.mqtt)  # a bad URL is an error before anything starts
    _check_port(options.port)
    if http_available():
        _check_port(options.http_port, "the status page", "--http-port")
    data_dir = _prepare(options.data_dir)
    await _run(options, data_dir, out, running or (lambda: None))
    print("gateway demo stopped", file=out, flush=True)


async def _run(
    options: DemoOptions, data_dir: Path, out: TextIO, gateway_runs: Callable[[], None]
) -> None:
    # The demo's log channel (gateway.yaml) writes at INFO; the demo logs warnings
    # only, except these lines: they are what the notifications look like.
    notifications = logging.getLogger("gateway.notifications")
    if not notifications.isEnabledFor(logging.INFO):
        notifications.setLevel(logging.INFO)
    with stop_signals() as stop:
        print(
            "gateway demo: starting the plant and the gateway (first time: a few seconds)…",
            file=out,
            flush=True,
        )
        async with run_plant(_demo_plant()) as running:
            config = _load_config(data_dir / CONFIG_NAME, running, options)
            async with Gateway(config, config_dir=data_dir) as gateway, young_collections():
                gateway_runs()
                if stop.is_set():  # Ctrl-C while starting: no banner, no "Press Ctrl-C"
                    print("gateway demo: stopping…", file=out, flush=True)
                    return
                live = out.isatty()
                print(_banner(gateway, running, data_dir, live=live), file=out, flush=True)
                if (line := mqtt_line(config)) is not None:
                    print(line, file=out, flush=True)
                page = gateway.http.url if gateway.http is not None else None
                access = access_lines(gateway.config, gateway.opcua.endpoint_url, status_page=page)
                output = StatusOutput(out, live=live, header=access)
                with logs_above(output):
                    await _show_status(output, Sampler(gateway, HIGHLIGHTS), stop, options.duration)
