"""The pure parts of notifications: routes, the JSON body, the sliding window and its
digest, the retry backoff, the e-mail rendering, the config's checks."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from pydantic import ValidationError

from gateway.alarms.model import AlarmSnapshot, AlarmState, Shelving, Transition
from gateway.alarms.notify.channels import Outgoing
from gateway.alarms.notify.deliver import backoff
from gateway.alarms.notify.email import render_email
from gateway.alarms.notify.ratelimit import DIGEST_DETAILS, SlidingWindow, digest_body
from gateway.alarms.notify.routes import Router
from gateway.config.alarms import AlarmKind
from gateway.config.notifications import EmailChannel, NotificationsConfig, parse_rate_limit
from gateway.model import Status
from gateway.storage.rows import OutboxMessage

T0 = 1_700_000_000.0


def snapshot(name: str = "boiler_temp", severity: int = 700, **fields: Any) -> AlarmSnapshot:
    values: dict[str, Any] = {
        "name": name,
        "tag": "boiler.temp",
        "kind": AlarmKind.LIMIT,
        "state": AlarmState.UNACK,
        "severity": severity,
        "message": "boiler.temp 95 degC above the high limit 90",
        "limit": "high",
        "value": 95.0,
        "quality": Status.GOOD,
        "time": T0,
        **fields,
    }
    return AlarmSnapshot(**values)


def router(*routes: dict[str, Any]) -> Router:
    config = NotificationsConfig.model_validate(
        {
            "channels": [{"name": n, "type": "log"} for n in ("a", "b", "c")],
            "routes": list(routes),
        }
    )
    return Router(config, gateway="plant1")


def test_routes_match_by_pattern_severity_and_transition_one_message_per_channel() -> None:
    r = router(
        {"alarms": ["boiler_*"], "min_severity": 500, "on": ["active"], "to": ["a", "b"]},
        {"alarms": ["*temp"], "on": ["active", "acknowledged"], "to": ["b", "c"]},
    )
    active = r.messages(snapshot(), Transition.ACTIVATED)
    assert [m.channel for m in active] == ["a", "b", "c"]
    assert len({m.message_id for m in active}) == 3
    assert [m.channel for m in r.messages(snapshot(), Transition.ACKNOWLEDGED)] == ["b", "c"]
    assert r.messages(snapshot(), Transition.CLEARED) == ()
    assert [m.channel for m in r.messages(snapshot(severity=499), Transition.ACTIVATED)] == [
        "b",
        "c",
    ]
    assert r.messages(snapshot(name="tank_level"), Transition.ACTIVATED) == ()
    assert r.messages(snapshot(), Transition.QUALITY) == ()


def test_a_shelved_or_disabled_alarm_sends_only_its_shelving() -> None:
    r = router({"on": ["active", "cleared", "shelved"], "to": ["a"]})
    shelved = snapshot(shelving=Shelving.ONESHOT)
    assert r.messages(shelved, Transition.ACTIVATED) == ()
    assert r.messages(snapshot(enabled=False), Transition.CLEARED) == ()
    [message] = r.messages(shelved, Transition.SHELVED)
    assert json.loads(message.payload)["on"] == "shelved"


def test_the_json_body_is_documented_and_carries_the_id() -> None:
    [message] = router({"to": ["a"]}).messages(snapshot(), Transition.ACTIVATED)
    body = json.loads(message.payload)
    assert body == {
        "id": message.message_id,
        "gateway": "plant1",
        "alarm": "boiler_temp",
        "tag": "boiler.temp",
        "transition": "activated",
        "on": "active",
        "state": "active_unacked",
        "severity": 700,
        "message": "boiler.temp 95 degC above the high limit 90",
        "value": 95.0,
        "limit": "high",
        "time": "2023-11-14T22:13:20Z",
        "user": None,
        "comment": None,
        "shelving": "unshelved",
        "enabled": True,
    }
    [nan] = router({"to": ["a"]}).messages(snapshot(value=float("nan")), Transition.ACTIVATED)
    assert json.loads(nan.payload)["value"] is None


def test_the_window_slides_and_reopens_at_exactly_the_oldest_send_plus_per() -> None:
    window = SlidingWindow(2, 60.0)
    assert window.room(T0) == 2
    window.sent(T0)
    window.sent(T0 + 10)
    assert window.room(T0 + 59.999) == 0
    assert window.reopens(T0 + 30) == T0 + 60
    assert window.room(T0 + 60) == 1
    assert window.room(T0 + 70) == 2


def test_a_digest_counts_every_message_and_details_the_newest() -> None:
    newest = [
        OutboxMessage(f"id{i}", "a", "alarm0", "activated", T0 + i, json.dumps({"n": i}))
        for i in range(DIGEST_DETAILS)
    ]
    body = json.loads(digest_body("d1", "plant1", {"alarm0": 300, "alarm1": 12}, newest))
    assert body["count"] == 312
    assert body["alarms"] == {"alarm0": 300, "alarm1": 12}
    assert body["omitted"] == 312 - DIGEST_DETAILS
    assert body["messages"][0] == {"n": 0}
    assert body["last_time"] == "2023-11-14T22:14:09Z"


def test_backoff_doubles_is_capped_and_jittered_down_to_half() -> None:
    rng = random.Random(1)
    for attempts, full in ((0, 1.0), (1, 2.0), (3, 8.0), (20, 300.0), (500, 300.0)):
        waits = [backoff(attempts, 300.0, rng) for _ in range(50)]
        assert all(full * 0.5 <= w <= full for w in waits)
        assert len(set(waits)) > 1


def test_email_rendering_uses_the_templates_and_the_stable_message_id() -> None:
    channel = EmailChannel.model_validate(
        {
            "name": "m",
            "type": "email",
            "smtp": "smtps://mail.example",
            "from": "gw@plant.example",
            "to": ["a@plant.example"],
            "subject": "{alarm}: {message}\n(injected: header)",
        }
    )
    [message] = router({"to": ["a"]}).messages(snapshot(), Transition.ACTIVATED)
    mail = render_email(channel, Outgoing("abc123", message.payload), domain="plant1.invalid")
    assert mail["Subject"] == (
        "boiler_temp: boiler.temp 95 degC above the high limit 90 (injected: header)"
    )
    assert mail["Message-ID"] == "<abc123@plant1.invalid>"
    assert "Severity: 700" in mail.get_content()


@pytest.mark.parametrize(
    ("text", "count", "per"), [("10/min", 10, 60.0), ("100/h", 100, 3600.0), ("1/s", 1, 1.0)]
)
def test_rate_limits(text: str, count: int, per: float) -> None:
    limit = parse_rate_limit(text)
    assert (limit.count, limit.per) == (count, per)


@pytest.mark.parametrize(
    ("section", "error"),
    [
        ({"rate_limit": "lots"}, "expected a rate like 10/min"),
        ({"routes": [{"to": ["nope"]}]}, "no channel 'nope'"),
        ({"channels": [{"name": "h", "type": "webhook", "url": "ftp://x"}]}, "http://"),
        ({"channels": [{"name": "h", "type": "pager"}]}, "type"),
        (
            {
                "channels": [
                    {"name": "m", "type": "email", "smtp": "smtp://h", "from": "a", "to": ["b"],
                     "subject": "{nope}"}
                ]
            },
            "unknown placeholder {nope}",
        ),
        ({"channels": [{"name": "x", "type": "log"}, {"name": "x", "type": "log"}]}, "duplicate"),
    ],
)  # fmt: skip
def test_config_errors_say_what_is_wrong(section: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError, match=error.replace("{", r"\{").replace("}", r"\}")):
        NotificationsConfig.model_validate(section)


def test_secrets_are_not_in_the_config_repr() -> None:
    config = NotificationsConfig.model_validate(
        {
            "channels": [
                {"name": "h", "type": "webhook", "url": "https://x/y",
                 "headers": {"Authorization": "Bearer s3cret"}},
                {"name": "m", "type": "email", "smtp": "smtp://h", "from": "a", "to": ["b"],
                 "password": "pa55word"},
            ]
        }
    )  # fmt: skip
    assert "s3cret" not in repr(config)
    assert "pa55word" not in repr(config)
