"""Text at the CLI edge: times people type, statuses and values as printed."""

from __future__ import annotations

from datetime import datetime

import pytest

from gateway.model import Status
from gateway.present.timespec import parse_time
from gateway.present.values import format_status

NOW = 1_714_550_400.0  # 2024-05-01T08:00:00Z


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("-1h", NOW - 3600),
        ("1h", NOW - 3600),
        ("-90s", NOW - 90),
        ("-1h30m", NOW - 5400),
        ("-7d", NOW - 7 * 86400),
        ("2024-05-01T06:00:00Z", NOW - 7200),
        ("2024-05-01T10:00:00+02:00", NOW),
        ("1714550400.5", NOW + 0.5),
    ],
)
def test_times_in_every_accepted_form(text: str, expected: float) -> None:
    assert parse_time(text, NOW) == expected


def test_iso_without_offset_is_local_time() -> None:
    assert parse_time("2024-05-01T08:00", NOW) == datetime(2024, 5, 1, 8, 0).timestamp()


@pytest.mark.parametrize("text", ["yesterday", "-1 fortnight", "2024-13-01", "nan", ""])
def test_bad_times_say_what_is_accepted(text: str) -> None:
    with pytest.raises(ValueError, match="expected ISO 8601"):
        parse_time(text, NOW)


@pytest.mark.parametrize(
    ("status", "text"),
    [
        (Status.GOOD, "Good"),
        (Status.BAD_TIMEOUT, "Bad_Timeout"),
        (Status.BAD_NO_COMMUNICATION, "Bad_NoCommunication"),
        (
            Status.UNCERTAIN_NO_COMMUNICATION_LAST_USABLE_VALUE,
            "Uncertain_NoCommunicationLastUsableValue",
        ),
    ],
)
def test_statuses_are_printed_in_opc_ua_spelling(status: Status, text: str) -> None:
    assert format_status(status) == text
