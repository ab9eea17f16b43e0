"""Store and forward's plan: the window since the last confirmation, within the horizon."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.mqtt.forward import Forwarder
from gateway.mqtt.replay import ReplayJob
from gateway.mqtt.state import MqttState
from gateway.storage import ReplayCursor, ReplayPage


class NoHistory:
    async def replay_page(
        self,
        keys: Sequence[str],
        start: float,
        end: float,
        *,
        cursor: ReplayCursor,
        limit: int,
    ) -> ReplayPage:
        return ReplayPage([], None)


def _forwarder(acked: float | None, horizon: float | None = 3600.0) -> Forwarder:
    state = MqttState(acked_until=acked)
    return Forwarder(state, horizon=horizon, history=NoHistory(), settle=0.0)


def test_first_connect_replays_nothing() -> None:
    forwarder = _forwarder(acked=None)
    forwarder._plan(1000.0)
    assert forwarder.backlog == []


def test_the_window_starts_at_the_last_confirmation() -> None:
    forwarder = _forwarder(acked=900.0)
    forwarder._plan(1000.0)
    assert [(job.start, job.end) for job in forwarder.backlog] == [(900.0, 1000.0)]


def test_the_horizon_bounds_the_window_and_drops_old_jobs() -> None:
    forwarder = _forwarder(acked=0.0, horizon=100.0)
    forwarder.backlog.append(ReplayJob(10.0, 50.0))  # entirely older than the horizon
    forwarder.backlog.append(ReplayJob(60.0, 150.0, ReplayCursor(3, 7)))  # interrupted
    forwarder._plan(200.0)
    windows = [(job.start, job.end) for job in forwarder.backlog]
    assert windows == [(100.0, 150.0), (150.0, 200.0)]  # nothing twice
    assert forwarder.backlog[0].cursor == ReplayCursor(3, 7)  # goes on where it stopped


def test_off_without_replay() -> None:
    forwarder = _forwarder(acked=900.0, horizon=None)
    forwarder._plan(1000.0)
    assert forwarder.backlog == []
