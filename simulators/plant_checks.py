"""Checks across a plant file: names, overlapping points, model links, fault units.

Rules about one point or one model live on their models; what needs to see
several items at once is here. Each finding names the key path of the item to
blame (the later of two clashing ones), so the loader can point at its line.
"""

from __future__ import annotations

from collections.abc import Iterator

from gateway.config.validation import Finding, did_you_mean, duplicates
from gateway.config.yamlsource import KeyPath
from gateway.model import DataType, Table
from simulators.faults import UnitFault
from simulators.plant import Plant, PointConfig, SlaveConfig, UnitConfig

__all__ = ["check_plant"]


def check_plant(plant: Plant) -> list[Finding]:
    """Every cross-item problem of `plant`."""
    if not plant.slaves:
        return [Finding(("slaves",), "the plant has no slaves: nothing to serve")]
    findings = list(
        duplicates(((("slaves", i), s.name) for i, s in enumerate(plant.slaves)), "slave name")
    )
    endpoints = (
        (("slaves", i), f"{s.host}:{s.port}") for i, s in enumerate(plant.slaves) if s.port != 0
    )
    findings += [
        Finding((*f.path[:-1], "port"), f.message) for f in duplicates(endpoints, "host:port")
    ]
    for index, slave in enumerate(plant.slaves):
        findings += _slave_findings(slave, ("slaves", index))
    return findings


def _slave_findings(slave: SlaveConfig, path: KeyPath) -> list[Finding]:
    units = [(((*path, "units", i), u.unit_id)) for i, u in enumerate(slave.units)]
    findings = [Finding((*f.path[:-1], "unit_id"), f.message) for f in duplicates(units, "unit_id")]
    if not slave.units:
        findings.append(Finding((*path, "units"), "the slave has no units: give at least one"))
    for index, unit in enumerate(slave.units):
        findings += _unit_findings(unit, (*path, "units", index))
    unit_ids = {unit.unit_id for unit in slave.units}
    for index, fault in enumerate(slave.faults):
        if isinstance(fault, UnitFault) and fault.unit_id not in (None, *unit_ids):
            known = ", ".join(str(u) for u in sorted(unit_ids))
            findings.append(
                Finding(
                    (*path, "faults", index, "unit_id"),
                    f"slave {slave.name} has no unit {fault.unit_id} (units: {known})",
                )
            )
    return findings


def _unit_findings(unit: UnitConfig, path: KeyPath) -> list[Finding]:
    points = [((*path, "points", i), p.name) for i, p in enumerate(unit.points)]
    findings = list(duplicates(points, "point name"))
    findings += _overlaps(unit, path)
    if unit.size is not None:
        findings += [
            Finding(
                (*path, "points", i, "address"),
                f"{p.name} ends at address {p.address + p.size - 1}, outside the unit's "
                f"size {unit.size} (addresses 0..{unit.size - 1})",
            )
            for i, p in enumerate(unit.points)
            if p.address + p.size > unit.size
        ]
    findings += _model_findings(unit, path)
    return findings


def _overlaps(unit: UnitConfig, path: KeyPath) -> Iterator[Finding]:
    """Two points on the same address; bools in different bits of a register may share it."""
    whole: dict[tuple[Table, int], str] = {}
    bits: dict[tuple[Table, int], dict[int, str]] = {}
    for index, point in enumerate(unit.points):
        clash = _claim(point, whole, bits)
        if clash is not None:
            yield Finding(
                (*path, "points", index, "address"),
                f"{point.name} overlaps {clash} at {point.table} {point.address}",
            )


def _claim(
    point: PointConfig,
    whole: dict[tuple[Table, int], str],
    bits: dict[tuple[Table, int], dict[int, str]],
) -> str | None:
    if point.bit is not None:
        key = (point.table, point.address)
        owner = whole.get(key) or bits.setdefault(key, {}).get(point.bit)
        bits[key].setdefault(point.bit, point.name)
        return owner
    keys = [(point.table, address) for address in range(point.address, point.address + point.size)]
    for key in keys:
        owner = whole.get(key) or next(iter(bits.get(key, {}).values()), None)
        if owner is not None:
            return owner
    whole.update(dict.fromkeys(keys, point.name))
    return None


def _model_findings(unit: UnitConfig, path: KeyPath) -> list[Finding]:
    findings: list[Finding] = []
    names = [point.name for point in unit.points]
    driven: dict[str, int] = {}
    for index, model in enumerate(unit.models):
        where = (*path, "models", index)
        outputs = model.output_points()
        for field, name in _point_fields(model):
            point = unit.point(name)
            if point is None:
                findings.append(Finding((*where, field), _no_point(name, names, unit.unit_id)))
            elif point.type is DataType.STRING:
                findings.append(Finding((*where, field), f"{name} is a string point, not a number"))
            elif name in outputs:
                findings += _output_findings(point, index, driven, (*where, field))
    return findings


def _output_findings(
    point: PointConfig, index: int, driven: dict[str, int], where: KeyPath
) -> list[Finding]:
    if point.signal is not None or point.value is not None:
        source = "signal" if point.signal is not None else "value"
        return [Finding(where, f"{point.name} is set by this model and cannot have a {source}")]
    first = driven.setdefault(point.name, index)
    if first != index:
        return [Finding(where, f"{point.name} is already set by models[{first}]")]
    return []


def _point_fields(model: object) -> Iterator[tuple[str, str]]:
    """(field, point name) of every point a model links to."""
    for field in type(model).model_fields:  # type: ignore[attr-defined]
        value = getattr(model, field)
        if field != "kind" and isinstance(value, str):
            yield field, value


def _no_point(name: str, names: list[str], unit_id: int) -> str:
    return f"unit {unit_id} has no point '{name}'{did_you_mean(name, names)}"
