"""Aggregates pushed into SQL give the engine's answers, on SQLite and PostgreSQL.

The history holds every case the summary has to get right: Good, Uncertain
and Bad values, NaN, values on interval starts, equal minima and maxima,
empty intervals, an integer tag, a bool tag and a text tag.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from typing import Any

import pytest
from storagekit import database_url, gateway_config

from gateway.aggregates import PUSHDOWN, Aggregate, AggregateConfiguration, describe_status
from gateway.config import GatewayConfig
from gateway.model import Status
from gateway.storage.aggregates import IntervalRow, aggregate_history
from gateway.storage.database import Database
from gateway.storage.rows import Row, encode_value, to_us
from gateway.storage.tagsync import tag_infos

__all__ = ["database_url"]

T0 = 1_714_550_400.0  # 2024-05-01T08:00:00Z
TAGS = [
    {"name": "temp", "ref": 40001, "type": "float32"},
    {"name": "count", "ref": 40003, "type": "int32"},
    {"name": "run", "ref": 40007, "bit": 0, "type": "bool"},
    {"name": "label", "ref": 40011, "type": "string", "length": 4},
]
STATUSES = [Status.GOOD] * 6 + [
    Status.UNCERTAIN_NO_COMMUNICATION_LAST_USABLE_VALUE,
    Status.BAD_NO_COMMUNICATION,
]


def _config(url: str) -> GatewayConfig:
    return gateway_config(
        url, devices=[{"name": "d", "host": "127.0.0.1", "enabled": False, "tags": TAGS}]
    )


def _aggregate(database: Database, *args: Any, **kwargs: Any) -> Iterator[IntervalRow]:
    """aggregate_history over the fixture's rows (its gateway's)."""
    return aggregate_history(database.engine, *args, gateway=database.gateway, **kwargs)


def _row(key: str, at: float, value: object, status: Status) -> Row:
    if status >= Status.BAD_COMMUNICATION_ERROR:
        value = None
    number, text = encode_value(value)  # type: ignore[arg-type]
    return (key, to_us(at), number, text, int(status))


def _history() -> list[Row]:
    pick = random.Random(19)
    rows: list[Row] = []
    for second in range(0, 600):
        if pick.random() < 0.4 and second % 10:
            continue  # gaps, but every interval start (a multiple of 10 s) has a value
        status = pick.choice(STATUSES)
        value: float = round(pick.uniform(0, 5)) if pick.random() < 0.5 else pick.uniform(0, 5)
        if second == 77:
            value = math.nan
        rows.append(_row("d.temp", T0 + second, value, status))
        rows.append(_row("d.count", T0 + second, int(value) - 2, status))
        rows.append(_row("d.run", T0 + second, value > 2, status))
    rows += [_row("d.label", T0 + s, f"L{s}", Status.GOOD) for s in (3, 40, 41)]
    return rows


@pytest.fixture
def history(database_url: str) -> Iterator[Database]:
    config = _config(database_url)
    database = Database(config.storage, tag_infos(config), gateway=config.gateway.name)
    database.prepare()
    database.write(_history())
    try:
        yield database
    finally:
        database.dispose()


def _shown(value: object, status: int) -> tuple[object, str]:
    if isinstance(value, float):
        value = round(value, 9)
    return value, describe_status(status)


CONFIGS = [
    pytest.param(AggregateConfiguration(), id="defaults"),
    pytest.param(
        AggregateConfiguration(
            treat_uncertain_as_bad=True, percent_data_good=60, percent_data_bad=40
        ),
        id="uncertain-as-bad",
    ),
]


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("key", ["d.temp", "d.count", "d.run"])
def test_pushdown_gives_the_engines_answers(
    history: Database, key: str, config: AggregateConfiguration
) -> None:
    wanted = sorted(PUSHDOWN, key=lambda a: a.node_number)
    ranges = {"start": T0 - 30, "end": T0 + 640, "processing": 10.0}  # beyond the data
    pushed = list(_aggregate(history, key, wanted, config=config, **ranges))
    plain = list(_aggregate(history, key, wanted, config=config, pushdown=False, **ranges))
    assert len(pushed) == len(plain) == 67
    for (interval, ours), (_, theirs) in zip(pushed, plain, strict=True):
        for aggregate in wanted:
            a, b = ours[aggregate], theirs[aggregate]
            assert a.time == b.time == interval.start
            assert _shown(a.value, a.status) == _shown(b.value, b.status), (
                key,
                aggregate,
                interval,
            )
    statuses = {describe_status(row[Aggregate.MINIMUM].status) for _, row in pushed}
    assert {"BadNoData", "Good, Calculated"} <= statuses  # the history exercises both ways
    assert any("MultipleValues" in s for s in statuses) or key == "d.run"


def test_every_aggregate_runs_on_stored_history_and_text_is_refused(history: Database) -> None:
    rows = list(
        _aggregate(history, "d.temp", list(Aggregate), start=T0, end=T0 + 60, processing=20)
    )
    assert len(rows) == 3
    assert all(len(results) == len(Aggregate) for _, results in rows)
    text = list(
        _aggregate(
            history,
            "d.label",
            [Aggregate.AVERAGE, Aggregate.START, Aggregate.INTERPOLATIVE],
            start=T0,
            end=T0 + 60,
            processing=30,
        )
    )
    first = text[0][1]
    assert describe_status(first[Aggregate.AVERAGE].status) == "BadAggregateInvalidInputs"
    assert first[Aggregate.START].value == "L3"
    assert text[1][1][Aggregate.INTERPOLATIVE].value == "L3"  # stepped: held from 12:00:03


def test_windows_do_not_change_the_answers(history: Database) -> None:
    wanted = [Aggregate.TIME_AVERAGE, Aggregate.INTERPOLATIVE, Aggregate.DURATION_BAD]
    ranges = {"start": T0, "end": T0 + 600, "processing": 7.0}
    small = list(_aggregate(history, "d.temp", wanted, window_size=3, **ranges))
    large = list(_aggregate(history, "d.temp", wanted, window_size=1000, **ranges))
    assert [[_shown(r.value, r.status) for r in results.values()] for _, results in small] == [
        [_shown(r.value, r.status) for r in results.values()] for _, results in large
    ]


def test_a_window_with_too_many_raw_values_is_refused(
    history: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.storage import aggregates
    from gateway.storage.errors import StorageError

    monkeypatch.setattr(aggregates, "MAX_WINDOW_POINTS", 50)
    rows = _aggregate(
        history, "d.temp", [Aggregate.TIME_AVERAGE], start=T0, end=T0 + 600, processing=0
    )
    with pytest.raises(StorageError, match="more than 50 raw values in one window"):
        list(rows)


G, B = Status.GOOD, Status.BAD_NO_COMMUNICATION
U = Status.UNCERTAIN_NO_COMMUNICATION_LAST_USABLE_VALUE
#: (second, value, status) of d.temp: per 10 s interval one case the extremes' query must get right.
EXTREMES = [
    # 0-10: a minimum on the start, repeated: raw, MultipleValues
    *[(0, 1.0, G), (3, 4.0, G), (6, 1.0, G)],
    # 10-20: an equal Uncertain value on the start: no tie, not raw
    *[(10, 2.0, U), (12, 2.0, G), (15, 3.0, G)],
    # 20-30 empty, 30-40 Bad only
    *[(31, 5.0, B), (35, 5.0, B)],
    # 40-50: 3.0 ties as the maximum on the start; 1.0 is also interval 0's minimum
    *[(40, 3.0, G), (42, 3.0, G), (48, 1.0, G)],
    # 50-60: a Good maximum beaten by an Uncertain value
    *[(50, 2.5, G), (51, 7.0, U), (58, 2.5, B)],
    # 60-70: one Good value, a NaN (Bad) and an equal Uncertain value
    *[(60, 6.0, G), (61, math.nan, G), (65, 6.0, U)],
]


@pytest.fixture
def extremes(database_url: str) -> Iterator[Database]:
    config = _config(database_url)
    database = Database(config.storage, tag_infos(config), gateway=config.gateway.name)
    database.prepare()
    database.write([_row("d.temp", T0 + s, value, status) for s, value, status in EXTREMES])
    try:
        yield database
    finally:
        database.dispose()


def test_ties_starts_and_empty_intervals_match_the_engine(extremes: Database) -> None:
    wanted = [Aggregate.MINIMUM, Aggregate.MAXIMUM, Aggregate.RANGE, Aggregate.COUNT]
    ranges = {"start": T0, "end": T0 + 70, "processing": 10.0}
    pushed = list(_aggregate(extremes, "d.temp", wanted, **ranges))
    plain = list(_aggregate(extremes, "d.temp", wanted, pushdown=False, **ranges))
    shown = [[_shown(r[a].value, r[a].status) for a in wanted] for _, r in pushed]
    assert shown == [[_shown(r[a].value, r[a].status) for a in wanted] for _, r in plain]
    minimum = [row[0] for row in shown]
    maximum = [row[1] for row in shown]
    assert minimum[0] == (1.0, "Good, MultipleValues")  # Raw: no Calculated bit
    assert minimum[1] == (2.0, "Good, Calculated")  # the Uncertain 2.0 is not a second one
    assert minimum[2][1] == minimum[3][1] == "BadNoData"
    assert maximum[4] == (3.0, "Good, MultipleValues")  # on the start, repeated
    assert minimum[4] == (1.0, "Good, Calculated")
    assert "Uncertain" in maximum[5][1]
    assert "MultipleValues" not in maximum[5][1]
    assert minimum[6][0] == 6.0
    assert "MultipleValues" not in minimum[6][1]


def test_one_grouped_query_and_one_per_interval_agree(
    history: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite groups a window with a query per interval up to PER_INTERVAL_MAX intervals."""
    from gateway.storage import aggregates

    wanted = sorted(PUSHDOWN, key=lambda a: a.node_number)
    ranges = {"start": T0 - 30, "end": T0 + 640, "processing": 10.0}
    per_interval = list(_aggregate(history, "d.temp", wanted, **ranges))
    monkeypatch.setattr(aggregates, "PER_INTERVAL_MAX", 0)
    grouped = list(_aggregate(history, "d.temp", wanted, **ranges))
    assert len(per_interval) == len(grouped) == 67
    for (_, ours), (_, theirs) in zip(per_interval, grouped, strict=True):
        assert [_shown(ours[a].value, ours[a].status) for a in wanted] == [
            _shown(theirs[a].value, theirs[a].status) for a in wanted
        ]


def test_the_per_interval_queries_read_in_one_transaction(history: Database) -> None:
    """SQLite's per-interval queries use the DBAPI cursor: inside the connection's transaction,
    so the intervals and the extremes' query see one snapshot."""
    from gateway.storage.aggregates import pushdown_summaries

    with history.engine.connect() as connection:
        tag_id = history.tag_ids["d.temp"]
        summaries = pushdown_summaries(connection, tag_id, T0, T0 + 600, 10.0, extremes=False)
        assert connection.in_transaction()  # no SQLAlchemy query ran: begun for the cursor
    assert len(summaries) == 60
    assert sum(s.n_good + s.n_uncertain + s.n_bad for s in summaries.values()) > 300
