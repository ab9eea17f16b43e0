"""Broken configurations: every error names the file, line, key path and what was expected.

Each case is a small file; the expectation lists every error as
(line, key path, words the message must contain), in file order.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.config import load_config
from gateway.errors import ConfigError

Expected = list[tuple[int | None, str, tuple[str, ...]]]

HEAD = """\
gateway: {name: g}
opcua: {anonymous: true}
devices:
  - name: d
    host: h
    tags:
"""  # a valid start: lines 1-6, tags follow from line 7


def tags(*lines: str) -> str:
    return HEAD + "".join(f"      - {line}\n" for line in lines)


def alarms(*lines: str) -> str:
    body = tags(
        "{name: temp, table: holding_register, address: 0, type: float32}",
        "{name: on, table: coil, address: 0, type: bool}",
        "{name: label, table: holding_register, address: 2, type: string, length: 4}",
    )
    return body + "alarms:\n" + "".join(f"  - {line}\n" for line in lines)  # alarms from line 11


CASES = [
    pytest.param(
        "gateway:\n  name: g\n devices: []\n",
        [(3, "", ("invalid YAML",))],
        id="yaml-syntax-error",
    ),
    pytest.param(
        "gateway: {name: g\nopcua: {}\n",
        [(2, "", ("invalid YAML", "flow mapping", "line 1"))],
        id="yaml-unclosed-flow-mapping",
    ),
    pytest.param(
        "gateway:\n\tname: g\n",
        [(2, "", ("invalid YAML", "tabs"))],
        id="yaml-tab-indentation",
    ),
    pytest.param("", [(None, "", ("empty",))], id="empty-file"),
    pytest.param(
        HEAD.replace("host: h", "host: !!bool maybe") + "      []\n",
        [(5, "devices[0].host", ("invalid bool value: 'maybe'",))],
        id="yaml-tag-unreadable",  # PyYAML's own reader raised KeyError, a traceback
    ),
    pytest.param(
        HEAD.replace("host: h", "host: !!timestamp soon") + "      []\n",
        [(5, "devices[0].host", ("invalid timestamp value: 'soon'",))],
        id="yaml-timestamp-unreadable",
    ),
    pytest.param(
        HEAD.replace("host: h", "host: !!int ''") + "      []\n",
        [(5, "devices[0].host", ("invalid int value: ''",))],
        id="yaml-empty-int",
    ),
    pytest.param(
        "- gateway\n- devices\n",
        [(1, "", ("expected a mapping", "got a list"))],
        id="not-a-mapping",
    ),
    pytest.param(
        HEAD.replace("    host: h\n", "    host: h\n    host: h2\n") + "      []\n",
        [(6, "devices[0].host", ("duplicate key 'host'", "line 5"))],
        id="duplicate-key",
    ),
    pytest.param(
        tags("{name: t, table: holding_register, address: 0, type: flaot32}"),
        [(7, "devices[0].tags[0].type", ("'flaot32' is not one of bool, int16", "'float32'?"))],
        id="misspelled-type",
    ),
    pytest.param(
        tags("{name: t, table: holding_registers, address: 0, type: int16}"),
        [(7, "devices[0].tags[0].table", ("is not one of coil, discrete_input",))],
        id="misspelled-table",
    ),
    pytest.param(
        HEAD.replace("host: h", "hots: h") + "      []\n",
        [
            (4, "devices[0]", ("missing required key 'host'",)),
            (
                5,
                "devices[0].hots",
                ("unknown key 'hots'", "did you mean 'host'", "expected one of"),
            ),
        ],
        id="unknown-key",
    ),
    pytest.param(
        "opcua: {anonymous: true}\n",
        [(1, "", ("missing required key 'gateway'",))],
        id="missing-section",
    ),
    pytest.param(
        tags("{name: t, table: holding_register, type: int16}"),
        [(7, "devices[0].tags[0]", ("missing required key 'address'", "ref"))],
        id="missing-required-key",
    ),
    pytest.param(
        HEAD + "      []\n    scan_interval: 1x\n",
        [(8, "devices[0].scan_interval", ("expected a duration", "250ms", "'1x'"))],
        id="bad-duration",
    ),
    pytest.param(
        HEAD + "      []\n    timeout: 0s\n",
        [(8, "devices[0].timeout", ("longer than 0",))],
        id="zero-duration",
    ),
    pytest.param(
        HEAD + "      []\n    scan_interval: 500\n",
        [(8, "devices[0].scan_interval", ("a duration needs its unit: write 500ms or 500s",))],
        id="duration-without-unit",
    ),
    pytest.param(
        HEAD + "      []\n    timeout: '${GW_UNSET_TIMEOUT:-0.5}'\n",
        [(8, "devices[0].timeout", ("write 0.5ms or 0.5s",))],
        id="duration-without-unit-from-the-environment",
    ),
    pytest.param(
        alarms("{name: a, tag: d.temp, high: 1, delay: 2, off_delay: 0}"),
        [(11, "alarms[0].delay", ("write 2ms or 2s",))],
        id="alarm-delay-without-unit",
    ),
    pytest.param(
        HEAD.replace("host: h", "host: 127.0.0.1:502") + "      []\n",
        [(5, "devices[0].host", ("has a port in it", "write host: 127.0.0.1 and port: 502"))],
        id="port-in-host",
    ),
    pytest.param(
        HEAD.replace("host: h", "host: 'tcp://plc.local:1502'") + "      []\n",
        [(5, "devices[0].host", ("is a URL", "host: plc.local and port: 1502"))],
        id="url-as-host",
    ),
    pytest.param(
        "gateway: {name: g}\nopcua:\n  users:\n    - {name: op, password: '${GW_UNSET_VAR}'}\n",
        [(4, "opcua.users[0].password", ("GW_UNSET_VAR is not set",))],
        id="unset-env-var",
    ),
    pytest.param(
        HEAD + "      []\n  - {name: d, host: h2}\n",
        [(8, "devices[1].name", ("duplicate device name 'd'", "devices[0]"))],
        id="duplicate-device",
    ),
    pytest.param(
        tags(
            "{name: t, table: holding_register, address: 0, type: int16}",
            "{name: t, table: holding_register, address: 1, type: int16}",
        ),
        [(8, "devices[0].tags[1].name", ("duplicate tag name 't'",))],
        id="duplicate-tag",
    ),
    pytest.param(
        alarms("{name: a, tag: d.temp, high: 1}", "{name: a, tag: d.temp, low: 1}"),
        [(12, "alarms[1].name", ("duplicate alarm name 'a'",))],
        id="duplicate-alarm",
    ),
    pytest.param(
        tags("{name: t, table: holding_register, address: 65535, type: float32}"),
        [(7, "devices[0].tags[0].address", ("65536", "beyond the last address 65535"))],
        id="address-plus-size-beyond-65535",
    ),
    pytest.param(
        tags("{name: t, table: holding_register, address: 65536, type: int16}"),
        [(7, "devices[0].tags[0].address", ("at most 65535", "65536"))],
        id="address-beyond-65535",
    ),
    pytest.param(
        tags("{name: t, table: coil, address: 0, type: bool, bit: 3}"),
        [(7, "devices[0].tags[0].bit", ("coil is a bit table",))],
        id="bit-on-coil",
    ),
    pytest.param(
        tags("{name: t, table: holding_register, address: 0, type: bool, bit: 16}"),
        [(7, "devices[0].tags[0].bit", ("at most 15", "16"))],
        id="bit-16",
    ),
    pytest.param(
        tags("{name: t, table: holding_register, address: 0, type: int16, bit: 1}"),
        [(7, "devices[0].tags[0].bit", ("needs type bool",))],
        id="bit-on-int16",
    ),
    pytest.param(
        tags("{name: t, table: coil, address: 0, type: int16}"),
        [(7, "devices[0].tags[0].type", ("coil", "must be bool"))],
        id="coil-not-bool",
    ),
    pytest.param(
        tags("{name: t, table: input_register, address: 0, type: int16, writable: true}"),
        [(7, "devices[0].tags[0].writable", ("read-only", "coil and holding_register"))],
        id="writable-input-register",
    ),
    pytest.param(
        tags("{name: t, table: holding_register, address: 0, type: string}"),
        [(7, "devices[0].tags[0]", ("missing required key 'length'", "registers"))],
        id="string-without-length",
    ),
    pytest.param(
        tags("{name: t, table: holding_register, address: 0, type: string, length: 0}"),
        [(7, "devices[0].tags[0].length", ("at least 1", "got 0"))],
        id="string-length-0",
    ),
    pytest.param(
        tags("{name: t, table: holding_register, address: 0, type: int16, length: 2}"),
        [(7, "devices[0].tags[0].length", ("only for string tags",))],
        id="length-on-int16",
    ),
    pytest.param(
        tags("{name: t, table: holding_register, address: 0, type: int16, range: [10, 0]}"),
        [(7, "devices[0].tags[0].range", ("low must be below high", "[10, 0]"))],
        id="range-reversed",
    ),
    pytest.param(
        tags("{name: t, table: holding_register, address: 0, type: int16, range: [1, 2, 3]}"),
        [(7, "devices[0].tags[0].range", ("expected [low, high]",))],
        id="range-three-numbers",
    ),
    pytest.param(
        tags("{name: t, table: holding_register, address: 0, type: int16, scale: 0}"),
        [(7, "devices[0].tags[0].scale", ("must not be 0",))],
        id="scale-zero",
    ),
    pytest.param(
        tags("{name: t, table: coil, address: 0, type: bool, scale: 2}"),
        [(7, "devices[0].tags[0].scale", ("numeric tags only",))],
        id="scale-on-bool",
    ),
    pytest.param(
        alarms("{name: a, tag: d.nope, high: 1}"),
        [(11, "alarms[0].tag", ("device 'd' has no tag 'nope'",))],
        id="alarm-on-missing-tag",
    ),
    pytest.param(
        alarms("{name: a, tag: dd.temp, high: 1}"),
        [(11, "alarms[0].tag", ("no device 'dd'", "did you mean 'd'"))],
        id="alarm-on-missing-device",
    ),
    pytest.param(
        alarms("{name: a, tag: d.on, high: 1}"),
        [(11, "alarms[0].tag", ("limit alarm needs a numeric tag", "bool"))],
        id="limit-alarm-on-bool",
    ),
    pytest.param(
        alarms("{name: a, tag: d.label, low: 1}"),
        [(11, "alarms[0].tag", ("limit alarm needs a numeric tag", "string"))],
        id="limit-alarm-on-string",
    ),
    pytest.param(
        alarms("{name: a, tag: d.on, equals: 1}"),
        [(11, "alarms[0].equals", ("use true or false",))],
        id="discrete-alarm-number-on-bool",
    ),
    pytest.param(
        alarms("{name: a, tag: d.temp, severity: 500}"),
        [(11, "alarms[0]", ("needs limits", "equals", "stale or quality"))],
        id="alarm-without-limits",
    ),
    pytest.param(
        alarms("{name: a, tag: d.on, equals: true, high: 1}"),
        [(11, "alarms[0].equals", ("one kind", "limits and equals"))],
        id="alarm-both-kinds",
    ),
    pytest.param(
        alarms("{name: a, tag: d.temp, deviation: {from: d.nope, limit: 5}}"),
        [(11, "alarms[0].deviation.from", ("device 'd' has no tag 'nope'",))],
        id="deviation-from-missing-tag",
    ),
    pytest.param(
        alarms("{name: a, tag: d.temp, deviation: {from: d.label, limit: 5}}"),
        [(11, "alarms[0].deviation.from", ("'d.label' is string", "numeric"))],
        id="deviation-from-string-tag",
    ),
    pytest.param(
        alarms("{name: a, tag: d.temp, deviation: {from: d.temp, limit: 5}}"),
        [(11, "alarms[0].deviation.from", ("the alarm's own tag",))],
        id="deviation-from-itself",
    ),
    pytest.param(
        alarms("{name: a, tag: d.temp, deviation: {from: temp, limit: 5}}"),
        [(11, "alarms[0].deviation.from", ("expected '<device>.<tag>'",))],
        id="deviation-from-not-a-reference",
    ),
    pytest.param(
        alarms("{name: a, tag: d.temp, rate_of_change: {per: 0s, limit: 5}}"),
        [(11, "alarms[0].rate_of_change.per", ("longer than 0",))],
        id="rate-per-zero",
    ),
    pytest.param(
        alarms("{name: a, tag: d.temp, rate_of_change: {per: 1s, limit: 0}}"),
        [(11, "alarms[0].rate_of_change.limit", ("greater than 0",))],
        id="rate-limit-zero",
    ),
    pytest.param(
        alarms("{name: a, tag: d.temp, rate_of_change: {per: 1s, limit: 2}, deadband: 2}"),
        [(11, "alarms[0].deadband", ("below the rate_of_change limit (2)", "got 2"))],
        id="rate-deadband-not-below-limit",
    ),
    pytest.param(
        alarms("{name: a, tag: d.on, rate_of_change: {per: 1s, limit: 2}}"),
        [(11, "alarms[0].tag", ("rate_of_change alarm needs a numeric tag", "bool"))],
        id="rate-on-bool",
    ),
    pytest.param(
        alarms("{name: a, tag: d.temp, stale: 1s}"),
        [(11, "alarms[0].stale", ("longer than the scan interval", "(1s)", "got 1s"))],
        id="stale-not-longer-than-scan",
    ),
    pytest.param(
        alarms("{name: a, tag: d.temp, stale: 10m, deadband: 1}"),
        [(11, "alarms[0].deadband", ("stale alarm has no deadband",))],
        id="stale-with-deadband",
    ),
    pytest.param(
        alarms("{name: a, tag: d.temp, quality: 30s, stale: 10m}"),
        [(11, "alarms[0].quality", ("one kind", "stale and quality"))],
        id="stale-and-quality",
    ),
    pytest.param(
        alarms("name: a\n    tag: d.temp\n    high_high: 90\n    high: 95\n    low: 99"),
        [
            (13, "alarms[0].high_high", ("must be above high (95)", "got 90")),
            (14, "alarms[0].high", ("must be above low (99)", "got 95")),
        ],
        id="limits-out-of-order",
    ),
    pytest.param(
        alarms("{name: a, tag: d.temp, high: 1, message: 'at {value} {oops}'}"),
        [(11, "alarms[0].message", ("unknown placeholder {oops}", "value, unit, limit"))],
        id="alarm-message-placeholder",
    ),
    pytest.param(
        alarms("{name: a, tag: d.temp, high: 1, message: 'at {value:.1q}'}"),
        [(11, "alarms[0].message", ("invalid format spec '.1q' in {value}",))],
        id="alarm-message-format-spec",
    ),
    pytest.param(
        alarms("{name: a, tag: d.temp, high: 1, message: 'at {value:{limit}}'}"),
        [(11, "alarms[0].message", ("invalid format spec",))],
        id="alarm-message-nested-spec",
    ),
    pytest.param(
        alarms("{name: a, tag: d.temp, high: 1, severity: 1001}"),
        [(11, "alarms[0].severity", ("at most 1000",))],
        id="severity-too-high",
    ),
    pytest.param(
        HEAD + "      []\n    max_read_registers: 200\n",
        [(8, "devices[0].max_read_registers", ("at most 125", "Modbus limit", "200"))],
        id="max-read-registers-200",
    ),
    pytest.param(
        HEAD + "      []\n    max_read_bits: 2001\n",
        [(8, "devices[0].max_read_bits", ("at most 2000",))],
        id="max-read-bits-2001",
    ),
    pytest.param(
        tags("{name: t, ref: 20001, type: int16}"),
        [(7, "devices[0].tags[0].ref", ("'20001'", "not a Modicon table"))],
        id="bad-ref-table",
    ),
    pytest.param(
        tags("{name: t, ref: 4001, type: int16}"),
        [(7, "devices[0].tags[0].ref", ("5- or 6-digit Modicon reference", "4001"))],
        id="bad-ref-length",
    ),
    pytest.param(
        tags("{name: t, ref: 40001, address: 3, type: int16}"),
        [(7, "devices[0].tags[0].ref", ("either ref or address",))],
        id="ref-with-address",
    ),
    pytest.param(
        HEAD + "      []\n    port: http\n",
        [(8, "devices[0].port", ("expected an integer", "'http'"))],
        id="port-not-integer",
    ),
    pytest.param(
        HEAD + "      {a: 1}\n",
        [(6, "devices[0].tags", ("expected a list", "got a mapping"))],
        id="tags-not-a-list",
    ),
    pytest.param(
        "gateway: {name: my plant}\nopcua: {anonymous: true}\n",
        [(1, "gateway.name", ("'my plant' is not a valid name",))],
        id="bad-name",
    ),
    pytest.param(
        "gateway: {name: g}\nopcua:\n  endpoint: http://x\n  security: {policies: []}\n",
        [
            (3, "opcua.endpoint", ("opc.tcp://",)),
            (4, "opcua.security.policies", ("allow_none is false",)),
        ],
        id="opcua-endpoint-and-policies",
    ),
    pytest.param(
        "gateway: {name: g}\nstorage: {url: gateway.db, retention: forever}\n",
        [
            (2, "storage.url", ("database URL",)),
            (2, "storage.retention", ("expected a duration",)),
        ],
        id="storage-url-and-retention",
    ),
    pytest.param(
        textwrap.dedent(
            """\
            gateway: {name: g}
            opcua:
              anonymous: maybe
              users: [{name: u, password: p, role: operater}]
            devices:
              - name: d
                host: h
                port: 70000
                tags:
                  - {name: t, table: holding_register, address: 0, type: flaot32}
                  - {name: s, table: holding_register, address: 4, type: string}
                  - {name: c, table: coil, address: 0, type: bool, bit: 1, colour: red}
            alarms:
              - {name: a, tag: d.t, high: 1, low: 2}
            """
        ),
        [
            (3, "opcua.anonymous", ("expected true or false", "'maybe'")),
            (4, "opcua.users[0].role", ("'operater' is not one of viewer, operator, admin",)),
            (8, "devices[0].port", ("at most 65535",)),
            (10, "devices[0].tags[0].type", ("'flaot32' is not one of",)),
            (11, "devices[0].tags[1]", ("missing required key 'length'",)),
            (12, "devices[0].tags[2].colour", ("unknown key 'colour'",)),
            (14, "alarms[0].high", ("must be above low",)),
        ],
        id="several-errors-at-once",
    ),
    pytest.param(
        alarms(
            "{name: a, tag: d.temp, high: 1}",
            "{name: a, tag: d.nope, high: 1}",
            "{name: b, tag: d.label, high: 1}",
        ).replace("  - name: d\n", "  - name: d\n    port: 0\n", 1),
        [
            (5, "devices[0].port", ("at least 1",)),
        ],
        id="schema-errors-come-before-cross-checks",
    ),
    pytest.param(
        alarms(
            "{name: a, tag: d.temp, high: 1}",
            "{name: a, tag: d.nope, high: 1}",
            "{name: b, tag: d.label, high: 1}",
        )
        + "  - {name: c, tag: d.on, equals: 2}\n",
        [
            (12, "alarms[1].name", ("duplicate alarm name 'a'",)),
            (12, "alarms[1].tag", ("has no tag 'nope'",)),
            (13, "alarms[2].tag", ("numeric tag",)),
            (14, "alarms[3].equals", ("true or false",)),
        ],
        id="several-cross-check-errors-at-once",
    ),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_broken_config(tmp_path: Path, text: str, expected: Expected) -> None:
    path = tmp_path / "plant.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    errors = [issue for issue in caught.value.issues if not issue.warning]
    assert [(e.line, e.path) for e in errors] == [(line, p) for line, p, _ in expected], str(
        caught.value
    )
    for error, (line, key_path, words) in zip(errors, expected, strict=True):
        assert error.file == str(path)
        where = f"{path}:{line}: " if line is not None else f"{path}: "
        assert str(error).startswith(where + (f"{key_path}: " if key_path else ""))
        for word in words:
            assert word in error.message, (word, error.message)


def test_overlap_is_a_warning_not_an_error(tmp_path: Path) -> None:
    path = tmp_path / "plant.yaml"
    path.write_text(
        tags(
            "{name: a, table: holding_register, address: 0, type: float32}",
            "{name: b, table: holding_register, address: 1, type: int16}",
            "{name: c, table: holding_register, address: 5, type: bool, bit: 2}",
            "{name: e, table: holding_register, address: 5, type: bool, bit: 2}",
            "{name: f, table: input_register, address: 0, type: int16}",
        ),
        encoding="utf-8",
    )
    loaded = load_config(path)
    assert [str(w) for w in loaded.warnings] == [
        f"{path}:8: warning: devices[0].tags[1].address: tag 'b' overlaps tag 'a' "
        "(holding_register 0..1)",
        f"{path}:10: warning: devices[0].tags[3].address: tag 'e' overlaps tag 'c' "
        "(holding_register 5 bit 2)",
    ]
    assert len(loaded.config.devices[0].tags) == 5


def test_warnings_are_reported_with_errors(tmp_path: Path) -> None:
    path = tmp_path / "plant.yaml"
    path.write_text(
        tags(
            "{name: a, table: holding_register, address: 0, type: float32}",
            "{name: a, table: holding_register, address: 1, type: int16}",
        ),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert [(i.line, i.path, i.warning) for i in caught.value.issues] == [
        (8, "devices[0].tags[1].name", False),
        (8, "devices[0].tags[1].address", True),
    ]


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    (issue,) = caught.value.issues
    assert (issue.file, issue.line) == (str(path), None)
    assert "cannot read" in issue.message


def test_relative_file_name_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("plant.yaml").write_text("gateway: {name: g}\nopcua: {anonymous: 1.5}\n")
    with pytest.raises(ConfigError) as caught:
        load_config("plant.yaml")
    assert str(caught.value).startswith("plant.yaml:2: opcua.anonymous: expected true or false")


def test_unset_variable_is_reported_once(tmp_path: Path) -> None:
    path = tmp_path / "plant.yaml"
    path.write_text("gateway: {name: '${GW_UNSET_NAME}'}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert [(i.line, i.path) for i in caught.value.issues] == [(1, "gateway.name")]


FULL = (Path(__file__).parent / "configs" / "full.yaml").read_text(encoding="utf-8")


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    start=st.integers(min_value=0, max_value=len(FULL)),
    length=st.integers(min_value=0, max_value=40),
    insert=st.sampled_from(["", ":", "-", " ", "\n", "{", "]", "'", "0", "x", "\t", "&a", "*a"]),
)
def test_a_damaged_file_never_raises_anything_but_config_error(
    tmp_path: Path, start: int, length: int, insert: str
) -> None:
    """Any edit of a valid file gives a result or located issues, never a traceback."""
    text = FULL[:start] + insert + FULL[start + length :]
    path = tmp_path / "damaged.yaml"
    path.write_text(text, encoding="utf-8")
    line_count = text.count("\n") + 1
    try:
        loaded = load_config(path, environ={"GW_OPERATOR_PASSWORD": "p"})
    except ConfigError as exc:
        issues = exc.issues
        assert any(not issue.warning for issue in issues)
    else:
        issues = list(loaded.warnings)
    for issue in issues:
        assert issue.file == str(path)
        assert issue.line is None or 1 <= issue.line <= line_count
        assert issue.message


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_gateway_check_exits_1_and_names_every_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: Expected
) -> None:
    """The same broken files through `gateway check`: exit 1, file:line: path on stderr."""
    from gateway.cli import main

    path = tmp_path / "plant.yaml"
    path.write_text(text, encoding="utf-8")
    assert main(["check", "-c", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Traceback" not in captured.err
    for line, key_path, _ in expected:
        where = f"{path}:{line}: " if line is not None else f"{path}: "
        assert where + (f"{key_path}: " if key_path else "") in captured.err, captured.err


def test_a_route_matching_no_alarm_is_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "plant.yaml"
    path.write_text(
        alarms("{name: temp_high, tag: d.temp, high: 1}")
        + "notifications:\n  channels: [{name: log, type: log}]\n"
        + "  routes: [{alarms: [boiler_*], to: [log]}]\n",
        encoding="utf-8",
    )
    loaded = load_config(path, environ={})
    [warning] = loaded.warnings
    assert warning.warning
    assert warning.path == "notifications.routes[0].alarms"
    assert "boiler_* matches no configured alarm" in warning.message
