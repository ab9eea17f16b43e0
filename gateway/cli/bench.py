"""`bench WORKLOAD`: the benchmark workloads of docs/performance.md."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.cli.common import Commands, positive_int

if TYPE_CHECKING:
    from gateway.bench.report import Report

__all__ = ["register"]


def _cmd_bench_poll(args: argparse.Namespace) -> int:
    from gateway.bench.poll import PollSpec, bench_poll
    from gateway.loop import run_collected

    spec = PollSpec(
        slaves=args.slaves,
        tags=args.tags,
        interval=args.interval,
        change=args.change,
        warmup=args.warmup,
        duration=args.duration,
    )
    _output(
        run_collected(bench_poll(spec, runs=args.runs, baseline_slaves=args.baseline_slaves)),
        args.json,
    )
    return 0


def _cmd_bench_aggregates(args: argparse.Namespace) -> int:
    from gateway.bench.aggregates import AggregatesSpec, bench_aggregates

    spec = AggregatesSpec(
        rows=args.rows, intervals=args.intervals, runs=args.runs, engine=args.engine
    )
    _output(bench_aggregates(spec, postgres_url=args.postgres), args.json)
    return 0


def _cmd_bench_storage(args: argparse.Namespace) -> int:
    from gateway.bench.storage import StorageSpec, bench_storage
    from gateway.config import Synchronous

    spec = StorageSpec(
        rows=args.rows,
        tags=args.tags,
        batch=args.batch,
        runs=args.runs,
        naive_rows=args.naive_rows,
        synchronous=Synchronous(args.synchronous),
    )
    _output(bench_storage(spec, postgres_url=args.postgres), args.json)
    if args.postgres is None:
        print("PostgreSQL not measured: pass --postgres postgresql+psycopg://USER@HOST/DB")
    return 0


def _quiet_asyncua() -> None:
    """asyncua warns about every revised session timeout; the benchmark's own lines matter."""
    logging.getLogger("asyncua").setLevel(logging.ERROR)


def _output(report: Report, json_file: Path | None) -> None:
    print(report.table())
    if json_file is not None:
        report.write_json(json_file)
        print(f"wrote {json_file}")


def _cmd_bench_latency(args: argparse.Namespace) -> int:
    from gateway.bench.latency import LatencySpec, bench_latency
    from gateway.loop import run_collected

    _quiet_asyncua()
    spec = LatencySpec(
        scan=args.scan,
        publishing=args.publishing,
        changes=args.changes,
        runs=args.runs,
        load_slaves=args.load_slaves,
        load_tags=args.load_tags,
        settle=args.warmup,
        load_settle=args.load_warmup,
    )
    variants = ("idle", "load") if args.variant == "both" else (args.variant,)
    _output(run_collected(bench_latency(spec, variants=variants)), args.json)
    return 0


def _cmd_bench_fanout(args: argparse.Namespace) -> int:
    from gateway.bench.fanout import FanoutSpec, bench_fanout
    from gateway.loop import run_collected

    _quiet_asyncua()
    spec = FanoutSpec(
        clients=args.clients,
        slaves=args.slaves,
        tags=args.tags,
        change=args.change,
        interval=args.interval,
        publishing=args.publishing,
        warmup=args.warmup,
        duration=args.duration,
        runs=args.runs,
    )
    _output(run_collected(bench_fanout(spec)), args.json)
    return 0


def _cmd_bench_startup(args: argparse.Namespace) -> int:
    from gateway.bench.startup import bench_startup
    from gateway.loop import run_collected

    _quiet_asyncua()
    _output(run_collected(bench_startup(args.tags, runs=args.runs)), args.json)
    return 0


def _cmd_bench_modbus(args: argparse.Namespace) -> int:
    from gateway.bench.modbus import ModbusSpec, bench_modbus
    from gateway.loop import run_collected

    spec = ModbusSpec(tags=args.tags, seconds=args.seconds, runs=args.runs)
    _output(run_collected(bench_modbus(spec)), args.json)
    return 0


def _cmd_bench_http(args: argparse.Namespace) -> int:
    from gateway.bench.http import HttpSpec, bench_http
    from gateway.loop import run_collected

    spec = HttpSpec(
        devices=args.devices,
        device_tags=args.device_tags,
        slaves=args.slaves,
        slave_tags=args.slave_tags,
        requests=args.requests,
        baseline=args.baseline,
        warmup=args.warmup,
        idle=args.idle,
        runs=args.runs,
    )
    _output(run_collected(bench_http(spec)), args.json)
    return 0


def _cmd_bench_rtu(args: argparse.Namespace) -> int:
    from gateway.bench.rtu import RtuSpec, bench_rtu
    from gateway.loop import run_collected

    bauds = tuple(int(baud) for baud in args.bauds.split(","))
    spec = RtuSpec(bauds=bauds, registers=args.registers, seconds=args.seconds, runs=args.runs)
    _output(run_collected(bench_rtu(spec)), args.json)
    return 0


def _cmd_bench_mqtt(args: argparse.Namespace) -> int:
    from gateway.bench.mqtt import MqttSpec, bench_mqtt
    from gateway.loop import run

    spec = MqttSpec(
        devices=args.devices,
        tags=args.tags,
        change=args.change,
        seconds=args.seconds,
        replay_rows=args.replay_rows,
        runs=args.runs,
        broker=args.broker,
    )
    _output(run(bench_mqtt(spec)), args.json)
    return 0


def _cmd_bench_alerts(args: argparse.Namespace) -> int:
    from gateway.bench.alerts import AlertsSpec, bench_alerts
    from gateway.loop import run

    spec = AlertsSpec(
        transitions=args.transitions, alarms=args.alarms, seconds=args.seconds, runs=args.runs
    )
    _output(run(bench_alerts(spec)), args.json)
    return 0


def _sections(text: str) -> dict[str, object]:
    """`--section '{"mqtt": {...}}'`: extra top-level configuration sections, as JSON."""
    import json

    try:
        sections = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not JSON: {error}") from None
    if not isinstance(sections, dict):
        raise argparse.ArgumentTypeError('expected a JSON object like {"mqtt": {...}}')
    return sections


def _cmd_bench_gateway(args: argparse.Namespace) -> int:
    from gateway.bench.gateway import GatewaySpec, bench_gateway
    from gateway.loop import run

    _quiet_asyncua()
    extra: dict[str, object] = {}
    for sections in args.section:
        extra.update(sections)
    spec = GatewaySpec(
        sizes=tuple(args.tags),
        per_device=args.per_device,
        change=args.change,
        interval=args.interval,
        alarms_per_device=args.alarms_per_device,
        subscribed_devices=args.subscribed_devices,
        warmup=args.warmup,
        duration=args.duration,
        segment=args.segment,
        runs=args.runs,
        extra_sections=extra,
        profile=args.profile,
        profile_depth=args.profile_depth,
    )
    _output(run(bench_gateway(spec)), args.json)
    return 0


def _cmd_bench_all(args: argparse.Namespace) -> int:
    from gateway.bench.report import write_reports
    from gateway.bench.suite import WORKLOADS, run_suite, suite

    _quiet_asyncua()
    only = tuple(args.only.split(",")) if args.only else WORKLOADS
    unknown = sorted(set(only) - set(WORKLOADS))
    if unknown:
        print(
            f"error: unknown workload(s) {', '.join(unknown)}; choose from {', '.join(WORKLOADS)}",
            file=sys.stderr,
        )
        return 2
    steps = suite(quick=args.quick, postgres_url=args.postgres)
    reports, seconds = run_suite(steps, only=only, progress=lambda text: print(text, flush=True))
    print(f"bench all: {len(reports)} workload(s) in {seconds:.0f} s")
    if args.json is not None:
        write_reports(reports, args.json, quick=args.quick, seconds=round(seconds, 1))
        print(f"wrote {args.json}")
    failed = [r.workload for r in reports if any(n.startswith("failed") for n in r.notes)]
    if failed:
        print(f"error: workload(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def register(commands: Commands) -> None:
    """Add `bench` and its workloads."""
    bench = commands.add_parser(
        "bench",
        help="run a benchmark workload (targets: docs/performance.md)",
        description=(
            "Measure the gateway process alone (slaves run in a child process): CPU as "
            "user+sys seconds per wall second, median and min-max over runs, warm-up excluded."
        ),
    )
    workloads = bench.add_subparsers(dest="workload", metavar="WORKLOAD", required=True)
    poll = workloads.add_parser(
        "poll",
        help="N slaves x M float32 tags, a fraction changing per scan, plus the naive baseline",
        description=(
            "Poll N simulated slaves x M float32 tags; runs the changing, static and "
            "one-request-per-tag baseline variants."
        ),
    )
    poll.add_argument("--slaves", type=int, default=100)
    poll.add_argument("--tags", type=int, default=1000, help="float32 tags per slave")
    poll.add_argument("--interval", type=float, default=1.0, help="scan interval, seconds")
    poll.add_argument("--change", type=float, default=0.1, help="fraction changing per scan")
    poll.add_argument("--warmup", type=float, default=5.0, metavar="S")
    poll.add_argument("--duration", type=float, default=20.0, metavar="S", help="measured window")
    poll.add_argument("--runs", type=int, default=3)
    poll.add_argument("--baseline-slaves", type=int, default=10)
    poll.add_argument("--json", type=Path, default=None, metavar="FILE")
    poll.set_defaults(handler=_cmd_bench_poll)
    aggregates = workloads.add_parser(
        "aggregates",
        help="Part 13 aggregates of 1M raw rows: SQL pushdown against a Python loop",
        description=(
            "Insert ROWS raw values of one tag (a day) into a scratch database, then read "
            "Average, Minimum, Maximum and Count over INTERVALS intervals: pushed into SQL as "
            "the gateway does, and with a plain Python loop over the same rows (the naive "
            "baseline), in the same run. SQLite, and PostgreSQL with --postgres."
        ),
    )
    aggregates.add_argument("--rows", type=positive_int, default=1_000_000)
    aggregates.add_argument("--intervals", type=positive_int, default=1440)
    aggregates.add_argument("--runs", type=positive_int, default=3)
    aggregates.add_argument(
        "--engine", action="store_true", help="also time the pure engine without pushdown"
    )
    aggregates.add_argument("--postgres", default=None, metavar="URL")
    aggregates.add_argument("--json", type=Path, default=None, metavar="FILE")
    aggregates.set_defaults(handler=_cmd_bench_aggregates)

    storage = workloads.add_parser(
        "storage",
        help="batch insert rows/s into SQLite (and PostgreSQL), plus the one-INSERT-per-row "
        "baseline",
        description=(
            "Insert scans of float32 tags through the historian's batch path into a scratch "
            "SQLite file and, with --postgres, a scratch schema (dropped afterwards); then "
            "the same rows with one INSERT per row."
        ),
    )
    storage.add_argument("--rows", type=positive_int, default=200_000, help="rows per run")
    storage.add_argument("--tags", type=positive_int, default=1000)
    storage.add_argument(
        "--batch",
        type=positive_int,
        default=50_000,
        help="rows per commit (the default batch_size)",
    )
    storage.add_argument("--runs", type=positive_int, default=3)
    storage.add_argument("--naive-rows", type=positive_int, default=20_000)
    storage.add_argument("--synchronous", choices=["normal", "full"], default="normal")
    storage.add_argument("--postgres", default=None, metavar="URL")
    storage.add_argument("--json", type=Path, default=None, metavar="FILE")
    storage.set_defaults(handler=_cmd_bench_storage)
    _register_end_to_end(workloads)
    _register_mqtt(workloads)
    _register_alerts(workloads)
    _register_gateway(workloads)


def _register_alerts(workloads: Commands) -> None:
    alerts = workloads.add_parser(
        "alerts",
        help="alarm transition → webhook latency; 1,000 flapping alarms: CPU, rate limit, scans",
        description=(
            "In one process, the alarm engine, the journal and outbox (SQLite), the deliverer "
            "and a local webhook receiver: the time from a transition to the receiver (values "
            "published on the bus), and, with ALARMS alarms on simulated slaves whose values "
            "cross the limit every second, polled every second by the gateway's pollers, the "
            "CPU the notifications add (A/B in the same run), the messages the rate limit let "
            "through and the scans the pollers missed."
        ),
    )
    alerts.add_argument("--transitions", type=positive_int, default=200, help="latency samples")
    alerts.add_argument("--alarms", type=positive_int, default=1000, help="flapping alarms")
    alerts.add_argument("--seconds", type=float, default=10.0, help="flapping time per variant")
    alerts.add_argument("--runs", type=positive_int, default=1)
    alerts.add_argument("--json", type=Path, default=None, metavar="FILE")
    alerts.set_defaults(handler=_cmd_bench_alerts)


def _register_end_to_end(workloads: Commands) -> None:
    """The workloads that run a real `gateway run` process, and `all`."""
    latency = workloads.add_parser(
        "latency",
        help="register change on a slave -> data-change notification at a client: p50/p99, "
        "breakdown",
        description=(
            "Change a register on a slave by a Modbus write, at random scan phases, and time "
            "the notification at an OPC UA client subscribed to it; a real gateway process "
            "polls the slave. Reports total latency and the overhead beyond the scan phase "
            "and publish cycle waits, idle and under the 100 x 1,000 tag poll load."
        ),
    )
    latency.add_argument("--variant", choices=["idle", "load", "both"], default="both")
    latency.add_argument("--scan", type=float, default=0.1, help="scan interval, seconds")
    latency.add_argument(
        "--publishing", type=float, default=0.09, help="publishing interval, seconds"
    )
    latency.add_argument("--changes", type=positive_int, default=100, help="changes per run")
    latency.add_argument("--runs", type=positive_int, default=3)
    latency.add_argument(
        "--warmup", type=float, default=3.0, metavar="S", help="after every device is Good"
    )
    latency.add_argument(
        "--load-warmup", type=float, default=45.0, metavar="S",
        help="the same, under load (the steady state of a 100k-tag gateway)",
    )  # fmt: skip
    latency.add_argument("--load-slaves", type=positive_int, default=100)
    latency.add_argument("--load-tags", type=positive_int, default=1000)
    latency.add_argument("--json", type=Path, default=None, metavar="FILE")
    latency.set_defaults(handler=_cmd_bench_latency)

    fanout = workloads.add_parser(
        "fanout",
        help="client processes x every tag monitored, a fraction changing: CPU and loss",
        description=(
            "Clients in separate processes each monitor every tag of a real gateway process; "
            "reports the gateway's CPU, notifications/s per client and every loss indicator."
        ),
    )
    fanout.add_argument("--clients", type=positive_int, default=4)
    fanout.add_argument("--slaves", type=positive_int, default=10)
    fanout.add_argument("--tags", type=positive_int, default=1000, help="float32 tags per slave")
    fanout.add_argument("--change", type=float, default=0.1, help="fraction changing per tick")
    fanout.add_argument("--interval", type=float, default=0.1, help="scan and tick, seconds")
    fanout.add_argument("--publishing", type=float, default=0.1, help="seconds")
    fanout.add_argument("--warmup", type=float, default=5.0, metavar="S")
    fanout.add_argument("--duration", type=float, default=20.0, metavar="S")
    fanout.add_argument("--runs", type=positive_int, default=3)
    fanout.add_argument("--json", type=Path, default=None, metavar="FILE")
    fanout.set_defaults(handler=_cmd_bench_fanout)

    startup = workloads.add_parser(
        "startup",
        help="gateway run start -> first Good value served, and peak RSS",
        description=(
            "Start `gateway run` on configurations of N tags (1,000 float32 per slave) and "
            "time process start to Good values read by an OPC UA client; peak RSS."
        ),
    )
    startup.add_argument("tags", type=positive_int, nargs="*", default=[10_000, 100_000])
    startup.add_argument("--runs", type=positive_int, default=3)
    startup.add_argument("--json", type=Path, default=None, metavar="FILE")
    startup.set_defaults(handler=_cmd_bench_startup)

    modbus = workloads.add_parser(
        "modbus",
        help="requests per scan vs the optimum; one connection's requests/s vs libmodbus",
        description=(
            "Poll an irregular device and compare requests per scan with the optimum; then "
            "125-register reads on one connection, our client against a libmodbus C client "
            "compiled with gcc, on a libmodbus slave (skipped with a message without them)."
        ),
    )
    modbus.add_argument("--tags", type=positive_int, default=1000, help="irregular device tags")
    modbus.add_argument("--seconds", type=float, default=3.0, help="per requests/s run")
    modbus.add_argument("--runs", type=positive_int, default=3)
    modbus.add_argument("--json", type=Path, default=None, metavar="FILE")
    modbus.set_defaults(handler=_cmd_bench_modbus)

    _register_http(workloads)
    rtu = workloads.add_parser(
        "rtu",
        help="an RTU line polled back to back vs its theoretical rate; CPU per request vs TCP",
        description=(
            "Poll a simulated RTU slave (a child process, replies paced at the line's speed, "
            "8N2) on a pseudo-terminal back to back; report requests/s against the line's "
            "theoretical rate and the CPU per request against the same reads over Modbus TCP."
        ),
    )
    rtu.add_argument("--bauds", default="19200,115200", metavar="B1,B2", help="line speeds")
    rtu.add_argument("--registers", type=positive_int, default=20, help="registers per read")
    rtu.add_argument("--seconds", type=float, default=5.0, help="per run")
    rtu.add_argument("--runs", type=positive_int, default=3)
    rtu.add_argument("--json", type=Path, default=None, metavar="FILE")
    rtu.set_defaults(handler=_cmd_bench_rtu)

    every = workloads.add_parser(
        "all",
        help="every workload in sequence (under 10 minutes), one table and one JSON",
        description=(
            "Run poll, storage, modbus, latency, fanout, startup, http and gateway in sequence "
            "with parameters that keep the total under 10 minutes on a 2-core machine; --quick "
            "runs each for seconds (a check, not a measurement). rtu, mqtt, alerts and "
            "aggregates run with their own commands."
        ),
    )
    every.add_argument("--quick", action="store_true", help="tiny parameters, about a minute")
    every.add_argument("--only", default="", metavar="W1,W2", help="a subset of the workloads")
    every.add_argument("--postgres", default=None, metavar="URL", help="also PostgreSQL storage")
    every.add_argument("--json", type=Path, default=None, metavar="FILE")
    every.set_defaults(handler=_cmd_bench_all)


def _register_http(workloads: Commands) -> None:
    """`bench http`."""
    http = workloads.add_parser(
        "http",
        help="CPU per /metrics scrape at 1,000 devices and per 100 status rows of 100k tags; "
        "an idle HTTP server's CPU",
        description=(
            "Real gateway processes with the status page on 127.0.0.1: the CPU each /metrics "
            "scrape of a gateway with N devices costs, the CPU of 100 status-page rows of a "
            "gateway with S slaves x T tags (paged, and with a new filter each time), and the "
            "CPU an idle HTTP server adds to a gateway without devices."
        ),
    )
    http.add_argument("--devices", type=positive_int, default=1000, help="scraped gateway")
    http.add_argument("--device-tags", type=positive_int, default=10, help="tags per device")
    http.add_argument("--slaves", type=positive_int, default=100, help="status page gateway")
    http.add_argument("--slave-tags", type=positive_int, default=1000, help="tags per slave")
    http.add_argument("--requests", type=positive_int, default=40, help="per measured window")
    http.add_argument("--baseline", type=float, default=5.0, metavar="S")
    http.add_argument("--warmup", type=float, default=5.0, metavar="S")
    http.add_argument("--idle", type=float, default=20.0, metavar="S", help="per idle window")
    http.add_argument("--runs", type=positive_int, default=3)
    http.add_argument("--json", type=Path, default=None, metavar="FILE")
    http.set_defaults(handler=_cmd_bench_http)


def _register_mqtt(workloads: Commands) -> None:
    mqtt = workloads.add_parser(
        "mqtt",
        help="MQTT publisher: CPU added, NBIRTH+DBIRTH time, change→DDATA latency, replay rate "
        "and the scans missed meanwhile",
        description=(
            "A synthetic plant (devices × tags, a share changing every second) published as a "
            "Sparkplug B edge node to a private mosquitto (or --broker); a subscriber in another "
            "process times births and DDATA. Then a SQLite historian of --replay-rows rows is "
            "replayed as historical metrics while pollers scan --devices simulated slaves × "
            "--tags (python -m simulators scale) in the same event loop, their missed scans "
            "counted. Needs the mqtt extra and mosquitto."
        ),
    )
    mqtt.add_argument("--devices", type=positive_int, default=100)
    mqtt.add_argument("--tags", type=positive_int, default=1000, help="per device")
    mqtt.add_argument("--change", type=float, default=0.1, help="share changing per second")
    mqtt.add_argument("--seconds", type=float, default=10.0, help="steady state per run")
    mqtt.add_argument("--replay-rows", type=positive_int, default=1_000_000)
    mqtt.add_argument("--runs", type=positive_int, default=1)
    mqtt.add_argument("--broker", default=None, metavar="URL", help="default: a private mosquitto")
    mqtt.add_argument("--json", type=Path, default=None, metavar="FILE")
    mqtt.set_defaults(handler=_cmd_bench_mqtt)


def _register_gateway(workloads: Commands) -> None:
    """`bench gateway`."""
    whole = workloads.add_parser(
        "gateway",
        help="the whole `gateway run` (OPC UA, SQLite, alarms, HTTP) at 1k, 10k, 100k tags: "
        "CPU, RSS, start-up, missed scans, rows/s, notifications",
        description=(
            "Run `gateway run` with the OPC UA server, the SQLite historian, limit alarms and "
            "the HTTP server against scale slaves (1,000 float32 tags each), one OPC UA client "
            "subscribed to the first devices' tags; report the gateway process's CPU (first "
            "and last segment apart), RSS, start-up to Good values, missed scans, rows stored "
            "per second and notifications delivered, for each size."
        ),
    )
    whole.add_argument(
        "tags", type=positive_int, nargs="*", default=[1_000, 10_000, 100_000], help="sizes"
    )
    whole.add_argument("--per-device", type=positive_int, default=1000, help="tags per slave")
    whole.add_argument("--change", type=float, default=0.1, help="fraction changing per tick")
    whole.add_argument("--interval", type=float, default=1.0, metavar="S", help="scan and tick")
    whole.add_argument("--alarms-per-device", type=int, default=1, metavar="N")
    whole.add_argument("--subscribed-devices", type=positive_int, default=1, metavar="N")
    whole.add_argument("--warmup", type=float, default=10.0, metavar="S")
    whole.add_argument("--duration", type=float, default=120.0, metavar="S", help="window")
    whole.add_argument(
        "--segment", type=float, default=60.0, metavar="S", help="first/last part compared"
    )
    whole.add_argument("--runs", type=positive_int, default=1)
    whole.add_argument(
        "--section", type=_sections, action="append", default=[], metavar="JSON",
        help='extra configuration sections, e.g. \'{"mqtt": {...}}\'',
    )  # fmt: skip
    whole.add_argument(
        "--profile", type=Path, default=None, metavar="DIR",
        help="run the gateway under tracemalloc and write memory profiles (once started, at "
        "the end) to DIR/TAGS/ (slows the gateway: its figures are then not measurements)",
    )  # fmt: skip
    whole.add_argument(
        "--profile-depth", type=positive_int, default=1, metavar="N",
        help="frames kept per allocation with --profile (more: far slower)",
    )  # fmt: skip
    whole.add_argument("--json", type=Path, default=None, metavar="FILE")
    whole.set_defaults(handler=_cmd_bench_gateway)
