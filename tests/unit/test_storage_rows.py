"""Values ⇄ columns: every kind of value comes back exactly as it went in."""

from __future__ import annotations

import math

import pytest

from gateway.model import DataType, Status, TagValue
from gateway.storage.rows import decode_value, encode_value, from_us, row_of, to_us


@pytest.mark.parametrize(
    ("data_type", "value", "columns"),
    [
        (DataType.FLOAT32, 21.5, (21.5, None)),
        (DataType.FLOAT64, -1e300, (-1e300, None)),
        (DataType.FLOAT64, math.inf, (math.inf, None)),
        (DataType.BOOL, True, (1.0, None)),
        (DataType.BOOL, False, (0.0, None)),
        (DataType.INT16, -7, (-7.0, None)),
        (DataType.UINT64, 2**53, (float(2**53), None)),
        (DataType.UINT64, 2**64 - 1, (float(2**64 - 1), str(2**64 - 1))),
        (DataType.INT64, -(2**63), (float(-(2**63)), str(-(2**63)))),
        (DataType.STRING, "AB12", (None, "AB12")),
        (DataType.STRING, "", (None, "")),
        (DataType.FLOAT32, None, (None, None)),
    ],
)
def test_values_round_trip_exactly(data_type: DataType, value: object, columns: object) -> None:
    assert encode_value(value) == columns  # type: ignore[arg-type]
    decoded = decode_value(data_type, *encode_value(value))  # type: ignore[arg-type]
    assert decoded == value
    assert type(decoded) is type(value)


def test_nan_is_kept_as_text_because_sqlite_stores_nan_as_null() -> None:
    assert encode_value(math.nan) == (None, "NaN")
    decoded = decode_value(DataType.FLOAT32, None, "NaN")
    assert isinstance(decoded, float)
    assert math.isnan(decoded)


def test_nul_characters_which_postgresql_refuses_in_text_are_replaced() -> None:
    assert encode_value("A\x00B") == (None, "A\ufffdB")


def test_a_tag_that_changed_type_still_decodes_its_old_rows() -> None:
    assert decode_value(DataType.STRING, 3.5, None) == "3.5"
    assert decode_value(DataType.INT32, None, "text") == "text"


def test_rows_are_keyed_by_the_gateway_time_not_the_source_time() -> None:
    uncertain = TagValue(
        "d.t", 4.0, Status.UNCERTAIN_NO_COMMUNICATION_LAST_USABLE_VALUE, 100.0, 160.5
    )
    assert row_of(uncertain) == ("d.t", 160_500_000, 4.0, None, 0x408F0000)
    assert row_of(uncertain, ts=170.0)[1] == 170_000_000


def test_microsecond_times_survive_the_round_trip() -> None:
    now = 1_714_550_400.123456
    assert to_us(now) == 1_714_550_400_123_456
    assert from_us(to_us(now)) == pytest.approx(now, abs=1e-6)
