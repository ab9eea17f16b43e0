"""Framing attacks on raw TCP: headers that lie about their size, malformed chunks.

OPC UA TCP (Part 6, 7.1): every message starts with a 3-byte type (HEL, ACK,
ERR, OPN, MSG, CLO), a chunk type (F, C, A) and a little-endian UInt32 size of
the whole message; OPN, MSG and CLO then carry a secure channel id.
"""

from __future__ import annotations

import asyncio
import random
import struct
from dataclasses import dataclass

from asyncua import ua
from asyncua.common.connection import SecureConnection, TransportLimits
from asyncua.crypto.security_policies import SecurityPolicyNone
from asyncua.ua.ua_binary import struct_to_binary, uatcp_to_binary
from attackkit import Gateway

__all__ = [
    "FRAME_KINDS",
    "Connection",
    "closed_by_peer",
    "hello",
    "malformed_frames",
    "open_channel",
    "open_raw",
    "reaction",
]

#: How the malformed frames are malformed.
FRAME_KINDS = ("garbage", "truncated", "bad type", "bad channel")


@dataclass(eq=False)
class Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    def close(self) -> None:
        self.writer.transport.abort()


async def open_raw(gateway: Gateway, source: str, timeout: float = 10.0) -> Connection:
    """A TCP connection to the gateway from `source` (a loopback address)."""
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", gateway.port, local_addr=(source, 0)
        )
    return Connection(reader, writer)


def hello(gateway: Gateway) -> bytes:
    message = ua.Hello(EndpointUrl=gateway.url, MaxMessageSize=0, MaxChunkCount=0)
    return uatcp_to_binary(ua.MessageType.Hello, message)


async def read_message(connection: Connection, timeout: float = 5.0) -> bytes:
    """One whole message from the gateway (header included)."""
    async with asyncio.timeout(timeout):
        head = await connection.reader.readexactly(8)
        (size,) = struct.unpack("<I", head[4:])
        return head + await connection.reader.readexactly(size - 8)


async def open_channel(gateway: Gateway, source: str) -> tuple[Connection, int]:
    """A raw connection after Hello and a None OpenSecureChannel: it and the channel id."""
    connection = await open_raw(gateway, source)
    try:
        connection.writer.write(hello(gateway))
        ack = await read_message(connection)
        assert ack[:3] == b"ACK", f"no Acknowledge to a valid Hello: {ack[:64]!r}"
        parameters = ua.OpenSecureChannelParameters(
            ClientProtocolVersion=0,
            RequestType=ua.SecurityTokenRequestType.Issue,
            SecurityMode=ua.MessageSecurityMode.None_,
            ClientNonce=b"",
            RequestedLifetime=600_000,
        )
        request = ua.OpenSecureChannelRequest(Parameters=parameters)
        secure = SecureConnection(SecurityPolicyNone(), TransportLimits(65535, 65535, 0, 0))
        connection.writer.write(
            secure.message_to_binary(
                struct_to_binary(request), message_type=ua.MessageType.SecureOpen, request_id=1
            )
        )
        opened = await read_message(connection)
        assert opened[:3] == b"OPN", f"no OpenSecureChannel response: {opened[:64]!r}"
    except BaseException:
        connection.close()
        raise
    return connection, struct.unpack("<I", opened[8:12])[0]


def header(message_type: bytes, size: int, channel: int | None = None) -> bytes:
    head = message_type + b"F" + struct.pack("<I", size)
    return head if channel is None else head + struct.pack("<I", channel)


async def reaction(connection: Connection, timeout: float) -> bytes | None:
    """What the gateway sent back within `timeout` s: bytes, b"" for a close, None for nothing."""
    try:
        async with asyncio.timeout(timeout):
            return await connection.reader.read(65536)
    except TimeoutError:
        return None
    except ConnectionError:
        return b""


async def closed_by_peer(connection: Connection, timeout: float) -> bool:
    """True once the gateway closed the connection (EOF or reset) within `timeout` s."""
    try:
        async with asyncio.timeout(timeout):
            while await connection.reader.read(65536):
                pass
    except TimeoutError:
        return False
    except ConnectionError:
        return True
    return True


def malformed_frames(kind: str, rng: random.Random, count: int, channel: int) -> bytes:
    """`count` frames of one kind, concatenated (deterministic for a seeded `rng`).

    `channel` is the connection's real secure channel id ("bad channel" avoids it).
    """
    frames = []
    for _ in range(count):
        body = rng.randbytes(rng.randrange(16, 200))
        if kind == "garbage":
            frames.append(body)
        elif kind == "truncated":  # announces more than it carries
            size = 12 + len(body) + rng.randrange(1, 5000)
            frames.append(header(b"MSG", size, channel) + body)
        elif kind == "bad type":
            frames.append(
                header(rng.choice([b"XYZ", b"ACK", b"ERR", b"HEL"]), 8 + len(body)) + body
            )
        elif kind == "bad channel":
            wrong = (channel + rng.randrange(1, 2**31)) % 2**32
            frames.append(header(b"MSG", 12 + len(body), wrong) + body)
        else:
            raise ValueError(f"unknown frame kind {kind!r}")
    return b"".join(frames)
