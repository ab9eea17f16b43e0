"""Checks across a whole configuration: names, overlaps, alarm references.

Rules about one tag or one alarm live on their models; what needs to see
several items at once is here. Each finding carries the key path of the item
to blame (the later of two duplicates), so the loader can point at its line.
"""

from __future__ import annotations

import fnmatch

from gateway.config.alarms import AlarmConfig, AlarmKind
from gateway.config.lines import line_findings
from gateway.config.models import DeviceConfig, GatewayConfig
from gateway.config.tags import TagConfig
from gateway.config.validation import Finding, did_you_mean, duplicates
from gateway.config.yamlsource import KeyPath
from gateway.model import DataType, Table

__all__ = ["Finding", "check_config"]


def check_config(config: GatewayConfig, *, opcua: bool = True) -> list[Finding]:
    """Every cross-item finding of `config`, errors and warnings, in file order.

    `opcua=False`: leave out the OPC UA section's, for commands that do not serve it.
    """
    findings: list[Finding] = []
    findings += duplicates(
        ((("devices", i), d.name) for i, d in enumerate(config.devices)), "device name"
    )
    findings += duplicates(
        ((("alarms", i), a.name) for i, a in enumerate(config.alarms)), "alarm name"
    )
    if opcua:
        findings += _opcua_findings(config)
    for index, device in enumerate(config.devices):
        findings += _device_findings(device, ("devices", index))
    findings += _shared_connections(config.devices)
    findings += line_findings(config.devices)
    for index, alarm in enumerate(config.alarms):
        findings += _alarm_findings(config, alarm, ("alarms", index))
    findings += _route_findings(config)
    return findings


def _route_findings(config: GatewayConfig) -> list[Finding]:
    """A route whose patterns match no configured alarm is likely a typo (a warning)."""
    names = [alarm.name for alarm in config.alarms]
    findings = []
    for index, route in enumerate(config.notifications.routes):
        if not any(fnmatch.fnmatchcase(n, p) for n in names for p in route.alarms):
            patterns = ", ".join(route.alarms)
            findings.append(
                Finding(
                    ("notifications", "routes", index, "alarms"),
                    f"{patterns} matches no configured alarm: this route sends nothing",
                    True,
                )
            )
    return findings


def _opcua_findings(config: GatewayConfig) -> list[Finding]:
    users = config.opcua.users
    findings = list(
        duplicates(((("opcua", "users", i), u.name) for i, u in enumerate(users)), "user name")
    )
    if not config.opcua.anonymous and not users:
        findings.append(
            Finding(("opcua",), "no users and anonymous is false: no client can log in", True)
        )
    return findings


def _device_findings(device: DeviceConfig, path: KeyPath) -> list[Finding]:
    findings = list(
        duplicates(
            (((*path, "tags", i), tag.name) for i, tag in enumerate(device.tags)), "tag name"
        )
    )
    if not device.tags:
        findings.append(
            Finding((*path, "tags"), "device has no tags: nothing will be polled", True)
        )
    findings += _overlaps(device.tags, (*path, "tags"))
    return findings


def _shared_connections(devices: tuple[DeviceConfig, ...]) -> list[Finding]:
    """Devices sharing a `connection` must reach one host:port, each with its own unit id.

    A different host or port cannot share a socket; two devices with one unit
    id on one connection are almost always a copy-paste slip.
    """
    findings: list[Finding] = []
    first: dict[str, int] = {}
    unit_owner: dict[tuple[str, int], int] = {}
    for index, device in enumerate(devices):
        name = device.connection
        if name is None:
            continue
        head = devices[first.setdefault(name, index)]
        path: KeyPath = ("devices", index)
        for key in ("host", "port"):
            theirs, ours = getattr(head, key), getattr(device, key)
            if ours != theirs:
                findings.append(
                    Finding(
                        (*path, key),
                        f"{key} {ours} differs from {theirs} of device '{head.name}', "
                        f"which shares connection '{name}'",
                    )
                )
        owner = unit_owner.setdefault((name, device.unit_id), index)
        if owner != index:
            findings.append(
                Finding(
                    (*path, "unit_id"),
                    f"unit id {device.unit_id} is already used on connection '{name}' "
                    f"by device '{devices[owner].name}'",
                )
            )
    return findings


def _overlaps(tags: tuple[TagConfig, ...], path: KeyPath) -> list[Finding]:
    """Warn where two tags read the same addresses of one table.

    Often a mistake (a float32 at 0 and another at 1) but sometimes on purpose
    (one register as int16 and as bits), hence a warning. Bool tags on
    different bits of one register do not overlap; the same bit twice does.
    Sorting makes this O(n log n) for the 100k-tag configs of the benchmarks.
    """
    findings: dict[KeyPath, Finding] = {}
    by_table: dict[Table, list[int]] = {}
    for index, tag in enumerate(tags):
        by_table.setdefault(tag.table, []).append(index)
    for indices in by_table.values():
        indices.sort(key=lambda i: (tags[i].address, i))
        active: list[int] = []  # earlier tags that reach at least the current address
        for index in indices:
            tag = tags[index]
            active = [i for i in active if tags[i].last_address >= tag.address]
            clash = next((i for i in active if _collide(tags[i], tag)), None)
            if clash is not None:
                first, later = sorted((clash, index))
                other = tags[first if later == index else later]
                where = (*path, later, "address")
                findings.setdefault(
                    where, Finding(where, _overlap_message(tags[later], other), True)
                )
            active.append(index)
    return [findings[key] for key in sorted(findings)]


def _collide(a: TagConfig, b: TagConfig) -> bool:
    # Callers guarantee the address ranges intersect; only bit picks can be disjoint.
    return a.bit is None or b.bit is None or a.bit == b.bit


def _overlap_message(tag: TagConfig, other: TagConfig) -> str:
    where = f"{other.table} {other.address}"
    if other.size > 1:
        where += f"..{other.last_address}"
    if other.bit is not None:
        where += f" bit {other.bit}"
    return f"tag '{tag.name}' overlaps tag '{other.name}' ({where})"


def _alarm_findings(config: GatewayConfig, alarm: AlarmConfig, path: KeyPath) -> list[Finding]:
    reference, device_name, tag_name = alarm.tag, alarm.device_name, alarm.tag_name
    device = config.device(device_name)
    here = (*path, "tag")
    if device is None:
        names = [d.name for d in config.devices]
        return [Finding(here, f"no device '{device_name}'{_suggest(device_name, names)}")]
    tag = device.tag(tag_name)
    if tag is None:
        names = [t.name for t in device.tags]
        return [
            Finding(
                here, f"device '{device_name}' has no tag '{tag_name}'{_suggest(tag_name, names)}"
            )
        ]
    if alarm.kind.needs_number and not tag.type.is_numeric:
        return [
            Finding(
                here,
                f"a {alarm.kind} alarm needs a numeric tag; '{reference}' is {tag.type} "
                "(use equals: for a discrete alarm)",
            )
        ]
    findings = _kind_findings(config, alarm, path, device.resolve(tag).scan_interval)
    if alarm.kind is AlarmKind.DISCRETE:
        if tag.type is DataType.STRING:
            findings.append(
                Finding(here, f"'{reference}' is a string tag; equals needs bool or numeric")
            )
        elif isinstance(alarm.equals, bool) != (tag.type is DataType.BOOL):
            wanted = "true or false" if tag.type is DataType.BOOL else "a number"
            findings.append(
                Finding((*path, "equals"), f"'{reference}' is {tag.type}: use {wanted}")
            )
    if tag.range is not None:
        low, high = tag.range
        findings.extend(
            Finding(
                (*path, key),
                f"limit {value:g} is outside the tag's range [{low:g}, {high:g}]",
                True,
            )
            for key, value in alarm.limits.items()
            if not low <= value <= high
        )
    return findings


def _kind_findings(
    config: GatewayConfig, alarm: AlarmConfig, path: KeyPath, scan_interval: float
) -> list[Finding]:
    """The checks of the kinds that look beyond their own tag: deviation, stale."""
    if alarm.stale is not None and alarm.stale <= scan_interval:
        return [
            Finding(
                (*path, "stale"),
                f"must be longer than the scan interval of '{alarm.tag}' "
                f"({scan_interval:g}s), got {alarm.stale:g}s: every scan would look frozen",
            )
        ]
    if alarm.deviation is None:
        return []
    reference = alarm.deviation.from_tag
    here = (*path, "deviation", "from")
    if reference == alarm.tag:
        return [Finding(here, f"'{reference}' is the alarm's own tag: it never deviates")]
    found = config.find_tag(reference)
    if found is None:
        device_name, _, tag_name = reference.partition(".")
        device = config.device(device_name)
        if device is None:
            names = [d.name for d in config.devices]
            return [Finding(here, f"no device '{device_name}'{_suggest(device_name, names)}")]
        names = [t.name for t in device.tags]
        return [
            Finding(
                here, f"device '{device_name}' has no tag '{tag_name}'{_suggest(tag_name, names)}"
            )
        ]
    if not found[1].type.is_numeric:
        return [Finding(here, f"'{reference}' is {found[1].type}; deviation needs a numeric tag")]
    return []


def _suggest(name: str, names: list[str]) -> str:
    hint = did_you_mean(name, names)
    if hint:
        return hint
    if names and len(names) <= 10:
        return f" (expected one of {', '.join(names)})"
    return ""
