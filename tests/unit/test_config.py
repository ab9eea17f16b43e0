"""The configuration layer accepts the whole §4 contract and builds frozen models."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, ValidationError

import gateway.config
from gateway.config import (
    AlarmConfig,
    AlarmKind,
    DeviceConfig,
    Finding,
    GatewayConfig,
    Role,
    SecurityMode,
    SecurityPolicy,
    Synchronous,
    TagConfig,
    load_config,
    load_model,
    parse_duration,
    parse_modicon_ref,
    resolve_sqlite_url,
)
from gateway.config.yamlbuild import expand_env
from gateway.config.yamlsource import format_path
from gateway.errors import ConfigError
from gateway.model import ByteOrder, DataType, Table, WordOrder
from gateway.tags import build_tags

CONFIGS = Path(__file__).parent / "configs"
ENV = {"GW_OPERATOR_PASSWORD": "s3cret"}


def write(tmp_path: Path, text: str, name: str = "gateway.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def full() -> GatewayConfig:
    loaded = load_config(CONFIGS / "full.yaml", environ=ENV)
    assert loaded.warnings == ()
    assert loaded.path == CONFIGS / "full.yaml"
    return loaded.config


def test_full_example_sections(full: GatewayConfig) -> None:
    assert full.gateway.name == "demo-plant"
    opcua = full.opcua
    assert opcua.endpoint == "opc.tcp://0.0.0.0:4841"
    assert opcua.namespace == "urn:modbus-opcua-gateway:demo-plant"
    assert opcua.security.policies == (
        SecurityPolicy.BASIC256SHA256,
        SecurityPolicy.AES256_SHA256_RSAPSS,
    )
    assert opcua.security.modes == (SecurityMode.SIGN, SecurityMode.SIGN_AND_ENCRYPT)
    assert opcua.security.pki_dir == CONFIGS.resolve() / "pki"
    users = {user.name: user for user in opcua.users}
    assert users["operator"].password.get_secret_value() == "s3cret"
    assert users["operator"].role is Role.OPERATOR
    assert users["admin"].password.get_secret_value() == "change-me"
    assert users["viewer"].password.get_secret_value() == "1234"
    assert users["viewer"].role is Role.VIEWER
    assert "s3cret" not in repr(full)
    storage = full.storage
    assert storage.url == f"sqlite:///{(CONFIGS.resolve() / 'data/gateway.db').as_posix()}"
    assert storage.retention == 30 * 86400
    assert storage.synchronous is Synchronous.FULL


def test_full_example_devices(full: GatewayConfig) -> None:
    boiler, tank = full.devices
    assert (boiler.host, boiler.port, boiler.unit_id) == ("127.0.0.1", 5020, 7)
    assert boiler.timeout == 0.25  # from the x-plc anchor via a merge key
    assert boiler.word_order is WordOrder.LITTLE
    assert (boiler.max_read_registers, boiler.max_read_bits, boiler.max_read_gap) == (100, 1000, 4)
    assert boiler.enabled
    assert (tank.host, tank.port, tank.enabled, tank.scan_interval) == (
        "10.0.0.2",
        502,
        False,
        7200,
    )
    assert tank.tags[0].address == 10  # 010 is decimal, not YAML 1.1 octal
    assert {tag.type for tag in boiler.tags} == set(DataType)


def test_full_example_tags(full: GatewayConfig) -> None:
    boiler = full.devices[0]
    temperature = boiler.tag("temperature")
    assert temperature is not None
    assert temperature.range == (0.0, 200.0)
    assert temperature.writable
    assert temperature.description == "Boiler water temperature"
    sizes = {tag.name: tag.size for tag in boiler.tags}
    assert sizes["batch_id"] == 8
    assert sizes["i64"] == 4
    assert sizes["flame_fault"] == 1
    refs = {tag.name: (tag.table, tag.address) for tag in boiler.tags if tag.name in _REFS}
    assert refs == _REFS
    assert boiler.tag("missing") is None


_REFS = {
    "flame_fault": (Table.COIL, 0),
    "door_open": (Table.DISCRETE_INPUT, 0),
    "level": (Table.INPUT_REGISTER, 100),
    "setpoint": (Table.HOLDING_REGISTER, 30),
    "last_word": (Table.HOLDING_REGISTER, 65535),
    "counter": (Table.HOLDING_REGISTER, 4),
}


def test_resolved_tag_settings(full: GatewayConfig) -> None:
    boiler = full.devices[0]
    by_name = {tag.name: boiler.resolve(tag) for tag in boiler.tags}
    assert by_name["temperature"].scan_interval == 0.5
    assert by_name["u16"].scan_interval == 1.0
    assert by_name["f64"].scan_interval == 300
    assert by_name["last_word"].scan_interval == 5400
    assert by_name["counter"].scan_interval == 1.5
    assert by_name["i32"].word_order is WordOrder.BIG
    assert by_name["u32"].word_order is WordOrder.LITTLE
    assert by_name["i64"].byte_order is ByteOrder.LITTLE
    assert by_name["u64"].byte_order is ByteOrder.BIG


def test_runtime_tags_apply_the_device_defaults_as_resolve_does(full: GatewayConfig) -> None:
    """build_tags applies the device's defaults inline (start-up speed): it must keep
    giving what DeviceConfig.resolve gives, tag for tag."""
    for device in full.devices:
        for config, tag in zip(device.tags, build_tags(device), strict=True):
            resolved = device.resolve(config)
            assert tag.scan_interval == resolved.scan_interval
            assert tag.encoding.byte_order is resolved.byte_order
            assert tag.encoding.word_order is resolved.word_order


def test_full_example_alarms(full: GatewayConfig) -> None:
    overtemp, flame, level = full.alarms
    assert overtemp.kind is AlarmKind.LIMIT
    assert overtemp.limits == {"low_low": 5, "low": 10, "high": 90, "high_high": 110}
    assert (overtemp.delay, overtemp.off_delay, overtemp.severity) == (2.0, 0.25, 700)
    assert flame.kind is AlarmKind.DISCRETE
    assert flame.equals is True
    assert (flame.device_name, flame.tag_name) == ("boiler", "flame_fault")
    assert level.severity == 500
    assert level.message is None
    found = full.find_tag(overtemp.tag)
    assert found is not None
    assert found[1].name == "temperature"
    assert full.find_tag("boiler.nope") is None
    assert full.find_tag("nope.temperature") is None


def test_minimal_config_gets_the_documented_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, "gateway: {name: g}\nopcua: {anonymous: true}\n")
    config = load_config(path).config
    assert config.opcua.endpoint == "opc.tcp://0.0.0.0:4840"
    assert config.opcua.security.policies == tuple(SecurityPolicy)
    assert config.opcua.security.modes == (SecurityMode.SIGN_AND_ENCRYPT,)
    assert not config.opcua.security.allow_none
    assert config.opcua.security.pki_dir == tmp_path.resolve() / "pki"
    assert config.storage.url == f"sqlite:///{(tmp_path.resolve() / 'gateway.db').as_posix()}"
    assert config.storage.synchronous is Synchronous.NORMAL
    assert config.devices == ()
    assert config.alarms == ()


def test_device_and_tag_defaults() -> None:
    device = DeviceConfig(name="d", host="h")
    assert (device.port, device.unit_id, device.scan_interval, device.timeout) == (502, 1, 1.0, 1.0)
    assert (device.byte_order, device.word_order) == (ByteOrder.BIG, WordOrder.BIG)
    assert (device.max_read_registers, device.max_read_bits, device.max_read_gap) == (125, 2000, 8)
    tag = TagConfig(name="t", table=Table.COIL, address=3, type=DataType.BOOL)
    assert (tag.scale, tag.offset, tag.deadband, tag.writable, tag.size) == (
        1.0,
        0.0,
        0.0,
        False,
        1,
    )
    assert tag.last_address == 3


def test_models_are_frozen_and_hashable(full: GatewayConfig) -> None:
    tag = full.devices[0].tags[0]
    with pytest.raises(ValidationError, match="frozen"):
        tag.address = 5  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        full.devices[0].port = 1  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        full.storage.url = "x"  # type: ignore[misc]
    assert isinstance(full.devices, tuple)
    assert hash(tag) == hash(tag.model_copy())


@pytest.mark.parametrize("host", ["plc-3", "plc.example.com", "10.0.0.7", "::1", "fe80::1%eth0"])
def test_a_host_without_a_port_is_kept_as_written(host: str) -> None:
    assert DeviceConfig(name="d", host=host).host == host


@pytest.mark.parametrize(
    ("host", "fix"),
    [
        ("10.0.0.7:502", "write host: 10.0.0.7 and port: 502"),
        ("[fe80::1]:1502", "write host: fe80::1 and port: 1502"),
        ("modbus://plc-3", "a URL, not a host name: write the host alone (host: plc-3)"),
        ("[::1]", "without brackets: host: ::1"),
        ("plc 3", "contains a space"),
    ],
)
def test_a_host_with_a_port_or_a_scheme_is_refused_with_the_fix(host: str, fix: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(fix)):
        DeviceConfig(name="d", host=host)


def test_models_reject_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="hots"):
        DeviceConfig.model_validate({"name": "d", "host": "h", "hots": "x"})


def test_env_vars_come_from_os_environ_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GW_NAME", "from-env")
    path = write(tmp_path, "gateway: {name: '${GW_NAME}'}\nopcua: {anonymous: true}\n")
    assert load_config(path).config.gateway.name == "from-env"


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("${A}", {"A": "1"}, "1"),
        ("x${A}y${B}", {"A": "1", "B": "2"}, "x1y2"),
        ("${A:-dflt}", {}, "dflt"),
        ("${A:-dflt}", {"A": ""}, "dflt"),
        ("${A:-}", {}, ""),
        ("$${A}", {"A": "1"}, "${A}"),
        ("cost: $5", {}, "cost: $5"),
    ],
)
def test_expand_env(text: str, env: dict[str, str], expected: str) -> None:
    assert expand_env(text, env) == (expected, [])


def test_expand_env_reports_every_unset_variable() -> None:
    assert expand_env("${A}-${B:-b}-${C}", {}) == ("-b-", ["A", "C"])


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("250ms", 0.25),
        ("1s", 1.0),
        ("5m", 300.0),
        ("2h", 7200.0),
        ("30d", 2_592_000.0),
        ("1h30m", 5400.0),
        ("1.5s", 1.5),
        (" 2 s ", 2.0),
        ("0.5", 0.5),
        (3, 3.0),
        (0.1, 0.1),
    ],
)
def test_parse_duration(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "1x", "s", "1 2s", "-1s", "1s2", True, None, [1], "nan"])
def test_parse_duration_rejects(text: object) -> None:
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("value", "fix"), [(500, "500ms or 500s"), (0.5, "0.5ms or 0.5s"), ("2", "2ms or 2s")]
)
def test_a_duration_without_a_unit_is_refused_where_units_are_required(
    value: object, fix: str
) -> None:
    with pytest.raises(ValueError, match=f"a duration needs its unit: write {fix}"):
        parse_duration(value, unit_required=True)
    assert parse_duration(0, unit_required=True) == 0.0  # no unit makes 0 ambiguous
    assert parse_duration("500ms", unit_required=True) == 0.5


def test_python_callers_still_give_durations_as_seconds() -> None:
    device = DeviceConfig(name="d", host="h", scan_interval=0.25, timeout=2)
    assert (device.scan_interval, device.timeout) == (0.25, 2.0)


@given(st.integers(min_value=1, max_value=10**9))
def test_duration_milliseconds_round_trip(milliseconds: int) -> None:
    assert parse_duration(f"{milliseconds}ms") == pytest.approx(milliseconds / 1000)


@pytest.mark.parametrize(
    ("ref", "table", "address"),
    [
        (40001, Table.HOLDING_REGISTER, 0),
        ("400001", Table.HOLDING_REGISTER, 0),
        (49999, Table.HOLDING_REGISTER, 9998),
        (465536, Table.HOLDING_REGISTER, 65535),
        (30001, Table.INPUT_REGISTER, 0),
        ("310000", Table.INPUT_REGISTER, 9999),
        (10001, Table.DISCRETE_INPUT, 0),
        ("00001", Table.COIL, 0),
        ("000100", Table.COIL, 99),
    ],
)
def test_parse_modicon_ref(ref: int | str, table: Table, address: int) -> None:
    assert parse_modicon_ref(ref) == (table, address)


@pytest.mark.parametrize("ref", [1, 4001, 4000001, "4x0001", 20001, 40000, "400000", True, 4.0])
def test_parse_modicon_ref_rejects(ref: object) -> None:
    with pytest.raises(ValueError, match="Modicon"):
        parse_modicon_ref(ref)


@given(st.sampled_from("0134"), st.integers(min_value=1, max_value=65536))
def test_six_digit_refs_cover_every_address(digit: str, number: int) -> None:
    table, address = parse_modicon_ref(f"{digit}{number:05d}")
    assert address == number - 1
    assert table.read_function == {"0": 1, "1": 2, "3": 4, "4": 3}[digit]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///gw.db", "sqlite:////base/gw.db"),
        ("sqlite:///sub/gw.db?timeout=5", "sqlite:////base/sub/gw.db?timeout=5"),
        ("sqlite+pysqlite:///gw.db", "sqlite+pysqlite:////base/gw.db"),
        ("sqlite:////abs/gw.db", "sqlite:////abs/gw.db"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
        ("sqlite://", "sqlite://"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ],
)
def test_resolve_sqlite_url(url: str, expected: str) -> None:
    assert resolve_sqlite_url(url, Path("/base")) == expected


def test_bits_of_one_register_do_not_overlap(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        gateway: {name: g}
        opcua: {anonymous: true}
        devices:
          - name: d
            host: h
            tags:
              - {name: a, table: holding_register, address: 0, bit: 0, type: bool}
              - {name: b, table: holding_register, address: 0, bit: 15, type: bool}
              - {name: c, table: input_register, address: 0, type: float32}
              - {name: e, table: coil, address: 0, type: bool}
        """,
    )
    assert load_config(path).warnings == ()


def test_plain_scalars_follow_yaml_1_2(tmp_path: Path) -> None:
    """`on`/`no` stay text (a tag named `on`), yet bool keys still accept yes/no/on/off."""
    path = write(
        tmp_path,
        """\
        gateway: {name: "no"}
        opcua: {anonymous: yes, security: {allow_none: on, policies: [], modes: []}}
        devices:
          - name: d
            host: h
            tags: [{name: on, table: coil, address: 0, type: bool, writable: Yes}]
        """,
    )
    config = load_config(path).config
    assert config.gateway.name == "no"
    assert config.opcua.anonymous
    assert config.opcua.security.allow_none
    assert config.devices[0].tags[0].name == "on"
    assert config.devices[0].tags[0].writable


def test_no_way_to_log_in_is_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, "gateway: {name: g}\n")
    (warning,) = load_config(path).warnings
    assert str(warning) == (
        f"{path}:1: warning: opcua: no users and anonymous is false: no client can log in"
    )


def test_load_model_is_generic(tmp_path: Path) -> None:
    class Plant(BaseModel):
        model_config = ConfigDict(frozen=True, extra="forbid")
        name: str
        speed: float = 1.0

    def checks(plant: Plant) -> list[Finding]:
        return [Finding(("speed",), "fast", warning=True)] if plant.speed > 10 else []

    path = write(tmp_path, "name: p\nspeed: 20\n", "plant.yaml")
    plant, warnings = load_model(path, Plant, checks=checks)
    assert plant == Plant(name="p", speed=20)
    assert [str(w) for w in warnings] == [f"{path}:2: warning: speed: fast"]
    bad = write(tmp_path, "name: p\nsped: 2\n", "bad.yaml")
    with pytest.raises(ConfigError) as caught:
        load_model(bad, Plant)
    assert str(caught.value) == (
        f"{bad}:2: sped: unknown key 'sped' (did you mean 'speed'? expected one of name, speed)"
    )


def test_alarm_message_placeholders_are_checked() -> None:
    with pytest.raises(ValidationError, match="unknown placeholder"):
        AlarmConfig(name="a", tag="d.t", high=1, message="{val}")
    alarm = AlarmConfig(name="a", tag="d.t", high=1, message="{alarm} {{literal}} {value:.2f}")
    assert alarm.message is not None


def test_format_path() -> None:
    assert format_path(("devices", 0, "tags", 3, "type")) == "devices[0].tags[3].type"
    assert format_path(()) == ""


def test_public_api_is_complete() -> None:
    for name in gateway.config.__all__:
        assert hasattr(gateway.config, name), name
    assert sorted(gateway.config.__all__) == sorted(set(gateway.config.__all__))


def test_yaml_details(tmp_path: Path) -> None:
    """Keys are taken as written, dates and 1:30 stay text, x- keys hold anchors."""

    class Doc(BaseModel):
        model_config = ConfigDict(frozen=True, extra="forbid")
        when: str
        ratio: str
        key: dict[str, int]

    path = write(
        tmp_path,
        """\
        x-anchor: &n 3
        when: 2024-01-02
        ratio: 1:30
        key: {"${HOME}": *n, 1: 1, x-skip: 9}
        """,
        "doc.yaml",
    )
    doc, warnings = load_model(path, Doc, environ={})
    assert doc == Doc(when="2024-01-02", ratio="1:30", key={"${HOME}": 3, "1": 1})
    assert warnings == []


def test_empty_sections_mean_defaults(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        gateway: {name: g}
        opcua:
          anonymous: true
          security:
          users:
        storage:
        devices:
          - {name: d, host: h, tags: }
        alarms:
        """,
    )
    loaded = load_config(path)
    assert loaded.config.storage.retention == 30 * 86400
    assert loaded.config.opcua.security.modes == (SecurityMode.SIGN_AND_ENCRYPT,)
    assert loaded.config.devices[0].tags == ()
    assert [w.path for w in loaded.warnings] == ["devices[0].tags"]


def test_without_tags_keeps_every_setting_but_the_tag_models(full: GatewayConfig) -> None:
    boiler = full.devices[0]
    assert full.device("boiler") is boiler  # both lookups cached on the originals
    assert boiler.tag("temperature") is not None
    slim = full.without_tags()
    assert [device.tags for device in slim.devices] == [(), ()]
    assert slim.device("boiler") is slim.devices[0]  # not the original's cached lookup
    assert slim.devices[0].tag("temperature") is None
    assert slim.model_dump(exclude={"devices"}) == full.model_dump(exclude={"devices"})
    assert [d.model_dump(exclude={"tags"}) for d in slim.devices] == [
        d.model_dump(exclude={"tags"}) for d in full.devices
    ]
    assert boiler.tag("temperature") is not None  # the originals untouched
    assert full.devices[0].tags == boiler.tags
    assert len(boiler.tags) > 0
