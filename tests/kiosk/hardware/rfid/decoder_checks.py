"""Checks both stream decoders (FEIG, 3M 810) must pass: the shared ``StreamDecoder`` rules, each seen
through one protocol's frames. The protocol test modules call these with their own codecs."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from kiosk.hardware.rfid.readers.stream_decoder import StreamDecoder


def frames_fed_in_pieces(decoder: StreamDecoder[Any], stream: bytes, cuts: list[int]) -> list[Any]:
    """Every frame the decoder yields while ``stream`` arrives cut at ``cuts`` (sorted offsets)."""
    got = []
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        decoder.feed(stream[start:end])
        while (frame_ := decoder.next_frame()) is not None:
            got.append(frame_)
    return got


def check_garbage_is_skipped(
    decoder: StreamDecoder[Any], stream: bytes, garbage: bytes, reply: object
) -> None:
    """``stream`` is ``garbage`` then the frame of ``reply``; the decoder finds it and counts the garbage."""
    decoder.feed(stream)
    # garbage announcing more bytes than follow is only searched past once the line is quiet
    assert (decoder.next_frame() or decoder.next_frame(line_idle=True)) == reply
    assert decoder.next_frame(line_idle=True) is None
    assert decoder.skipped == len(garbage)


def check_decoder_terminates_raising_only_frame_errors(
    decoder: StreamDecoder[Any], chunks: list[bytes], frame_error: type[Exception]
) -> None:
    """Fed arbitrary chunks, the decoder consumes input on every call and raises only ``frame_error``."""
    fed = sum(len(c) for c in chunks)
    calls = 0
    for chunk in chunks:
        decoder.feed(chunk)
        while True:
            calls += 1
            assert calls <= fed + len(chunks) + 1, "decoder did not consume input"
            try:
                if decoder.next_frame() is None and decoder.next_frame(line_idle=True) is None:
                    break
            except frame_error as exc:
                assert isinstance(exc.raw, bytes)  # type: ignore[attr-defined]


def check_one_shot_parsers(
    raw: bytes,
    codecs: Iterable[tuple[Callable[[bytes], Any], Callable[[Any], bytes]]],
    frame_error: type[Exception],
) -> None:
    """Each ``(parse, build)`` either rejects ``raw`` with ``frame_error`` carrying it, or accepts exactly
    one well-formed frame that builds back to ``raw``."""
    for parse, build in codecs:
        try:
            frame = parse(raw)
        except frame_error as exc:
            assert exc.raw == raw  # type: ignore[attr-defined]
        else:
            assert build(frame) == raw  # whatever is accepted is exactly one well-formed frame
