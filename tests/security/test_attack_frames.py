"""Issue 14, findings 2 and 9 (b): framing attacks on raw TCP against `gateway run`.

Part of the attack suite (issue 14); run it with `pytest tests/security` or
`pytest -m security` (test_attack_sessions.py says more).
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

import pytest
from attackkit import Gateway, Identity, rss_peak
from healthkit import healthy
from rawframes import (
    FRAME_KINDS,
    Connection,
    closed_by_peer,
    header,
    malformed_frames,
    open_channel,
    open_raw,
    reaction,
)
from uaclients import legit_client
from uarequests import read_values

pytestmark = [pytest.mark.security, pytest.mark.asyncio(loop_scope="module")]

HUGE = "127.0.0.6"
NOISE = "127.0.0.7"
#: The size the attacker announces, and how much it tries to stream after it.
ANNOUNCED = 0xFFFFFFF0
STREAM_LIMIT = 64 * 1024 * 1024
CHUNK = bytes(64 * 1024)
#: Required: refused before more than this was accepted, and RSS grew by less.
ACCEPTED_LIMIT = 1024 * 1024
RSS_GROWTH_LIMIT_MB = 50.0
#: Seconds the attacker waits for a refusal after the header and its first chunk.
REACTION_TIMEOUT = 2.0
FRAMES = 2000
FRAMES_PER_CONNECTION = 100
LOG_LINE_LIMIT = 50


@dataclass
class Streamed:
    accepted: int = 0
    answer: bytes | None = None
    closed: bool = False


async def _stream_after(connection: Connection, head: bytes) -> Streamed:
    """Send `head` and stream zeros until refused, blocked or STREAM_LIMIT bytes are in."""
    result = Streamed()
    writer = connection.writer
    try:
        writer.write(head + CHUNK)
        async with asyncio.timeout(5):
            await writer.drain()
        result.accepted = len(head) + len(CHUNK)
        result.answer = await reaction(connection, REACTION_TIMEOUT)
        while result.answer is None and result.accepted < STREAM_LIMIT:
            writer.write(CHUNK)
            async with asyncio.timeout(5):  # the gateway stopped reading: blocked
                await writer.drain()
            result.accepted += len(CHUNK)
    except (ConnectionError, TimeoutError):
        pass
    result.closed = result.answer == b"" or await closed_by_peer(connection, 3)
    return result


async def test_a_4_gib_header_is_refused_before_its_body(
    fresh_gateway: Gateway, identity: Identity
) -> None:
    """Finding 2: one unauthenticated connection announces 0xFFFFFFF0 bytes and streams.

    Twice: as the first message (a HEL header), and as a MSG on a None channel
    it opened. After the header and 64 KiB the attacker waits up to 2 s for a
    refusal, then streams zeros (up to 64 MiB in 64 KiB writes). Required: the
    gateway refuses before reading the body: the connection is closed
    (optionally after an ERR) before more than 1 MiB was accepted; its RSS
    (VmRSS, sampled) grows by less than 50 MB; and the healthy client and PLC
    checks hold.
    """
    gateway = fresh_gateway
    before = gateway.rss_mb()
    problems: list[str] = []
    async with healthy(gateway, identity):
        async with rss_peak(gateway) as peak:
            for first in (True, False):
                if first:
                    label, connection = "a HEL header", await open_raw(gateway, HUGE)
                    head = header(b"HEL", ANNOUNCED)
                else:
                    connection, channel = await open_channel(gateway, HUGE)
                    label = "a MSG header on an open channel"
                    head = header(b"MSG", ANNOUNCED, channel)
                try:
                    streamed = await _stream_after(connection, head)
                finally:
                    connection.close()
                if streamed.accepted > ACCEPTED_LIMIT:
                    problems.append(f"{label}: {streamed.accepted / 2**20:.1f} MiB accepted")
                if not streamed.closed:
                    problems.append(f"{label}: the connection was left open")
        growth = peak.mb - before
        if growth >= RSS_GROWTH_LIMIT_MB:
            problems.append(f"RSS grew by {growth:.0f} MB ({before:.0f} → {peak.mb:.0f} MB)")
        assert not problems, "\n".join(problems)


async def test_a_large_legit_read_still_works(gateway: Gateway, identity: Identity) -> None:
    """Finding 2: the size limits still let a legitimate large request through.

    Required: a Read of 2,000 values (the PLC's tags and status fields, over
    and over) by the operator over SignAndEncrypt is Good for every value.
    """
    keys = ["plc.wave", "plc.setpoint", "plc._Status.State", "plc._Status.Errors"] * 500
    async with healthy(gateway, identity), legit_client(gateway, identity, timeout=10) as client:
        outcome = await read_values(client, keys, timeout=10)
        assert outcome.status.is_good(), outcome.status
        assert len(outcome.results) == len(keys)
        bad = [v.StatusCode.name for v in outcome.results if not v.StatusCode.is_good()]
        assert not bad, f"{len(bad)} of {len(keys)} values not Good: {set(bad)}"


async def _noise(gateway: Gateway, index: int, rng: random.Random) -> None:
    """One connection: Hello, a None channel, then 100 malformed frames of one kind."""
    try:
        connection, channel = await open_channel(gateway, NOISE)
    except (ConnectionError, TimeoutError, asyncio.IncompleteReadError, AssertionError):
        return  # refused before the frames: nothing to log about them
    kind = FRAME_KINDS[index % len(FRAME_KINDS)]
    try:
        connection.writer.write(malformed_frames(kind, rng, FRAMES_PER_CONNECTION, channel))
        async with asyncio.timeout(5):
            await connection.writer.drain()
        await closed_by_peer(connection, 2)  # the gateway's refusal, or we hang up
    except (ConnectionError, TimeoutError):
        pass
    finally:
        connection.close()


async def test_malformed_frames_are_logged_briefly(gateway: Gateway, identity: Identity) -> None:
    """Finding 9 (b): 2,000 malformed frames, 100 per connection, from 127.0.0.7.

    Each connection sends a valid Hello and opens a None channel, then 100
    frames of one kind: random garbage, truncated chunks (a MSG announcing
    more than it carries), bad message types, or MSG with a wrong secure
    channel id. Required: the gateway's log over the attack has no
    "Traceback" and fewer than 50 lines in total, and the healthy client and
    PLC checks hold.
    """
    rng = random.Random(14)
    async with healthy(gateway, identity), legit_client(gateway, identity) as client:
        mark = gateway.log_mark()  # after the legitimate logins
        connections = FRAMES // FRAMES_PER_CONNECTION
        for start in range(0, connections, 5):  # five at a time
            async with asyncio.TaskGroup() as group:
                for index in range(start, min(start + 5, connections)):
                    group.create_task(_noise(gateway, index, random.Random(rng.random())))
        for _ in range(2):  # the gateway handled the closed connections before these answers
            assert (await read_values(client, ["plc.wave"])).status.is_good()
        text = gateway.log_since(mark)
        lines = text.splitlines()
        tracebacks = text.count("Traceback")
        summary = f"{tracebacks} tracebacks in {len(lines)} log lines, the first:\n"
        assert tracebacks == 0, summary + "\n".join(lines[:40])
        assert len(lines) < LOG_LINE_LIMIT, summary + "\n".join(lines[:60])
