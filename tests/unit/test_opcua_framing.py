"""OPC UA TCP framing (stack/framing.py): headers checked before bodies are buffered.

A hostile peer announcing a 4 GiB chunk used to make the server buffer
everything it sent (issue 14, finding 2). The framer refuses such a header
as soon as its 8 bytes are in, and splits any byte stream into exactly the
chunks that were sent, however the bytes were cut.
"""

from __future__ import annotations

import random
import struct

import pytest

from gateway.opcua.stack.framing import (
    BAD_TCP_MESSAGE_TOO_LARGE,
    BAD_TCP_MESSAGE_TYPE_INVALID,
    ChunkFramer,
    Frame,
    FramingError,
)

HEADER = struct.Struct("<3scI")


def _chunk(message_type: bytes, chunk_type: bytes, body: bytes) -> bytes:
    return HEADER.pack(message_type, chunk_type, HEADER.size + len(body)) + body


def _header(message_type: bytes, chunk_type: bytes, size: int) -> bytes:
    return HEADER.pack(message_type, chunk_type, size)


#: A session's worth of chunks: Hello, open, a message in three chunks, an abort, close.
CHUNKS = [
    _chunk(b"HEL", b"F", bytes(range(24))),
    _chunk(b"OPN", b"F", b"\x01\x00\x00\x00" + b"open" * 30),
    _chunk(b"MSG", b"C", b"\x01\x00\x00\x00" + b"first part"),
    _chunk(b"MSG", b"C", b"\x01\x00\x00\x00" + b"second part" * 100),
    _chunk(b"MSG", b"F", b"\x01\x00\x00\x00" + b"last"),
    _chunk(b"MSG", b"A", b"\x01\x00\x00\x00"),  # the smallest secure chunk: 12 bytes
    _chunk(b"CLO", b"F", b"\x01\x00\x00\x00" + b"bye"),
]
STREAM = b"".join(CHUNKS)
EXPECTED = [Frame(c[:3], c[3:4], c) for c in CHUNKS]


def _feed_all(framer: ChunkFramer, pieces: list[bytes]) -> list[Frame]:
    frames: list[Frame] = []
    for piece in pieces:
        frames += framer.feed(piece)
    return frames


def test_whole_stream_in_one_feed() -> None:
    framer = ChunkFramer(65535)
    assert framer.feed(STREAM) == EXPECTED
    assert framer.buffered == 0


def test_every_two_way_split_gives_the_same_chunks() -> None:
    for cut in range(len(STREAM) + 1):
        framer = ChunkFramer(65535)
        assert _feed_all(framer, [STREAM[:cut], STREAM[cut:]]) == EXPECTED, f"cut at {cut}"
        assert framer.buffered == 0


def test_one_byte_feeds_give_the_same_chunks() -> None:
    framer = ChunkFramer(65535)
    frames = _feed_all(framer, [STREAM[i : i + 1] for i in range(len(STREAM))])
    assert frames == EXPECTED
    assert framer.buffered == 0


@pytest.mark.parametrize("seed", range(20))
def test_random_splits_give_the_same_chunks(seed: int) -> None:
    rng = random.Random(seed)
    pieces = []
    start = 0
    while start < len(STREAM):
        end = start + rng.randint(0, 40)  # empty feeds included
        pieces.append(STREAM[start:end])
        start = end
    framer = ChunkFramer(65535)
    assert _feed_all(framer, pieces) == EXPECTED


def test_a_partial_chunk_stays_buffered_until_its_last_byte() -> None:
    framer = ChunkFramer(65535)
    first, second = CHUNKS[0], CHUNKS[1]
    assert framer.feed(first + second[:-1]) == [EXPECTED[0]]
    assert framer.buffered == len(second) - 1
    assert framer.feed(second[-1:]) == [EXPECTED[1]]
    assert framer.buffered == 0


def test_a_large_chunk_fed_one_byte_at_a_time_is_buffered_exactly_once() -> None:
    """`buffered` is exactly the bytes received so far (nothing copied twice, nothing
    dropped), and the chunk comes out once, whole, with its last byte."""
    body = bytes(i % 251 for i in range(60_000))
    chunk = _chunk(b"MSG", b"F", body)
    framer = ChunkFramer(65535)
    frames: list[Frame] = []
    for received in range(1, len(chunk) + 1):
        frames += framer.feed(chunk[received - 1 : received])
        if received < len(chunk):
            assert framer.buffered == received
            assert frames == []
    assert frames == [Frame(b"MSG", b"F", chunk)]
    assert framer.buffered == 0


def test_a_header_announcing_more_than_max_chunk_is_refused_before_the_body() -> None:
    framer = ChunkFramer(65535)
    header = _header(b"MSG", b"F", 0xFFFFFFF0)
    for index in range(len(header) - 1):
        assert framer.feed(header[index : index + 1]) == []  # not a whole header yet
    with pytest.raises(FramingError) as refused:
        framer.feed(header[-1:])  # the header's last byte, no body at all
    assert refused.value.code == BAD_TCP_MESSAGE_TOO_LARGE
    assert str(0xFFFFFFF0) in refused.value.reason
    assert "65535" in refused.value.reason
    assert framer.buffered == len(header)  # nothing of a body was kept


def test_a_too_large_header_after_good_chunks_is_refused_in_the_same_feed() -> None:
    framer = ChunkFramer(1024)
    data = CHUNKS[0] + _header(b"MSG", b"F", 1025) + b"x" * 100
    with pytest.raises(FramingError) as refused:
        framer.feed(data)
    assert refused.value.code == BAD_TCP_MESSAGE_TOO_LARGE


def test_a_chunk_of_exactly_max_chunk_is_accepted() -> None:
    framer = ChunkFramer(1024)
    chunk = _chunk(b"MSG", b"F", b"\x00" * (1024 - HEADER.size))
    assert framer.feed(chunk) == [Frame(b"MSG", b"F", chunk)]


@pytest.mark.parametrize(
    ("message_type", "chunk_type"),
    [
        (b"XYZ", b"F"),
        (b"ACK", b"F"),  # a server's message, never a client's
        (b"ERR", b"F"),
        (b"RHE", b"F"),
        (b"HEL", b"C"),  # Hello, open and close fit in one final chunk
        (b"OPN", b"A"),
        (b"CLO", b"C"),
        (b"MSG", b"X"),
        (b"msg", b"F"),
    ],
)
def test_unknown_message_and_chunk_types_are_refused(
    message_type: bytes, chunk_type: bytes
) -> None:
    framer = ChunkFramer(65535)
    with pytest.raises(FramingError) as refused:
        framer.feed(_header(message_type, chunk_type, 64))
    assert refused.value.code == BAD_TCP_MESSAGE_TYPE_INVALID
    assert repr(message_type) in refused.value.reason


@pytest.mark.parametrize(
    ("message_type", "size"),
    [(b"HEL", 0), (b"HEL", 7), (b"MSG", 0), (b"MSG", 8), (b"MSG", 11), (b"OPN", 11), (b"CLO", 9)],
)
def test_sizes_below_the_header_are_refused(message_type: bytes, size: int) -> None:
    """A size of 0 would otherwise make an endless loop of empty chunks."""
    framer = ChunkFramer(65535)
    with pytest.raises(FramingError) as refused:
        framer.feed(_header(message_type, b"F", size) + b"\x00" * 16)
    assert refused.value.code == BAD_TCP_MESSAGE_TYPE_INVALID
    assert f"chunk of {size} bytes" in refused.value.reason


def test_the_smallest_chunks_are_accepted() -> None:
    framer = ChunkFramer(65535)
    hello = _header(b"HEL", b"F", 8)
    message = _header(b"MSG", b"F", 12) + b"\x00" * 4
    assert framer.feed(hello + message) == [
        Frame(b"HEL", b"F", hello),
        Frame(b"MSG", b"F", message),
    ]


def test_max_chunk_lowered_after_hello_applies_to_the_next_header() -> None:
    """The adapter lowers max_chunk to what the Hello negotiated."""
    framer = ChunkFramer(65535)
    assert framer.feed(CHUNKS[0]) == [EXPECTED[0]]
    framer.max_chunk = 1024
    accepted = _chunk(b"MSG", b"F", b"\x00" * (1024 - HEADER.size))
    assert framer.feed(accepted) == [Frame(b"MSG", b"F", accepted)]
    with pytest.raises(FramingError) as refused:
        framer.feed(_header(b"MSG", b"F", 1025))
    assert refused.value.code == BAD_TCP_MESSAGE_TOO_LARGE
    assert "1024 accepted" in refused.value.reason


def test_max_chunk_lowered_while_a_header_waits_checks_it_again() -> None:
    framer = ChunkFramer(65535)
    assert framer.feed(_header(b"MSG", b"F", 4000) + b"\x00" * 100) == []
    framer.max_chunk = 1024
    with pytest.raises(FramingError) as refused:
        framer.feed(b"\x00")
    assert refused.value.code == BAD_TCP_MESSAGE_TOO_LARGE
