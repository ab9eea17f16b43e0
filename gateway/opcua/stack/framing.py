"""OPC UA TCP framing: each chunk's header is checked before its body is buffered.

asyncua appended every received byte to its buffer and parsed only when a
whole chunk had arrived, so one stranger announcing a 4 GiB chunk made the
gateway buffer everything it sent (polling stalled, 264-432 MB stayed
allocated), and `buffer += data` copied the whole buffer on every read. Here
the 8-byte header (message type, chunk type, size) is checked as soon as it
arrives: an unknown type or a size above the negotiated chunk size is a
`FramingError` before one byte of the body is kept. Received bytes are
copied once into the buffer and once into their chunk: linear time.

Pure: no asyncua, no I/O (tests/unit/test_opcua_framing.py).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

__all__ = ["CHUNK_TYPES", "ChunkFramer", "Frame", "FramingError"]

_HEADER = struct.Struct("<3scI")
HEADER_SIZE = _HEADER.size
#: Message types a client may send, with the chunk types each allows (OPC 10000-6 §7.1.2).
CHUNK_TYPES: dict[bytes, frozenset[bytes]] = {
    b"HEL": frozenset({b"F"}),
    b"OPN": frozenset({b"F"}),
    b"MSG": frozenset({b"F", b"C", b"A"}),
    b"CLO": frozenset({b"F"}),
}
#: Secure conversation messages carry a SecureChannelId after the header.
_SECURE = frozenset({b"OPN", b"MSG", b"CLO"})
#: Bad_TcpMessageTypeInvalid and Bad_TcpMessageTooLarge (OPC 10000-6 §7.1.5).
BAD_TCP_MESSAGE_TYPE_INVALID = 0x807E0000
BAD_TCP_MESSAGE_TOO_LARGE = 0x80800000


class FramingError(Exception):
    """A chunk header the server refuses; the connection is closed after an ERR message."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Frame:
    """One whole chunk: its message type, chunk type and bytes (the header included)."""

    message_type: bytes
    chunk_type: bytes
    data: bytes


class ChunkFramer:
    """Splits a byte stream into chunks no larger than `max_chunk` bytes."""

    def __init__(self, max_chunk: int) -> None:
        self.max_chunk = max_chunk
        self._buffer = bytearray()

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a whole chunk."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Frame]:
        """Every chunk completed by `data`; raises FramingError at the first bad header."""
        buffer = self._buffer
        buffer += data
        frames: list[Frame] = []
        start = 0
        while len(buffer) - start >= HEADER_SIZE:
            message_type, chunk_type, size = _HEADER.unpack_from(buffer, start)
            self._check(message_type, chunk_type, size)
            if len(buffer) - start < size:
                break
            frames.append(Frame(message_type, chunk_type, bytes(buffer[start : start + size])))
            start += size
        if start:
            del buffer[:start]  # CPython moves the start of a bytearray: no copy
        return frames

    def _check(self, message_type: bytes, chunk_type: bytes, size: int) -> None:
        allowed = CHUNK_TYPES.get(message_type)
        if allowed is None or chunk_type not in allowed:
            raise FramingError(
                BAD_TCP_MESSAGE_TYPE_INVALID,
                f"message type {message_type!r} with chunk type {chunk_type!r}",
            )
        minimum = HEADER_SIZE + (4 if message_type in _SECURE else 0)
        if size < minimum:
            raise FramingError(BAD_TCP_MESSAGE_TYPE_INVALID, f"chunk of {size} bytes")
        if size > self.max_chunk:
            raise FramingError(
                BAD_TCP_MESSAGE_TOO_LARGE,
                f"chunk of {size} bytes announced, {self.max_chunk} accepted",
            )
