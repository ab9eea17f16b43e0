"""The status page's HTML, rendered on the server with the first data already in it.

The page works before its script runs (and shows what was true when it was
served); static/app.js then refreshes the same tables from /api/status every
second. Every value from the gateway is escaped; the page has no inline script
or style (the Content-Security-Policy forbids them), so the CSRF token and the
login rule travel in meta tags. The skeleton is in templates/.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from html import escape
from importlib.resources import files
from string import Template
from typing import Any

from gateway.opcua.users import Identity

__all__ = [
    "SHELVE_CHOICES",
    "format_time",
    "format_value",
    "mqtt_detail",
    "render_page",
    "silence_text",
]

#: The Shelve dialog's durations (seconds, label); "" is one-shot: until the alarm clears.
SHELVE_CHOICES = (
    ("3600", "1 hour"),
    ("28800", "8 hours"),
    ("86400", "24 hours"),
    ("", "until it clears (one-shot)"),
)


@cache
def _template(name: str) -> Template:
    return Template((files("gateway.http") / "templates" / name).read_text(encoding="utf-8"))


def format_value(value: Any) -> str:
    """A tag or alarm value as the page shows it (app.js formats the same way)."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def format_time(seconds: float | None) -> str:
    """UTC on the server; app.js shows the browser's local time once it runs."""
    if seconds is None:
        return ""
    return datetime.fromtimestamp(seconds, UTC).strftime("%H:%M:%S UTC")


def _time(seconds: float | None) -> str:
    if seconds is None:
        return '<td class="time"></td>'
    return f'<td class="time" data-time="{seconds:.3f}">{format_time(seconds)}</td>'


def _td(text: object, css: str) -> str:
    return f'<td class="{css}">{escape(str(text))}</td>'


def _account(identity: Identity | None) -> str:
    if identity is not None:
        return (
            f'<span id="user-name">{escape(identity.name)} ({identity.role.value})</span> '
            '<button type="button" id="logout-button">Log out</button>'
        )
    return (
        '<form id="login-form" autocomplete="on">'
        '<input id="login-user" name="user" autocomplete="username" placeholder="user" '
        'required maxlength="256" aria-label="user name">'
        '<input id="login-password" name="password" type="password" '
        'autocomplete="current-password" placeholder="password" required maxlength="1024" '
        'aria-label="password">'
        '<button type="submit" id="login-button">Log in</button></form>'
    )


def silence_text(alarm: dict[str, Any]) -> str:
    """Shelved or disabled, in words ("" when neither); app.js says the same."""
    if alarm["enabled"] is False:
        return "disabled"
    if alarm["shelving"] == "timed":
        return f"shelved until {format_time(alarm['shelved_until'])}"
    if alarm["shelving"] == "oneshot":
        return "shelved until it clears"
    return ""


def _alarm_actions(alarm: dict[str, Any], name: str) -> str:
    """Acknowledge while unacknowledged; Shelve, or Unshelve when shelved (not when disabled)."""
    actions = ""
    if not alarm["acked"]:
        actions += f'<button type="button" class="ack" data-alarm="{name}">Acknowledge</button>'
    if alarm["enabled"] is not False:
        shelved = alarm["shelving"] != "unshelved"
        css, text = ("unshelve", "Unshelve") if shelved else ("shelve", "Shelve")
        actions += f'<button type="button" class="{css}" data-alarm="{name}">{text}</button>'
    return actions


def _alarm_row(alarm: dict[str, Any], can_act: bool) -> str:
    name = escape(alarm["name"])
    silence = silence_text(alarm)
    badge = f' <span class="badge silenced">{escape(silence)}</span>' if silence else ""
    state = alarm["state"].replace("_", " ") + (", disabled" if alarm["enabled"] is False else "")
    css = escape(alarm["state"]) + (" silenced" if silence else "")
    return (
        f'<tr data-alarm="{name}" class="{css}">'
        f"{_td(alarm['severity'], 'severity')}"
        f'<td class="name">{name}{badge}</td>'
        f"{_td(state, 'state')}{_td(alarm['message'], 'message')}"
        f'{_time(alarm["time"])}<td class="action">'
        f"{_alarm_actions(alarm, name) if can_act else ''}</td></tr>"
    )


def shelve_dialog() -> str:
    """The dialog Shelve and Unshelve open: how long (Shelve only) and an optional reason."""
    options = "".join(f'<option value="{value}">{text}</option>' for value, text in SHELVE_CHOICES)
    return (
        '<dialog id="shelve-dialog" aria-labelledby="shelve-title">'
        '<form id="shelve-form" method="dialog">'
        '<h3 id="shelve-title">Shelve</h3>'
        '<label id="shelve-duration-row">For '
        f'<select id="shelve-duration" name="duration">{options}</select></label>'
        '<label>Reason <input id="shelve-reason" name="reason" maxlength="500" '
        'placeholder="optional, kept in the journal" autocomplete="off"></label>'
        '<div class="buttons"><button type="submit" value="cancel" class="secondary" '
        "formnovalidate>Cancel</button>"
        '<button type="submit" value="confirm" id="shelve-confirm">Shelve</button></div>'
        "</form></dialog>"
    )


def _device_row(device: dict[str, Any]) -> str:
    state = escape(device["state"])
    return (
        f'<tr data-device="{escape(device["name"])}" class="{state}">'
        f"{_td(device['name'], 'name')}"
        f'<td class="state"><span class="badge {state}">{state}</span></td>'
        f"{_td(device['requests'], 'num')}{_td(device['errors'], 'num')}"
        f"{_td(device['timeouts'], 'num wide')}{_td(device['missed_scans'], 'num wide')}"
        f"{_td(device['response_ms'], 'num')}{_td(device['last_error'], 'error wide')}</tr>"
    )


def _tag_row(tag: dict[str, Any]) -> str:
    return (
        f'<tr data-tag="{escape(tag["key"])}" class="{tag["quality"]}" tabindex="0">'
        f"{_td(tag['key'], 'key')}{_td(format_value(tag['value']), 'value')}"
        f"{_td(tag['unit'], 'unit')}{_td(tag['status'], 'status')}{_time(tag['time'])}</tr>"
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def mqtt_detail(mqtt: dict[str, Any]) -> str:
    """The MQTT block's words after the state and server; app.js says the same."""
    words = f"{_count(mqtt['messages'], 'message')} · {_count(mqtt['connects'], 'connection')} · "
    if mqtt["replay_active"]:
        words += f"replaying stored data ({mqtt['replay_sent']} values sent)"
    elif mqtt["backlog_windows"]:
        minutes = mqtt["backlog_seconds"] / 60
        words += f"replay pending: {mqtt['backlog_windows']} outage(s), {minutes:.1f} min"
    else:
        words += "nothing to replay"
    if mqtt["last_error"] and not mqtt["connected"]:
        words += f" · last error: {mqtt['last_error']}"
    return words


def _mqtt(mqtt: dict[str, Any] | None) -> str:
    if mqtt is None:
        return ""
    state = escape(mqtt["state"])
    return (
        f'<p id="mqtt" class="mqtt"><strong>MQTT</strong> '
        f'<span class="badge {state}">{state.replace("_", " ")}</span> '
        f'<span class="server">{escape(mqtt["server"])}</span> '
        f'<span class="detail">{escape(mqtt_detail(mqtt))}</span></p>'
    )


def _pager(name: str, page: dict[str, Any], noun: str) -> str:
    info = f"page {page['page']} of {page['pages']} · {page['total']} {noun}"
    first = " disabled" if page["page"] <= 1 else ""
    last = " disabled" if page["page"] >= page["pages"] else ""
    return (
        f'<nav class="pager" id="{name}-pager" aria-label="{noun} pages">'
        f'<button type="button" class="prev"{first}>‹ Prev</button>'
        f'<span class="info">{escape(info)}</span>'
        f'<button type="button" class="next"{last}>Next ›</button></nav>'
    )


def _sections(data: dict[str, Any], identity: Identity | None) -> str:
    alarms, devices, tags = data["alarms"], data["devices"], data["tags"]
    can_act = identity is not None and identity.can_write
    summary = ", ".join(f"{count} {state}" for state, count in devices["states"].items() if count)
    return _template("sections.html").substitute(
        alarm_count=f"{alarms['total']} of {alarms['configured']} not normal",
        alarm_rows="".join(_alarm_row(alarm, can_act) for alarm in alarms["rows"]),
        shelve_dialog=shelve_dialog() if can_act else "",
        alarms_empty_hidden=" hidden" if alarms["rows"] else "",
        device_summary=escape(summary),
        device_rows="".join(_device_row(device) for device in devices["rows"]),
        device_pager=_pager("device", devices, "devices"),
        mqtt=_mqtt(data.get("mqtt")),
        tag_rows="".join(_tag_row(tag) for tag in tags["rows"]),
        tag_pager=_pager("tag", tags, "tags"),
    )


def render_page(
    name: str,
    *,
    csrf: str,
    identity: Identity | None,
    login_required: bool,
    data: dict[str, Any] | None,
) -> str:
    """The whole page; `data` is /api/status's first answer, or None when a login is needed."""
    ready = data is not None and bool(data["ready"])
    if data is None:
        body = '<p id="login-needed" class="notice">Log in to see this gateway\'s status.</p>'
    else:
        body = _sections(data, identity)
    return _template("page.html").substitute(
        name=escape(name),
        csrf=escape(csrf),
        login_required="true" if login_required else "false",
        can_write="true" if identity is not None and identity.can_write else "false",
        ready_class="ok" if ready else "bad",
        ready_text="ready" if ready else "not ready",
        account=_account(identity),
        body=body,
    )
