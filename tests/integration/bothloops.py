"""Run a test module on asyncio's loop and on uvloop (the gateway uses uvloop).

A module opts in with
    from bothloops import event_loop_policy, pytestmark, test_runs_on_the_intended_loop
pytest-asyncio 1.x deprecates overriding `event_loop_policy` in favour of a
`pytest_asyncio_loop_factories` hook; until the suite has one, the guard
test fails loudly if the override stops taking effect, instead of silently
losing the uvloop runs.
"""

from __future__ import annotations

import asyncio

import pytest

__all__ = ["event_loop_policy", "pytestmark", "test_runs_on_the_intended_loop"]

pytestmark = pytest.mark.filterwarnings(
    'ignore:Overriding the "event_loop_policy" fixture is deprecated'
)


@pytest.fixture(scope="module", params=["asyncio", "uvloop"])
def event_loop_policy(request: pytest.FixtureRequest) -> asyncio.AbstractEventLoopPolicy:
    if request.param == "uvloop":
        uvloop = pytest.importorskip("uvloop")
        return uvloop.EventLoopPolicy()  # type: ignore[no-any-return]
    return asyncio.DefaultEventLoopPolicy()


async def test_runs_on_the_intended_loop(event_loop_policy: object) -> None:
    loop_module = type(asyncio.get_running_loop()).__module__
    wanted = type(event_loop_policy).__module__.split(".")[0]
    assert loop_module.split(".")[0] == wanted
