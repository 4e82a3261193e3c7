"""The stream decoders' search for a later frame: it remembers what it judged, and finds what the plain
search finds.

The fuzzer (bench/fuzz.py, target feig-stream) found inputs on which the search went through the whole
buffer once per bad frame, and inputs on which each judged position cost a long CRC in Python; those
inputs live in ``fuzz_found/``. Time is not asserted here (benchmarks
measure time); the number of checksums computed is, since it is what grew with the square of the input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.hardware.rfid.readers import feig_protocol as fp
from kiosk.hardware.rfid.readers import m3_810_protocol as mp

FOUND = Path(__file__).parent / "fuzz_found"
UID = bytes.fromhex("E004010012345678")


def plain_search(decoder: Any, start: int) -> int | None:
    """The search as first written: every start position from ``start``, every time."""
    buf = decoder._buf
    for offset in range(start, len(buf)):
        size = decoder._frame_size(buf, offset)
        if not size or offset + size > len(buf) or decoder._unexpected_command(offset):
            continue
        if decoder._check_ok(buf, offset, size):
            return offset
    return None


def counting(cls: type, *, plain: bool = False) -> type:
    """``cls`` counting its checksum calls; with ``plain``, searching the plain way."""

    class Counting(cls):  # type: ignore[misc, valid-type]
        checks = 0

        def _check_ok(self, buf: bytearray, offset: int, size: int) -> bool:
            type(self).checks += 1
            return super()._check_ok(buf, offset, size)

        if plain:

            def _find_valid_frame(self, start: int) -> int | None:
                return plain_search(self, start)

    return Counting


def drain_like_the_fuzzer(decoder: Any, data: bytes) -> list[Any]:
    """bench/fuzz_targets.py's _drain: three pieces, every frame out, then once more with the line idle."""
    out: list[Any] = []
    third = max(1, len(data) // 3)
    pieces = [data[:third], data[third : 2 * third], data[2 * third :]]
    for idle in (False, False, False, True):
        if not idle:
            decoder.feed(pieces.pop(0))
        while True:
            try:
                frame = decoder.next_frame(line_idle=idle)
            except decoder.error_type as exc:
                out.append(("error", exc.raw))  # type: ignore[attr-defined]
                continue
            if frame is None:
                break
            out.append(frame)
    return out


def checks_on(cls: type, data: bytes, *, plain: bool, **kwargs: Any) -> tuple[int, list[Any]]:
    decoder_cls = counting(cls, plain=plain)
    out = drain_like_the_fuzzer(decoder_cls(**kwargs), data)
    return decoder_cls.checks, out


# hang-*: quadratic search; crc-*: 0xFF bytes announcing 255-byte frames everywhere, slow while the CRC
# was computed in Python (bench/stream_resync.py times them; here they are checked for what they decode).
FOUND_INPUTS = sorted(FOUND.glob("feig-stream-*.bin"))


def test_the_fuzzers_finds_are_here():
    assert len(FOUND_INPUTS) == 4


@pytest.mark.parametrize("path", FOUND_INPUTS, ids=lambda p: p.stem)
@pytest.mark.parametrize(
    "kwargs", [{"kind": "reply"}, {"kind": "request"}, {"kind": "reply", "expect_command": fp.Command.ISO_HOST}]
)
def test_fuzzer_hang_inputs_judge_each_position_once(path, kwargs):
    data = path.read_bytes()
    checks, frames = checks_on(fp.FrameDecoder, data, plain=False, **kwargs)
    plain_checks, plain_frames = checks_on(fp.FrameDecoder, data, plain=True, **kwargs)
    assert frames == plain_frames
    # each start position at most once in the search, and once more as the front
    assert checks <= 2 * len(data)
    if "expect_command" not in kwargs and "-hang-" in path.name:
        # the input is the bad case: the plain search goes through the buffer again and again
        assert plain_checks > 4 * checks


def bad_frame_garbage(size: int) -> bytes:
    """Garbage made of complete FEIG frames with bad CRCs, each start byte announcing the next few bytes."""
    unit = bytes((7, 0xFF, 0xB0, 0x00, 0x00, 0x12, 0x34))
    return (unit * (size // len(unit) + 1))[:size]


@pytest.mark.parametrize("cls", [fp.FrameDecoder, mp.FrameDecoder])
def test_checks_grow_with_the_input_not_its_square(cls):
    garbage = bad_frame_garbage if cls is fp.FrameDecoder else m3_bad_frame_garbage
    ours, plain = [], []
    for size in (1024, 4096):
        checks, frames = checks_on(cls, garbage(size), plain=False, kind="reply")
        plain_checks, plain_frames = checks_on(cls, garbage(size), plain=True, kind="reply")
        assert frames == plain_frames
        assert checks <= 2 * size
        ours.append(checks)
        plain.append(plain_checks)
    assert ours[1] <= 5 * ours[0]  # 4x the input: about 4x the checks
    assert plain[1] >= 12 * plain[0]  # the plain search: about 16x (why the fuzzer found it)


def m3_bad_frame_garbage(size: int) -> bytes:
    unit = bytes((0xD6, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00))
    return (unit * (size // len(unit) + 1))[:size]


# -- the remembering search finds what the plain search finds --------------------------------------------------


def feig_pieces() -> st.SearchStrategy[bytes]:
    reply = st.builds(
        lambda command, status, data, advanced: fp.build_reply(fp.Reply(command, status, data, 0, advanced)),
        st.sampled_from([0xB0, 0x65, 0x66]),
        st.sampled_from([0, 1, 0x84]),
        st.binary(max_size=20),
        st.booleans(),
    )
    request = st.builds(lambda data: fp.build_request(fp.Request(0xB0, data)), st.binary(max_size=12))
    return _pieces(st.one_of(reply, request))


def m3_pieces() -> st.SearchStrategy[bytes]:
    reply = st.builds(
        lambda command, data: mp.build_reply(mp.Reply(command, 0, data)),
        st.sampled_from([0x01, 0x02, 0x04]),
        st.binary(max_size=20),
    )
    request = st.builds(lambda data: mp.build_request(mp.Request(0x02, data)), st.binary(max_size=12))
    return _pieces(st.one_of(reply, request))


def _pieces(frames: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    def broken(frame: bytes, where: int, xor: int) -> bytes:
        where %= len(frame)
        return frame[:where] + bytes((frame[where] ^ xor,)) + frame[where + 1 :]

    damaged = st.builds(broken, frames, st.integers(0, 1000), st.integers(1, 255))
    cut = st.builds(lambda frame, keep: frame[: keep % len(frame)], frames, st.integers(0, 1000))
    return st.one_of(frames, damaged, cut, st.binary(max_size=6))


STEP = st.tuples(
    st.sampled_from(["feed", "feed", "feed", "next", "idle", "expect", "clear"]),
    st.integers(1, 40),
    st.sampled_from([None, 0xB0, 0x65, 0x01, 0x02]),
)


@pytest.mark.parametrize(
    ("cls", "pieces"), [(fp.FrameDecoder, feig_pieces()), (mp.FrameDecoder, m3_pieces())], ids=["feig", "m3"]
)
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_remembering_search_agrees_with_the_plain_search(cls, pieces, data):
    stream = b"".join(data.draw(st.lists(pieces, max_size=14)))
    kind = data.draw(st.sampled_from(["reply", "request"]))
    steps = data.draw(st.lists(STEP, max_size=40))
    ours, plain = counting(cls)(kind), counting(cls, plain=True)(kind)
    sent = 0
    for action, count, command in [*steps, ("idle", 0, None)]:
        if action == "feed":
            for decoder in (ours, plain):
                decoder.feed(stream[sent : sent + count])
            sent += count
        elif action == "expect":
            ours.expect_command = plain.expect_command = command
        elif action == "clear":
            ours.clear()
            plain.clear()
        else:
            assert take_all(ours, action == "idle") == take_all(plain, action == "idle")
            assert ours.skipped == plain.skipped
            assert ours.pending == plain.pending


def take_all(decoder: Any, idle: bool) -> list[Any]:
    out: list[Any] = []
    while True:
        try:
            frame = decoder.next_frame(line_idle=idle)
        except decoder.error_type as exc:
            out.append(("error", exc.raw))
            continue
        if frame is None:
            return out
        out.append(frame)
