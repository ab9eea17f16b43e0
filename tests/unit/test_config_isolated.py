"""Large configuration files are parsed in a forked child: same result, same errors;
and their tags share their pydantic fields sets, units and ranges.

The child exists for memory (yamlsource._read_isolated): the parent must not
see any difference in what it gets, warnings and located errors included.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from gateway import forkedread
from gateway.config import load_config, yamlsource
from gateway.errors import ConfigError

_HEAD = """\
gateway: {name: big}
storage: {url: "sqlite:///big.db"}
devices:
  - name: plc
    host: 127.0.0.1
    tags:
"""


def _big_file(tmp_path: Path, tags: int, *, broken_at: int | None = None) -> Path:
    lines = [_HEAD]
    for i in range(tags):
        kind = "flaot32" if i == broken_at else "float32"
        lines.append(f"      - {{name: t{i}, table: holding_register, address: {2 * i}, ")
        lines.append(f"type: {kind}, unit: degC, x-note: padding padding padding}}\n")
    path = tmp_path / "big.yaml"
    path.write_text("".join(lines), encoding="utf-8")
    return path


@pytest.fixture
def forks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Records each fork; isolation on from 1 KB and whatever threads pytest runs."""
    monkeypatch.setattr(yamlsource, "ISOLATE_FROM_BYTES", 1024)
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    calls: list[int] = []
    real_fork = os.fork

    def fork() -> int:
        pid = real_fork()
        if pid:
            calls.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", fork)
    return calls


def test_a_large_file_loads_in_a_child_to_the_same_config(
    tmp_path: Path, forks: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _big_file(tmp_path, 300)
    isolated = load_config(path)
    assert len(forks) == 1
    monkeypatch.setattr(yamlsource, "ISOLATE_FROM_BYTES", 1 << 40)
    in_process = load_config(path)
    assert len(forks) == 1  # no fork for a file under the threshold
    assert isolated.config == in_process.config
    assert isolated.warnings == in_process.warnings
    assert len(isolated.config.devices[0].tags) == 300


def test_errors_of_a_large_file_keep_their_lines(tmp_path: Path, forks: list[int]) -> None:
    path = _big_file(tmp_path, 300, broken_at=250)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert len(forks) == 1
    (issue,) = caught.value.issues
    assert issue.path == "devices[0].tags[250].type"
    assert issue.line == 7 + 250
    assert "did you mean 'float32'" in issue.message


def test_yaml_problems_found_in_the_child_are_raised_in_the_parent(
    tmp_path: Path, forks: list[int]
) -> None:
    path = _big_file(tmp_path, 300)
    path.write_text(path.read_text(encoding="utf-8") + "gateway: {name: twice}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert len(forks) == 1
    assert any("gateway" in issue.path for issue in caught.value.issues)


def test_no_fork_while_other_threads_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlsource, "ISOLATE_FROM_BYTES", 1024)
    monkeypatch.setattr(threading, "active_count", lambda: 2)
    monkeypatch.setattr(os, "fork", lambda: pytest.fail("forked with threads running"))
    assert len(load_config(_big_file(tmp_path, 50)).config.devices[0].tags) == 50


def test_tags_share_their_fields_sets_and_stay_usable(tmp_path: Path) -> None:
    config = load_config(_big_file(tmp_path, 20)).config
    tags = config.devices[0].tags
    assert len({id(tag.__pydantic_fields_set__) for tag in tags}) == 1
    assert tags[0].model_fields_set == {"name", "table", "address", "type", "unit"}
    # A copy with an update gets its own set; the shared one is untouched.
    copy = tags[0].model_copy(update={"deadband": 0.5})
    assert copy.deadband == 0.5
    assert "deadband" in copy.model_fields_set
    assert "deadband" not in tags[1].model_fields_set
    assert tags[3].model_dump(exclude_unset=True) == {
        "name": "t3", "table": "holding_register", "address": 6, "type": "float32", "unit": "degC",
    }  # fmt: skip


def test_tags_share_equal_units_and_ranges(tmp_path: Path) -> None:
    path = tmp_path / "units.yaml"
    lines = [_HEAD]
    for i in range(6):
        unit = "degC" if i % 2 else "bar"
        lines.append(f"      - {{name: t{i}, table: holding_register, address: {2 * i}, ")
        lines.append(f"type: float32, unit: {unit}, range: [0, {100 + i % 2}]}}\n")
    path.write_text("".join(lines), encoding="utf-8")
    tags = load_config(path).config.devices[0].tags
    assert [tag.unit for tag in tags] == ["bar", "degC"] * 3
    assert [tag.range for tag in tags] == [(0.0, 100.0), (0.0, 101.0)] * 3
    assert tags[1].unit is tags[3].unit is tags[5].unit
    assert tags[0].range is tags[2].range is tags[4].range
    assert tags[0].range is not tags[1].range


def test_a_child_that_cannot_send_its_result_exits_and_never_runs_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The forked child ends with `os._exit` whatever fails in it: a child that ran on
    would go on as a second copy of the caller (here, of the test session)."""
    path = tmp_path / "small.yaml"
    path.write_text("gateway: {name: g}\n", encoding="utf-8")
    parent = os.getpid()
    statuses: list[int] = []
    real_waitpid = os.waitpid

    def waitpid(pid: int, options: int) -> tuple[int, int]:
        found = real_waitpid(pid, options)
        statuses.append(found[1])
        return found

    def unpicklable(*_args: object, **_kwargs: object) -> bytes:
        raise RuntimeError("cannot pickle")

    monkeypatch.setattr(os, "waitpid", waitpid)
    monkeypatch.setattr(yamlsource.pickle, "dumps", unpicklable)
    try:
        result = yamlsource._read_isolated(path, None, frozenset())
    finally:
        if os.getpid() != parent:  # a child that ran on: end it here, visibly
            os._exit(99)
    assert result is None  # the caller then reads in-process
    assert [os.waitstatus_to_exitcode(status) for status in statuses] == [1]


def test_a_read_started_early_is_used_and_not_forked_again(
    tmp_path: Path, forks: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`gateway run` forks the reader before its imports (forkedread.reading_early);
    load_config then takes that child's answer: one fork, the same config."""
    monkeypatch.setattr(forkedread, "ISOLATE_FROM_BYTES", 1024)
    path = _big_file(tmp_path, 300)
    with forkedread.reading_early(path, yamlsource.child_answer) as reading:
        assert reading is not None
        assert len(forks) == 1  # started before anyone asked for the config
        early = load_config(path, started=reading)
    assert len(forks) == 1
    assert early.config == load_config(path).config  # the second one forks for itself
    assert len(forks) == 2


def test_a_read_started_early_keeps_the_errors_and_their_lines(
    tmp_path: Path, forks: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(forkedread, "ISOLATE_FROM_BYTES", 1024)
    path = _big_file(tmp_path, 300, broken_at=250)
    with (
        forkedread.reading_early(path, yamlsource.child_answer) as reading,
        pytest.raises(ConfigError) as caught,
    ):
        load_config(path, started=reading)
    assert len(forks) == 1
    (issue,) = caught.value.issues
    assert (issue.path, issue.line) == ("devices[0].tags[250].type", 7 + 250)


def test_a_read_started_for_another_request_is_not_used(
    tmp_path: Path, forks: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another file or other deferred sections: read afresh; the early child is reaped."""
    monkeypatch.setattr(forkedread, "ISOLATE_FROM_BYTES", 1024)
    path = _big_file(tmp_path, 300)
    other = tmp_path / "other.yaml"
    other.write_text(path.read_text(encoding="utf-8").replace("name: big", "name: other"))
    reaped: list[int] = []
    real_waitpid = os.waitpid

    def waitpid(pid: int, options: int) -> tuple[int, int]:
        reaped.append(pid)
        return real_waitpid(pid, options)

    monkeypatch.setattr(os, "waitpid", waitpid)
    with forkedread.reading_early(path, yamlsource.child_answer) as reading:
        assert load_config(other, started=reading).config.gateway.name == "other"
        assert load_config(path, serve_opcua=False, started=reading).config.gateway.name == "big"
        assert len(forks) == 3
    assert sorted(reaped) == sorted(forks)  # the unused early child too, at the end


def test_no_early_read_for_a_small_file(tmp_path: Path, forks: list[int]) -> None:
    path = tmp_path / "small.yaml"
    path.write_text("gateway: {name: g}\n", encoding="utf-8")
    with forkedread.reading_early(path, yamlsource.child_answer) as reading:
        assert reading is None
    assert forks == []


def test_an_early_read_is_answered_once_and_keeps_nothing(
    tmp_path: Path, forks: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`gateway run` holds the ForkedRead for its whole run: it must not hold the
    child's pickle too; a second load with it reads (and forks) afresh."""
    monkeypatch.setattr(forkedread, "ISOLATE_FROM_BYTES", 1024)
    path = _big_file(tmp_path, 300)
    with forkedread.reading_early(path, yamlsource.child_answer) as reading:
        assert reading is not None
        load_config(path, started=reading)
        assert not reading.matches(path, None, frozenset())
        assert reading.answer() is None
        assert len(load_config(path, started=reading).config.devices[0].tags) == 300
    assert len(forks) == 2
    assert not any(isinstance(value, bytes) for value in vars(reading).values())
