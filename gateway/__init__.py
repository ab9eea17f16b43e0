"""Modbus TCP → OPC UA gateway with a historian, alarms and simulated PLCs.

Where things are, from the commands down to the vocabulary. A module imports
only from rows below its own (tests/unit/test_import_layers.py holds the rules;
docs/architecture.md tells the data flow):

    __main__.py     `python -m gateway`
    cli/            `gateway …` commands: the only place that prints for users or exits
    demo/, bench/   `gateway demo` (a plant, a gateway, a status block); `gateway bench` workloads
    app.py          wiring: HTTP, historian, alarm engine, acquisition, OPC UA server, in order
    http/           the status page, Prometheus metrics, /healthz and /readyz
    mqtt/           north-bound MQTT: Sparkplug B edge node, JSON topics, replay from storage
    present/        text for people: the check report, history and alarm tables, typed times
    opcua/          the OPC UA server: address space, live values, writes, history, conditions
      stack/        its adapter: the only user of asyncua's server, behind our own transport
      guards/       the bounds and rules every OPC UA client is held to (pure)
    uaclient/       the OPC UA client of `gateway browse|read|write|watch` (never loads opcua/)
    ua/             what the server and the client share: wire helpers, certificates
    modbus/         acquisition: every device's poller in one TaskGroup, the read planner
                    (pure), block decoders, PDUs, transports and links, the tag writer
    alarms/         alarm rules and state machines fed by the bus; the alarm journal
    storage/        the historian: schema, migrations, writer, retention, queries (SQLAlchemy)
    tags.py         runtime tags: a configured tag with its device's defaults and encoding
    bus.py          bounded fan-out of value batches, one queue per consumer
    config/         YAML → frozen pydantic models; errors as file:line: path: message
    codec.py        registers ⇄ values for every data type and order (pure)
    errors.py       the GatewayError tree
    model.py        the vocabulary: Table, DataType, Status (OPC UA codes), TagValue
    loop.py         the process: uvloop, stop signals
    collector.py    the process's garbage-collector policy (the only module that calls gc)
    lifecycle.py    the one lifecycle idiom: Part (run once, `async with`) and task_group
    filemodes.py    files and folders only their owner may read
    backoff.py      the one capped, jittered exponential backoff rule
    systemd.py      systemd's notify protocol: ready, watchdog, stopping

simulators/, beside this package, are the simulated PLCs; of the gateway they
use the vocabulary, the codec, configuration loading, the loop and the lifecycle only.

The names in `__all__` are the public API. Each loads its module on first use:
`import gateway` alone loads nothing else, so `gateway --help` and the OPC UA
client stay quick and never load the parts they do not use.
"""

# Imported under private names: the namespace holds the public API and nothing else.
import importlib as _importlib
import typing as _typing

if _typing.TYPE_CHECKING:
    from gateway.app import Gateway, run_until_signalled
    from gateway.config import GatewayConfig, LoadedConfig, load_config
    from gateway.errors import (
        AlarmAlreadyAcked,
        AlarmError,
        BrokerError,
        ClientError,
        CodecError,
        ConfigError,
        ConfigIssue,
        DeviceError,
        DeviceTimeout,
        DeviceUnreachable,
        GatewayError,
        MalformedResponse,
        ModbusException,
        StorageError,
        UnknownAlarm,
        WriteRejected,
    )
    from gateway.model import ByteOrder, DataType, Status, Table, TagValue, Value, WordOrder

__version__ = "0.1.0"

__all__ = [
    "AlarmAlreadyAcked",
    "AlarmError",
    "BrokerError",
    "ByteOrder",
    "ClientError",
    "CodecError",
    "ConfigError",
    "ConfigIssue",
    "DataType",
    "DeviceError",
    "DeviceTimeout",
    "DeviceUnreachable",
    "Gateway",
    "GatewayConfig",
    "GatewayError",
    "LoadedConfig",
    "MalformedResponse",
    "ModbusException",
    "Status",
    "StorageError",
    "Table",
    "TagValue",
    "UnknownAlarm",
    "Value",
    "WordOrder",
    "WriteRejected",
    "__version__",
    "load_config",
    "run_until_signalled",
]

#: The modules that define the public names (the imports above), the lightest first:
#: a name loads the modules up to its own, which it needs anyway.
_HOMES = ("gateway.model", "gateway.errors", "gateway.config", "gateway.app")


if not _typing.TYPE_CHECKING:  # type checkers see the imports above instead

    def __getattr__(name: str) -> _typing.Any:
        """A public name, imported from its module on first use (PEP 562)."""
        if name in __all__:
            for home in _HOMES:
                module = _importlib.import_module(home)
                if name in module.__all__:
                    value = getattr(module, name)
                    globals()[name] = value  # later lookups are plain attribute reads
                    return value
        raise AttributeError(f"module 'gateway' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
