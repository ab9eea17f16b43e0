"""bdSeq is counted in the historian's database, so a restart never reuses the last one."""

from __future__ import annotations

from storagekit import database_url

from gateway.bus import Bus
from gateway.config import GatewayConfig
from gateway.storage import Historian

__all__ = ["database_url"]  # the fixture: SQLite and PostgreSQL


def _config(url: str) -> GatewayConfig:
    return GatewayConfig.model_validate({"gateway": {"name": "gw"}, "storage": {"url": url}})


async def test_tck_id_payloads_nbirth_bdseq_kept_across_restarts(database_url: str) -> None:
    async with Historian(_config(database_url), Bus()) as historian:
        assert [await historian.next_bd_seq("gw") for _ in range(3)] == [0, 1, 2]
        assert await historian.next_bd_seq("other") == 0
    async with Historian(_config(database_url), Bus()) as restarted:
        assert await restarted.next_bd_seq("gw") == 3


async def test_bdseq_wraps_after_255(database_url: str) -> None:
    async with Historian(_config(database_url), Bus()) as historian:
        values = [await historian.next_bd_seq("gw") for _ in range(258)]
    assert values[255:] == [255, 0, 1]
