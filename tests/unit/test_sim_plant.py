"""Plant files: a valid file loads; broken ones report every problem at file:line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import simulators
from gateway.errors import ConfigError
from gateway.model import ByteOrder, DataType, Table, WordOrder
from simulators.faults import ExceptionFault, OfflineFault, SlowFault
from simulators.loader import load_plant
from simulators.models import TankModel
from simulators.plant import Plant
from simulators.signals import SineSignal


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plant.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def errors_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_plant(path)
    return [str(issue) for issue in caught.value.issues]


def test_a_valid_plant_loads_with_defaults_and_shorthands(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        name: small
        tick: 50ms
        seed: 3
        slaves:
          - name: plc
            units:
              - unit_id: 7
                word_order: little
                points:
                  - {name: temp, ref: 30001, type: float32,
                     signal: {kind: sine, mean: 20, period: 1m}}
                  - {name: level, ref: 400011, type: float32, byte_order: little}
                  - {name: run, ref: "00001"}
                  - {name: label, table: holding_register, address: 20, type: string,
                     length: 4, value: "P-101"}
                models:
                  - {kind: tank, level: level, inflow: 0.5, max: 4}
            faults:
              - {kind: slow, delay: [100ms, 300ms], unit_id: 7}
              - {kind: exception, code: 0x0B, start: 10, end: 20, at: 5s, duration: 2s}
              - {kind: offline, at: 1m, duration: 10s, every: 5m}
        """,
    )
    plant = load_plant(path)
    assert isinstance(plant, Plant)
    assert (plant.name, plant.tick, plant.seed) == ("small", 0.05, 3)
    slave = plant.slaves[0]
    assert (slave.host, slave.port) == ("127.0.0.1", 0)
    unit = slave.units[0]
    temp, level, run, label = unit.points
    assert (temp.table, temp.address) == (Table.INPUT_REGISTER, 0)
    assert isinstance(temp.signal, SineSignal)
    assert temp.signal.period == 60.0
    assert (level.table, level.address) == (Table.HOLDING_REGISTER, 10)
    encoding = unit.encoding(level)
    assert encoding is not None
    assert (encoding.byte_order, encoding.word_order) == (ByteOrder.LITTLE, WordOrder.LITTLE)
    assert (run.table, run.address, run.type) == (Table.COIL, 0, DataType.BOOL)
    assert label.value == "P-101"
    assert unit.table_size == 24
    assert isinstance(unit.models[0], TankModel)
    slow, exception, offline = slave.faults
    assert isinstance(slow, SlowFault)
    assert slow.delay == (0.1, 0.3)
    assert isinstance(exception, ExceptionFault)
    assert (exception.code, exception.start, exception.end) == (11, 10, 20)
    assert isinstance(offline, OfflineFault)
    assert offline.every == 300.0


def test_schema_errors_are_all_reported_with_file_line_and_path(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        name: broken
        slaves:
          - name: a
            units:
              - unit_id: 1
                points:
                  - {name: t, table: holding_register, address: 0, type: flaot32}
                  - name: s
                    table: input_register
                    address: 0
                    type: float32
                    signal: {kind: sine, periode: 2s}
                  - {name: i, table: holding_register, address: 4, type: int16, value: 40000}
                  - {name: c, table: coil, address: 0, type: uint16}
                models:
                  - {kind: heatr}
            faults:
              - {kind: exception, code: 5}
        """,
    )
    errors = errors_of(path)
    prefix = f"{path}:"
    points = "slaves[0].units[0].points"
    assert f"{prefix}7: {points}[0].type: 'flaot32' is not one of bool, int16" in errors[0]
    assert errors[0].endswith("(did you mean 'float32'?)")
    assert errors[1].startswith(
        f"{prefix}12: {points}[1].signal.periode: unknown key 'periode' for kind sine "
        "(did you mean 'period'?"
    )
    assert errors[2] == f"{prefix}12: {points}[1].signal: missing required key 'period'"
    assert (
        errors[3]
        == f"{prefix}13: {points}[2].value: 40000 is out of range for int16: -32768..32767"
    )
    assert (
        errors[4] == f"{prefix}14: {points}[3].type: coil points are single bits: type must be bool"
    )
    assert errors[5].startswith(
        f"{prefix}16: slaves[0].units[0].models[0].kind: 'heatr' is not one of tank, heater"
    )
    assert errors[6].startswith(f"{prefix}18: slaves[0].faults[0].code: 5 is not a supported")
    assert len(errors) == 7


def test_cross_checks_report_overlaps_names_links_and_units(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        name: broken
        slaves:
          - name: a
            port: 5020
            units:
              - unit_id: 1
                size: 4
                points:
                  - {name: s, table: input_register, address: 0, type: float32}
                  - {name: o, table: input_register, address: 1, type: uint16}
                  - {name: b0, table: holding_register, address: 0, bit: 0, type: bool}
                  - {name: b1, table: holding_register, address: 0, bit: 1, type: bool}
                  - {name: b0, table: holding_register, address: 1, type: uint16}
                  - {name: far, table: holding_register, address: 4, type: uint16}
                  - {name: sig, table: holding_register, address: 2, type: uint16,
                     signal: {kind: counter}}
                models:
                  - {kind: tank, level: levl, max: 5}
                  - {kind: motor, speed: sig, setpoint: 1, rate: 1}
            faults:
              - {kind: hang, unit_id: 3}
          - name: a
            port: 5020
            units: []
        """,
    )
    errors = [error.removeprefix(f"{path}:") for error in errors_of(path)]
    unit = "slaves[0].units[0]"
    assert errors == [
        f"10: {unit}.points[1].address: o overlaps s at input_register 1",
        f"13: {unit}.points[4].name: duplicate point name 'b0' (also {unit}.points[2])",
        f"14: {unit}.points[5].address: far ends at address 4, outside the unit's size 4 "
        "(addresses 0..3)",
        f"18: {unit}.models[0].level: unit 1 has no point 'levl'",
        f"19: {unit}.models[1].speed: sig is set by this model and cannot have a signal",
        "21: slaves[0].faults[0].unit_id: slave a has no unit 3 (units: 1)",
        "22: slaves[1].name: duplicate slave name 'a' (also slaves[0])",
        "23: slaves[1].port: duplicate host:port '127.0.0.1:5020' (also slaves[0])",
        "24: slaves[1].units: the slave has no units: give at least one",
    ]


def test_a_yaml_syntax_error_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "name: x\nslaves:\n  - name: a\n   port: 1\n")
    (error,) = errors_of(path)
    assert error.startswith(f"{path}:4: invalid YAML")


def test_a_plant_without_slaves_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "name: empty\n")
    assert errors_of(path) == [f"{path}:1: slaves: the plant has no slaves: nothing to serve"]


def test_the_bundled_demo_plant_loads() -> None:
    plant = load_plant(Path(simulators.__file__).parent / "plants" / "demo.yaml")
    assert [s.name for s in plant.slaves] == ["boiler", "compressor", "tank_farm", "meter"]
    assert [s.port for s in plant.slaves] == [5020, 5021, 5022, 5023]
    for slave in plant.slaves:
        count = sum(len(unit.points) for unit in slave.units)
        least = 5 if slave.transport != "tcp" else 20  # a meter has few points
        assert least <= count <= 50, (slave.name, count)
