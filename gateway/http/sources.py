"""Every metric the gateway exposes, one function per part (docs/operations.md explains each).

Each function reads counters its part keeps anyway, at scrape time: nothing
is counted on the scan path for metrics' sake. A new part adds one function
here and one line in `SOURCES`. Labels name devices, bus consumers, states
and kinds, never a tag: a 100k-tag gateway exposes as few series as a small one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from gateway import __version__
from gateway.alarms.model import AlarmState
from gateway.http.families import Family, Histogram, Kind
from gateway.http.mqttview import ALL_STATES, CONNECTED_STATES, backlog_seconds
from gateway.http.parts import Parts
from gateway.http.wire import HttpCounters
from gateway.modbus.health import RESPONSE_TIME_BOUNDS, DeviceState, ErrorKind

__all__ = ["SOURCES", "gateway_families", "http_metrics"]

COUNTER, GAUGE = Kind.COUNTER, Kind.GAUGE


def gateway_metrics(parts: Parts) -> Iterator[Family]:
    config = parts.config
    yield Family(
        "gateway_info", "The gateway's name and version (always 1).", labels=("name", "version")
    ).add(1, config.gateway.name, __version__)
    started = Family("gateway_part_up", "1 once the part has started.", labels=("part",))
    for part, up in parts.started().items():
        started.add(up, part)
    yield started
    yield Family("gateway_tags", "Configured tags.").add(len(parts.acquisition.tags))


def device_metrics(parts: Parts) -> Iterator[Family]:
    """Six series per device; states, error kinds and response times across every device.

    The breakdowns are summed over the devices because a 1,000-device gateway
    would otherwise expose some 30,000 series (and take 175 ms of CPU per
    scrape): per device there is what finds the device in trouble.
    """
    device = ("device",)
    up = Family("gateway_device_up", "1 while the device answers (state ok).", labels=device)
    requests = Family("gateway_device_requests_total", "Modbus requests sent.", COUNTER, device)
    errors = Family(
        "gateway_device_errors_total",
        "Failed requests and connection attempts (every kind).",
        COUNTER,
        device,
    )
    waited = Family(
        "gateway_device_response_seconds_total",
        "Time spent waiting for answers; divided by requests, the mean response time.",
        COUNTER,
        device,
    )
    overruns = Family(
        "gateway_device_scan_overruns_total",
        "Scans skipped because the previous one ran past their slot.",
        COUNTER,
        device,
    )
    last = Family(
        "gateway_device_last_response_timestamp_seconds",
        "When the device last answered (Unix time).",
        labels=device,
    )
    states = dict.fromkeys(DeviceState, 0)
    kinds = dict.fromkeys(ErrorKind, 0)
    buckets = [0] * (len(RESPONSE_TIME_BOUNDS) + 1)
    total_time = 0.0
    scans = 0
    for health in parts.acquisition.healths:
        name = health.device
        states[health.state] += 1
        up.add(health.state is DeviceState.OK, name)
        requests.add(health.requests, name)
        errors.add(health.errors, name)
        observed = health.response_times
        waited.add(observed.total, name)
        overruns.add(health.missed_scans, name)
        if health.last_poll_time is not None:
            last.add(health.last_poll_time, name)
        for kind, count in health.errors_by_kind().items():
            kinds[kind] += count
        for index, count in enumerate(observed.counts):
            buckets[index] += count
        total_time += observed.total
        scans += health.scans
    yield from (up, requests, errors, waited, overruns, last)
    by_state = Family("gateway_devices", "Devices in each state.", labels=("state",))
    for state, count in states.items():
        by_state.add(count, state.value)
    yield by_state
    by_kind = Family(
        "gateway_modbus_errors_total",
        "Failed requests and connection attempts of every device, by kind.",
        COUNTER,
        ("kind",),
    )
    for kind, count in kinds.items():
        by_kind.add(count, kind.value)
    yield by_kind
    yield Family(
        "gateway_modbus_response_time_seconds",
        "Time from request to answer (data or a Modbus exception), every device.",
        Kind.HISTOGRAM,
    ).add_histogram(Histogram(RESPONSE_TIME_BOUNDS, buckets, total_time))
    yield Family("gateway_modbus_scans_total", "Scans completed, every device.", COUNTER).add(scans)


def bus_metrics(parts: Parts) -> Iterator[Family]:
    """What the pollers published and what each consumer's bounded queue holds or dropped."""
    bus = parts.bus
    yield Family(
        "gateway_bus_published_batches_total", "Scans' changed values published.", COUNTER
    ).add(bus.published_batches)
    yield Family("gateway_bus_published_values_total", "Changed values published.", COUNTER).add(
        bus.published_values
    )
    consumer = ("consumer",)
    depth = Family("gateway_bus_queue_depth", "Batches queued for the consumer.", labels=consumer)
    capacity = Family(
        "gateway_bus_queue_capacity", "Batches the consumer's queue holds.", labels=consumer
    )
    delivered = Family(
        "gateway_bus_delivered_batches_total", "Batches taken by the consumer.", COUNTER, consumer
    )
    dropped_batches = Family(
        "gateway_bus_dropped_batches_total",
        "Batches dropped because the consumer's queue was full.",
        COUNTER,
        consumer,
    )
    dropped_values = Family(
        "gateway_bus_dropped_values_total",
        "Values in the dropped batches.",
        COUNTER,
        consumer,
    )
    for subscription in bus.subscriptions:
        name = subscription.name
        depth.add(len(subscription), name)
        capacity.add(subscription.maxsize, name)
        delivered.add(subscription.delivered_batches, name)
        dropped_batches.add(subscription.dropped_batches, name)
        dropped_values.add(subscription.dropped_values, name)
    yield from (depth, capacity, delivered, dropped_batches, dropped_values)


def storage_metrics(parts: Parts) -> Iterator[Family]:
    """The historian's rows written, buffered and dropped, commits and their failures."""
    historian = parts.historian
    counters = historian.counters
    rows = {
        "received": (counters.rows_received, "Rows made from values and samples."),
        "written": (counters.rows_written, "Rows newly stored."),
        "duplicate": (counters.rows_duplicate, "Rows the database held already (replays)."),
        "dropped": (counters.rows_dropped, "Rows dropped: buffer full, refused, or at a stop."),
        "expired": (historian.rows_expired, "Rows deleted by the retention."),
    }
    for name, (value, text) in rows.items():
        yield Family(f"gateway_storage_rows_{name}_total", text, COUNTER).add(value)
    yield Family(
        "gateway_storage_rows_buffered", "Rows waiting for a commit (bounded: buffer_limit)."
    ).add(counters.buffered)
    yield Family("gateway_storage_commits_total", "Transactions committed.", COUNTER).add(
        counters.batches
    )
    yield Family(
        "gateway_storage_commit_failures_total",
        "Commits that failed and were retried (database down or too slow).",
        COUNTER,
    ).add(counters.retries)
    yield Family(
        "gateway_storage_alarm_events_written_total", "Alarm journal events stored.", COUNTER
    ).add(counters.alarm_events_written)
    yield Family(
        "gateway_storage_alarm_events_dropped_total", "Alarm journal events dropped.", COUNTER
    ).add(counters.alarm_events_dropped)
    yield Family(
        "gateway_storage_writable", "1 while the database is prepared and the last commit worked."
    ).add(historian.writable)
    if counters.last_commit_time is not None:
        yield Family(
            "gateway_storage_last_commit_timestamp_seconds", "When the last commit ended."
        ).add(counters.last_commit_time)


def alarm_metrics(parts: Parts) -> Iterator[Family]:
    """How many alarms are in each state (never one series per alarm)."""
    counts = dict.fromkeys(AlarmState, 0)
    for snapshot in parts.alarms.snapshots():
        counts[snapshot.state] += 1
    by_state = Family("gateway_alarms", "Alarms in each state.", labels=("state",))
    for state, count in counts.items():
        by_state.add(count, state.value)
    yield by_state
    active = counts[AlarmState.UNACK] + counts[AlarmState.ACKED]
    yield Family("gateway_alarms_active", "Alarms whose condition holds.").add(active)
    unacked = counts[AlarmState.UNACK] + counts[AlarmState.RTN_UNACK]
    yield Family("gateway_alarms_unacknowledged", "Alarms awaiting acknowledgement.").add(unacked)


def opcua_metrics(parts: Parts) -> Iterator[Family]:
    """What the OPC UA server holds now, and what it refused since it started."""
    stats = parts.opcua.stats()
    held = {
        "connections": "TCP connections open.",
        "sessions": "Sessions (activated, awaiting activation and detached).",
        "detached_sessions": "Sessions whose connection dropped, kept for a reconnect.",
        "subscriptions": "Subscriptions.",
        "monitored_items": "Monitored items across every subscription.",
    }
    for name, text in held.items():
        yield Family(f"gateway_opcua_{name}", text).add(getattr(stats, name))
    refused = {
        "connections_refused": "Connections refused by the limits.",
        "logins_refused": "Logins refused (wrong password, locked out, not allowed).",
        "client_faults": "Requests refused as malformed or beyond a limit.",
    }
    for name, text in refused.items():
        yield Family(f"gateway_opcua_{name}_total", text, COUNTER).add(getattr(stats, name))


def mqtt_metrics(parts: Parts) -> Iterator[Family]:
    """The MQTT publisher's connection, what it published and its replay backlog (`mqtt:`)."""
    view = parts.mqtt
    if view is None:
        return
    state = view.state
    now = str(state.state)
    yield Family("gateway_mqtt_connected", "1 while connected to a broker.").add(
        now in CONNECTED_STATES
    )
    by_state = Family(
        "gateway_mqtt_state", "1 for the publisher's connection state.", labels=("state",)
    )
    for name in ALL_STATES:
        by_state.add(name == now, name)
    yield by_state
    counted = {
        "connects": (state.connects, "Connections to a broker established."),
        "messages_published": (state.messages, "Messages the broker acknowledged taking."),
        "births": (state.births, "Sparkplug NBIRTH messages (rebirths too)."),
        "commands_written": (state.commands_written, "Sparkplug commands written to devices."),
        "commands_refused": (state.commands_refused, "Sparkplug commands refused."),
        "replayed_values": (state.replay_sent, "Stored values replayed as historical."),
        "replay_skipped_values": (
            state.replay_skipped,
            "Stored values not replayed: their device was not born.",
        ),
    }
    for name, (value, text) in counted.items():
        yield Family(f"gateway_mqtt_{name}_total", text, COUNTER).add(value)
    yield Family("gateway_mqtt_replay_active", "1 while stored data is being replayed.").add(
        state.replay_active
    )
    yield Family(
        "gateway_mqtt_replay_backlog_windows", "Outage windows of stored data still to replay."
    ).add(len(view.forwarder.backlog))
    yield Family(
        "gateway_mqtt_replay_backlog_seconds", "Time span of stored data still to replay."
    ).add(backlog_seconds(view))
    if state.acked_until is not None:
        yield Family(
            "gateway_mqtt_confirmed_timestamp_seconds",
            "Data up to this time (Unix) is confirmed to have reached the broker.",
        ).add(state.acked_until)


#: Every part's metrics; a new part adds its function here.
SOURCES: tuple[Callable[[Parts], Iterable[Family]], ...] = (
    gateway_metrics,
    device_metrics,
    bus_metrics,
    storage_metrics,
    alarm_metrics,
    opcua_metrics,
    mqtt_metrics,
)


def gateway_families(parts: Parts) -> Iterator[Family]:
    """Every family of every source, in order."""
    for source in SOURCES:
        yield from source(parts)


def http_metrics(counters: HttpCounters, sessions: int, logins_refused: int) -> Iterator[Family]:
    """The HTTP server's own: responses, refusals, connections, sessions."""
    responses = Family(
        "gateway_http_responses_total", "Responses by status code.", COUNTER, ("code",)
    )
    for code, count in sorted(counters.responses.items()):
        responses.add(count, str(code))
    yield responses
    refused = Family(
        "gateway_http_requests_refused_total",
        "Requests refused before a route: too large, too slow, CSRF, foreign host.",
        COUNTER,
        ("reason",),
    )
    for reason, count in sorted(counters.requests_refused.items()):
        refused.add(count, reason)
    yield refused
    yield Family("gateway_http_connections", "HTTP connections open.").add(counters.connections)
    yield Family(
        "gateway_http_connections_refused_total", "Connections over the caps.", COUNTER
    ).add(counters.connections_refused)
    yield Family("gateway_http_sessions", "Logged-in browser sessions.").add(sessions)
    yield Family("gateway_http_logins_refused_total", "Status page logins refused.", COUNTER).add(
        logins_refused
    )
