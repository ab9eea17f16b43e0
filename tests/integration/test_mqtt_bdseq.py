"""bdSeq is counted in the historian's database, so a restart never reuses the last one."""

from __future__ import annotations

from storagekit import database_url

from gateway.bus import Bus
from gateway.config import GatewayConfig
from gateway.storage import Historian

__all__ = ["database_url"]  # the fixture: SQLite and PostgreSQL


def _config(url: str) -> GatewayConfig:
    return GatewayConfig.model_validate({"gateway": {"name": "gw"}, "storage": {"url": url}})


async def test_tck_id_topics_nbirth_bdseq_increment(database_url: str) -> None:
    """[tck-id-topics-nbirth-bdseq-increment] from 0, +1 per connect: counted in the
    historian's database, so this holds across restarts too."""
    async with Historian(_config(database_url), Bus()) as historian:
        assert [await historian.next_bd_seq("gw") for _ in range(3)] == [0, 1, 2]
        assert await historian.next_bd_seq("other") == 0
    async with Historian(_config(database_url), Bus()) as restarted:
        assert await restarted.next_bd_seq("gw") == 3


async def test_tck_id_message_flow_edge_node_birth_publish_will_message_payload_bdseq(
    database_url: str,
) -> None:
    """[tck-id-message-flow-edge-node-birth-publish-will-message-payload-bdSeq]: after 255,
    0 (the spec's id has a capital S; Python names are lower case)."""
    async with Historian(_config(database_url), Bus()) as historian:
        values = [await historian.next_bd_seq("gw") for _ in range(258)]
    assert values[255:] == [255, 0, 1]
