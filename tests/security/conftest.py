"""Fixtures of the attack suite: the client certificate, and gateways in both configurations.

`gateway` is one `gateway run` process per configuration shared by a module's
tests (they do not disturb each other); `fresh_gateway` is a process of its
own for one destructive test. Both are parametrized over MODES.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from attackkit import MODES, Gateway, Identity, make_identity, running_gateway
from plcpool import PlcPool


@pytest.fixture(autouse=True)
def _quiet_attackers() -> Iterator[None]:
    """asyncua's client warns about every connection the tests break on purpose."""
    logger = logging.getLogger("asyncua")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)


@pytest.fixture(scope="session")
def identity(tmp_path_factory: pytest.TempPathFactory) -> Identity:
    """The legitimate clients' application certificate, trusted by every gateway."""
    return make_identity(tmp_path_factory.mktemp("clients"), "legit")


@pytest.fixture(scope="session")
def plcs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlcPool]:
    """The simulated PLCs, one for each gateway (a child process, killed at the end)."""
    pool = PlcPool(tmp_path_factory.mktemp("plcs"))
    try:
        yield pool
    finally:
        pool.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=MODES)
async def gateway(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    identity: Identity,
    plcs: PlcPool,
) -> AsyncIterator[Gateway]:
    """A gateway shared by the module's tests, in the "secure" or the "demo" configuration."""
    folder = tmp_path_factory.mktemp(f"gateway-{request.param}")
    async with running_gateway(request.param, folder, identity, plcs.take()) as running:
        yield running


@pytest_asyncio.fixture(loop_scope="module", params=MODES)
async def fresh_gateway(
    request: pytest.FixtureRequest, tmp_path: Path, identity: Identity, plcs: PlcPool
) -> AsyncIterator[Gateway]:
    """A gateway of its own for one destructive test."""
    async with running_gateway(request.param, tmp_path, identity, plcs.take()) as running:
        yield running
