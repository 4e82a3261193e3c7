"""DLE EOT real-time status: the bytes of the Epson reference in, a printer state out."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.hardware.printer.status import (
    ERROR_CAUSE,
    OFFLINE_CAUSE,
    PAPER,
    PRINTER,
    ErrorCause,
    OfflineCause,
    PaperSensor,
    PrinterFlags,
    PrinterState,
    PrinterStatus,
    StatusByteError,
    garbled,
    interpret,
    needed,
    query,
)

DECODERS = {PRINTER: PrinterFlags, OFFLINE_CAUSE: OfflineCause, ERROR_CAUSE: ErrorCause, PAPER: PaperSensor}


def test_queries_are_dle_eot_n() -> None:
    assert [query(n) for n in (1, 2, 3, 4)] == [
        b"\x10\x04\x01",
        b"\x10\x04\x02",
        b"\x10\x04\x03",
        b"\x10\x04\x04",
    ]
    with pytest.raises(ValueError):
        query(5)


def test_reference_bytes() -> None:
    # Values as printed in the ESC/POS reference tables: 0x12 is "all clear" for every n.
    assert PrinterFlags.decode(0x12) == PrinterFlags()
    assert PrinterFlags.decode(0x1A) == PrinterFlags(offline=True)
    assert PrinterFlags.decode(0x52).feed_button
    assert OfflineCause.decode(0x16) == OfflineCause(cover_open=True)
    assert OfflineCause.decode(0x32) == OfflineCause(paper_end_stop=True)
    assert OfflineCause.decode(0x52) == OfflineCause(error=True)
    assert ErrorCause.decode(0x1A) == ErrorCause(cutter=True)
    assert ErrorCause.decode(0x32) == ErrorCause(unrecoverable=True)
    assert PaperSensor.decode(0x12) == PaperSensor()
    assert PaperSensor.decode(0x1E) == PaperSensor(near_end=True)
    assert PaperSensor.decode(0x7E) == PaperSensor(near_end=True, end=True)
    # one bit of a pair is enough to be cautious about
    assert PaperSensor.decode(0x16) == PaperSensor(near_end=True)
    assert PaperSensor.decode(0x32).end


@pytest.mark.parametrize("byte", [0x00, 0xFF, 0x10, 0x02, 0x13, 0x92, 0x48])
def test_bytes_breaking_the_fixed_bits_are_refused(byte: int) -> None:
    for n, decoder in DECODERS.items():
        with pytest.raises(StatusByteError) as caught:
            decoder.decode(byte)
        assert caught.value.byte == byte and caught.value.n == n
        assert f"0x{byte:02X}" in str(caught.value)


@given(st.sampled_from(sorted(DECODERS)), st.integers(0, 255))
def test_any_byte_decodes_or_raises_the_typed_error(n: int, byte: int) -> None:
    decoder = DECODERS[n]
    try:
        value = decoder.decode(byte)
    except StatusByteError:
        assert byte & 0x93 != 0x12
        return
    # decode(encode(x)) == x; and encode(decode(b)) == b up to bits the kiosk does not read
    assert decoder.decode(value.encode()) == value


@given(st.builds(PrinterFlags, st.booleans(), st.booleans(), st.booleans(), st.booleans()))
def test_printer_flags_round_trip(flags: PrinterFlags) -> None:
    assert PrinterFlags.decode(flags.encode()) == flags
    assert flags.encode() & 0x93 == 0x12


@given(
    st.builds(OfflineCause, st.booleans(), st.booleans(), st.booleans(), st.booleans()),
    st.builds(ErrorCause, st.booleans(), st.booleans(), st.booleans()),
    st.builds(PaperSensor, st.booleans(), st.booleans()),
)
def test_other_round_trips(cause: OfflineCause, error: ErrorCause, paper: PaperSensor) -> None:
    assert OfflineCause.decode(cause.encode()) == cause
    assert ErrorCause.decode(error.encode()) == error
    assert PaperSensor.decode(paper.encode()) == paper


def ask_all(answers: dict[int, int | None]) -> tuple[list[int], PrinterStatus]:
    """Drive needed()/interpret() as the driver does, answering from ``answers``."""
    asked: list[int] = []
    replies: dict[int, int | None] = {}
    while (n := needed(replies)) is not None:
        asked.append(n)
        replies[n] = answers.get(n)
    return asked, interpret(replies)


def test_ready_printer_is_asked_twice() -> None:
    asked, status = ask_all({1: 0x12, 4: 0x12})
    assert asked == [1, 4]
    assert status == PrinterStatus(PrinterState.READY)
    assert status.can_print and status.health == ("ok", "")


def test_paper_low_still_prints_with_a_warning() -> None:
    _, status = ask_all({1: 0x12, 4: 0x1E})
    assert status.state is PrinterState.PAPER_LOW
    assert status.can_print
    assert status.health == ("warning", "paper low: the paper roll is nearly empty")


@pytest.mark.parametrize(
    ("answers", "asked", "state", "words"),
    [
        ({1: 0x1A, 2: 0x32, 4: 0x7E}, [1, 2, 4], PrinterState.PAPER_OUT, "empty"),
        ({1: 0x1A, 2: 0x16, 4: 0x12}, [1, 2, 4], PrinterState.COVER_OPEN, "cover is open"),
        ({1: 0x1A, 2: 0x52, 3: 0x1A, 4: 0x12}, [1, 2, 3, 4], PrinterState.ERROR, "autocutter"),
        ({1: 0x1A, 2: 0x52, 3: 0x32, 4: 0x12}, [1, 2, 3, 4], PrinterState.ERROR, "off and on"),
        ({1: 0x3A, 2: 0x52, 3: 0x52, 4: 0x12}, [1, 2, 3, 4], PrinterState.ERROR, "too hot"),
        ({1: 0x1A, 2: 0x12, 4: 0x12}, [1, 2, 4], PrinterState.OFFLINE, "offline"),
        ({1: 0x1A, 2: 0x1A, 4: 0x12}, [1, 2, 4], PrinterState.OFFLINE, "feed button"),
        # online but the paper end sensor set (some printers report it before going offline)
        ({1: 0x12, 4: 0x72}, [1, 4], PrinterState.PAPER_OUT, "empty"),
    ],
)
def test_faults(answers: dict[int, int], asked: list[int], state: PrinterState, words: str) -> None:
    got_asked, status = ask_all(answers)
    assert got_asked == asked
    assert status.state is state
    assert words in status.detail
    assert not status.can_print
    assert status.health[0] == "failed"


def test_silence_is_unknown_not_ready() -> None:
    """python-escpos's paper_status() says 2 ("adequate") here; the kiosk says it does not know."""
    asked, status = ask_all({})
    assert asked == [1]  # one timeout, not four
    assert status.state is PrinterState.UNKNOWN
    assert status.detail == "no answer to status query DLE EOT 1"
    assert not status.can_print
    assert status.health == ("failed", "unknown: no answer to status query DLE EOT 1")


def test_silence_on_a_later_query_is_unknown_too() -> None:
    asked, status = ask_all({1: 0x12})
    assert asked == [1, 4]
    assert status.state is PrinterState.UNKNOWN and "DLE EOT 4" in status.detail


def test_garbled_reply_is_unknown() -> None:
    asked, status = ask_all({1: 0x48})
    assert asked == [1]
    assert status.state is PrinterState.UNKNOWN
    assert "garbled" in status.detail and "0x48" in status.detail


def test_garbled_is_told_apart_from_silence() -> None:
    assert garbled({1: 0x48})
    assert not garbled({1: None})
    assert not garbled({1: 0x12, 4: 0x1E})


def test_unqueried_unknown_may_print() -> None:
    """Status queries turned off by the site (one-way printer): unknown, but printing is offered."""
    status = PrinterStatus(PrinterState.UNKNOWN, "not asked", queried=False)
    assert status.can_print
    assert status.health[0] == "warning"


def test_interpret_without_answers() -> None:
    assert interpret({}).state is PrinterState.UNKNOWN
    assert interpret({1: 0x12}).state is PrinterState.UNKNOWN  # paper not asked: not "ready"


@given(st.dictionaries(st.sampled_from([1, 2, 3, 4]), st.one_of(st.none(), st.integers(0, 255))))
def test_any_answers_give_a_status(replies: dict[int, int | None]) -> None:
    status = interpret(replies)
    assert isinstance(status.state, PrinterState)
    if status.state in (PrinterState.READY, PrinterState.PAPER_LOW):
        assert replies.get(1) is not None and replies.get(4) is not None
