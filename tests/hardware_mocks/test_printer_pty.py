"""The simulated ESC/POS printer: it must read the bytes of the Epson reference as a printer would,
or the tests that print through it prove nothing. Bytes here are written out by hand."""

from __future__ import annotations

import os
import select
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardware_mocks.escpos_stream import Command, EscposStream, EscposStreamError
from hardware_mocks.printer_pty import SimulatedPrinter, render_png, run_console

ESC, GS = b"\x1b", b"\x1d"


def commands(data: bytes, chunk: int = 0) -> list[Command]:
    stream = EscposStream()
    out: list[Command] = []
    pieces = [data[i : i + chunk] for i in range(0, len(data), chunk)] if chunk else [data]
    for piece in pieces:
        stream.feed(piece)
        while (command := stream.next_frame()) is not None:
            out.append(command)
    assert stream.pending == b""
    return out


def test_parses_the_reference_commands() -> None:
    data = (
        ESC
        + b"@"
        + ESC
        + b"a\x01"
        + ESC
        + b"E\x01"
        + GS
        + b"!\x11"
        + ESC
        + b"t\x13"
        + b"Hi\x81\n"
        + ESC
        + b"d\x06"
        + GS
        + b"V\x00"
        + GS
        + b"V\x42\x00"
        + b"\x10\x04\x04"
        + GS
        + b"v0\x00\x01\x00\x02\x00\xf0\x0f"
        + GS
        + b"(k\x03\x001A\x00"
        + GS
        + b"k\x04123\x00"
        + GS
        + b"k\x49\x03abc"
        + ESC
        + b"*\x21\x01\x00abc"
    )
    names = [(c.name, c.args, c.data) for c in commands(data)]
    assert names == [
        ("ESC @", b"", b""),
        ("ESC a", b"\x01", b""),
        ("ESC E", b"\x01", b""),
        ("GS !", b"\x11", b""),
        ("ESC t", b"\x13", b""),
        ("text", b"", b"Hi\x81"),
        ("LF", b"", b""),
        ("ESC d", b"\x06", b""),
        ("GS V", b"\x00", b""),
        ("GS V", b"\x42\x00", b""),
        ("DLE EOT", b"\x04", b""),
        ("GS v 0", b"\x00\x01\x00\x02\x00", b"\xf0\x0f"),
        ("GS (k", b"k\x03\x00", b"1A\x00"),
        ("GS k", b"\x04", b"123"),
        ("GS k", b"\x49", b"abc"),
        ("ESC *", b"\x21\x01\x00", b"abc"),
    ]


def test_split_anywhere_gives_the_same_commands() -> None:
    data = ESC + b"@" + ESC + b"t\x13Hello\n" + GS + b"v0\x00\x02\x00\x03\x00" + bytes(6) + GS + b"V\x01"
    whole = commands(data)
    for chunk in (1, 2, 3, 5):
        split = commands(data, chunk)
        joined = [c for c in split if c.name != "text"]
        assert joined == [c for c in whole if c.name != "text"]
        assert b"".join(c.data for c in split if c.name == "text") == b"Hello"


def test_incomplete_command_is_waited_for_forever() -> None:
    stream = EscposStream()
    stream.feed(GS + b"v0\x00\x10\x00\x10\x00" + bytes(100))
    assert stream.next_frame(line_idle=True) is None
    assert stream.buffered == 0  # nothing for the pty loop to drop on a stalled line
    assert len(stream.pending) == 108


def test_unknown_commands_are_named_not_fatal() -> None:
    got = commands(ESC + b"Z" + b"ok" + b"\x07")
    assert [c.name for c in got] == ["unknown ESC 0x5A", "text", "unknown control 0x07"]
    assert not got[0].known and got[1].known


def test_absurd_image_is_a_typed_error() -> None:
    stream = EscposStream()
    stream.feed(GS + b"v0\x00\xff\xff\xff\xff" + b"after")
    with pytest.raises(EscposStreamError) as caught:
        stream.next_frame()
    assert caught.value.raw.startswith(GS + b"v0")
    assert stream.next_frame() == Command("text", data=b"after")


@given(st.binary(max_size=300))
def test_fuzzed_bytes_give_commands_or_the_typed_error(data: bytes) -> None:
    stream = EscposStream()
    stream.feed(data)
    for _ in range(len(data) + 2):  # every call consumes input or returns None: this always ends
        try:
            if stream.next_frame() is None:
                break
        except EscposStreamError:
            continue


def test_prints_what_it_receives() -> None:
    sim = SimulatedPrinter(paper_width="58mm")
    sim.receive(
        ESC
        + b"@"
        + ESC
        + b"t\x13"
        + ESC
        + b"a\x01"
        + GS
        + b"!\x11"
        + b"M\x81ller\n"
        + GS
        + b"!\x00"
        + ESC
        + b"a\x00"
        + ESC
        + b"E\x01"
        + b"\x92r\x9b\n"
        + ESC
        + b"E\x00"
        + ESC
        + b"t\x12"
        + b"\x9d\xa2d\xab\n"
        + GS
        + b"V\x01"
    )
    sheet = sim.last_sheet()
    assert sheet.cut == "partial"
    assert sheet.text() == "          Müller\nÆrø\nŁódź\n"
    assert [(line.width, line.height, line.bold, line.align) for line in sheet.lines] == [
        (2, 2, False, "center"),
        (1, 1, True, "left"),
        (1, 1, False, "left"),
    ]
    assert sim.unknown == [] and sim.wrapped_lines == 0


def test_long_lines_wrap_as_on_paper_and_are_counted() -> None:
    sim = SimulatedPrinter(paper_width="58mm")
    sim.receive(b"x" * 40 + b"\n" + GS + b"!\x11" + b"y" * 17 + b"\n" + GS + b"V\x00")
    assert [line.text for line in sim.last_sheet().lines] == ["x" * 32, "x" * 8, "y" * 16, "y"]
    assert sim.wrapped_lines == 2


def test_unsupported_code_page_keeps_the_current_one() -> None:
    sim = SimulatedPrinter(code_pages={0: "cp437", 19: "cp858"})
    sim.receive(ESC + b"t\x13" + b"\x81" + ESC + b"t\x12" + b"\x81\n" + GS + b"V\x00")
    assert sim.last_sheet().lines[0].text == "üü"
    assert sim.bad_code_pages == [0x12]


@pytest.mark.parametrize(
    ("state", "answers"),
    [
        ({}, {1: 0x12, 2: 0x12, 3: 0x12, 4: 0x12}),
        ({"paper": "low"}, {1: 0x12, 2: 0x12, 3: 0x12, 4: 0x1E}),
        ({"paper": "out"}, {1: 0x1A, 2: 0x32, 3: 0x12, 4: 0x7E}),
        ({"cover_open": True}, {1: 0x1A, 2: 0x16, 3: 0x12, 4: 0x12}),
        ({"offline": True}, {1: 0x1A, 2: 0x12, 3: 0x12, 4: 0x12}),
        ({"error": "cutter"}, {1: 0x1A, 2: 0x52, 3: 0x1A, 4: 0x12}),
    ],
)
def test_status_answers(state: dict, answers: dict[int, int]) -> None:
    sim = SimulatedPrinter()
    sim.set_state(**state)
    for n, byte in answers.items():
        assert sim.receive(b"\x10\x04" + bytes((n,))) == bytes((byte,)), n
    assert sim.status_queries == [1, 2, 3, 4]


def test_silent_printer_prints_but_does_not_answer() -> None:
    sim = SimulatedPrinter()
    sim.silent = True
    assert sim.receive(b"\x10\x04\x01" + b"hello\n" + GS + b"V\x00") == b""
    assert sim.last_sheet().lines[0].text == "hello"


def test_while_it_cannot_print_it_holds_and_prints_after_the_fix() -> None:
    sim = SimulatedPrinter()
    sim.set_state(cover_open=True)
    assert sim.receive(b"held\n" + GS + b"V\x00" + b"\x10\x04\x02") == b"\x16"  # still answers
    assert sim.sheets == [] and len(sim.held) == 3
    sim.set_state(cover_open=False)
    assert sim.last_sheet().lines[0].text == "held" and sim.held == []


def test_paper_running_out_mid_receipt() -> None:
    sim = SimulatedPrinter()
    sim.lines_until_paper_out = 2
    sim.receive(b"one\ntwo\nthree\n" + GS + b"V\x00")
    assert [line.text for line in sim.current.lines] == ["one", "two"]
    assert sim.paper == "out" and [c.name for c in sim.held] == ["text", "LF", "GS V"]


def test_png_shows_text_and_images() -> None:
    sim = SimulatedPrinter(paper_width="58mm")
    sim.receive(b"Hi\n" + GS + b"v0\x00\x01\x00\x02\x00\xff\x00" + GS + b"V\x00")
    sheet = sim.last_sheet()
    assert sheet.text() == "Hi\n[image 8x2]\n"
    image = render_png(sheet)
    assert image.width == 384
    assert image.height == 30 + 2 + 12
    assert image.getpixel((3, 30)) == 0 and image.getpixel((3, 31)) == 255  # the image's black row
    text_row = image.crop((0, 0, 24, 30))
    assert text_row.getextrema()[0] == 0  # "Hi" left some ink


def test_over_a_pty_and_from_the_console(tmp_path) -> None:
    link = str(tmp_path / "printer")
    with SimulatedPrinter(link_path=link) as sim:
        fd = os.open(link, os.O_RDWR | os.O_NOCTTY)
        try:
            os.write(fd, b"over the wire\n" + GS + b"V\x00" + b"\x10\x04\x04")
            ready, _, _ = select.select([fd], [], [], 5)
            assert ready and os.read(fd, 1) == b"\x12"
        finally:
            os.close(fd)
        deadline = time.monotonic() + 5
        while not sim.sheets and time.monotonic() < deadline:
            time.sleep(0.01)
        out: list[str] = []

        class Out:
            def write(self, text: str) -> None:
                out.append(text)

            def flush(self) -> None:
                pass

        run_console(
            sim, ["paper low", "show", f"png {tmp_path / 'r.png'}", "bogus", "quit", "paper out"], Out()
        )
        assert "".join(out).split("\n")[:3] == ["ok", "over the wire", ""]
        assert "error unknown command 'bogus'" in "".join(out)
        assert sim.paper == "low"  # "quit" stopped before "paper out"
        assert (tmp_path / "r.png").stat().st_size > 0
