"""Serial line framing, sans-IO: bytes and times in, frames out."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.hardware.barcode.events import Garbled
from kiosk.hardware.barcode.framing import LineFramer, terminator_bytes

frame_text = st.binary(min_size=1, max_size=40).filter(
    lambda b: b.strip(b"\r\n") == b and b"\r" not in b and b"\n" not in b
)


def feed_all(framer: LineFramer, chunks: list[bytes], now: float = 0.0) -> list:
    out: list = []
    for chunk in chunks:
        out += framer.feed(chunk, now)
    return out


@pytest.mark.parametrize(("name", "expected"), [("CR", b"\r"), ("lf", b"\n"), ("CRLF", b"\r\n")])
def test_terminator_names(name: str, expected: bytes) -> None:
    assert terminator_bytes(name) == expected


def test_unknown_terminator_name_is_refused() -> None:
    with pytest.raises(ValueError, match="ETX"):
        terminator_bytes("ETX")


@given(st.lists(frame_text, max_size=10), st.sampled_from([b"\r", b"\n", b"\r\n"]), st.data())
def test_any_chunking_gives_the_same_frames(frames: list[bytes], terminator: bytes, data) -> None:
    stream = b"".join(frame + terminator for frame in frames)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    assert feed_all(LineFramer(terminator), chunks) == frames


def test_cr_configured_but_scanner_sends_crlf_loses_nothing() -> None:
    assert feed_all(LineFramer(b"\r"), [b"123\r\n456\r", b"\n"]) == [b"123", b"456"]
    assert LineFramer(b"\r").poll(10.0) == []


def test_a_frame_without_terminator_is_garbled_after_the_idle_timeout() -> None:
    framer = LineFramer(b"\r", idle_timeout=0.5)
    assert framer.feed(b"3023", 0.0) == []
    assert framer.poll(0.4) == []
    assert framer.poll(0.6) == [Garbled(b"3023", "no terminator b'\\r' within 0.5 s")]
    assert framer.feed(b"9\r", 0.7) == [b"9"]  # the stale bytes did not glue onto the next scan


def test_a_late_byte_first_settles_the_stale_partial() -> None:
    framer = LineFramer(b"\r", idle_timeout=0.5)
    framer.feed(b"12", 0.0)
    assert framer.feed(b"34\r", 2.0) == [Garbled(b"12", "no terminator b'\\r' within 0.5 s"), b"34"]


def test_no_idle_timeout_keeps_partials() -> None:
    framer = LineFramer(b"\r", idle_timeout=None)
    framer.feed(b"12", 0.0)
    assert framer.feed(b"34\r", 100.0) == [b"1234"]


def test_overlong_noise_is_garbled_once_and_the_framer_recovers() -> None:
    framer = LineFramer(b"\r", max_length=8)
    out = feed_all(framer, [b"x" * 5, b"y" * 5, b"z" * 20, b"tail\r", b"ok\r"])
    assert out == [Garbled(b"xxxxxyyy", "longer than 8 bytes without a terminator"), b"ok"]


def test_overlong_frame_in_one_chunk() -> None:
    out = LineFramer(b"\r", max_length=4).feed(b"123456\rok\r", 0.0)
    assert out == [Garbled(b"1234", "longer than 4 bytes without a terminator"), b"ok"]


def test_empty_terminator_is_refused() -> None:
    with pytest.raises(ValueError):
        LineFramer(b"")


@given(
    st.lists(st.tuples(st.binary(max_size=50), st.floats(0, 2)), max_size=30),
    st.sampled_from([b"\r", b"\r\n"]),
)
def test_arbitrary_bytes_never_raise_and_frames_never_hold_a_terminator(
    chunks: list[tuple[bytes, float]], terminator: bytes
) -> None:
    framer = LineFramer(terminator, max_length=16)
    now = 0.0
    for data, gap in chunks:
        now += gap
        for frame in framer.feed(data, now):
            if isinstance(frame, bytes):
                assert frame and terminator not in frame and len(frame) <= 16
            else:
                assert isinstance(frame, Garbled)
