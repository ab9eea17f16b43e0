"""The Sparkplug bdSeq of an edge node, counted in the database (blocking; storage thread).

bdSeq goes 0..255 and then wraps (Sparkplug 3.0, "bdSeq"): each connect takes
the next one, read and written in one transaction so two starts never take
the same number.
"""

from __future__ import annotations

from sqlalchemy import Engine, insert, select, update

from gateway.storage.schema import edge_nodes

__all__ = ["BD_SEQ_MODULUS", "next_bd_seq"]

#: bdSeq is a UInt64 metric on the wire but counts 0..255 by the specification.
BD_SEQ_MODULUS = 256


def next_bd_seq(engine: Engine, name: str) -> int:
    """The bdSeq for `name`'s next connect: 0 the first time, then one more each time."""
    with engine.begin() as connection:
        current = connection.execute(
            select(edge_nodes.c.bd_seq).where(edge_nodes.c.name == name)
        ).scalar_one_or_none()
        if current is None:
            connection.execute(insert(edge_nodes).values(name=name, bd_seq=0))
            return 0
        following = (int(current) + 1) % BD_SEQ_MODULUS
        connection.execute(
            update(edge_nodes).where(edge_nodes.c.name == name).values(bd_seq=following)
        )
        return following
