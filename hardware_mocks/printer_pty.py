"""A simulated ESC/POS thermal receipt printer on a pseudo-terminal, with paper you can look at.

The kiosk opens the pty's slave path like any serial printer (python-escpos ``Serial``); this side
parses the bytes it receives (:mod:`hardware_mocks.escpos_stream`) and prints them on simulated
paper: text in the code page selected with ESC t, alignment, bold, character size, raster images,
cuts. Tests assert on the receipt *as printed* (:meth:`Sheet.text`), the demo shows it
(:func:`render_png`).

It answers DLE EOT real-time status queries from a state a test programs: paper adequate, near its
end or out, cover open, offline, a cutter or unrecoverable error. Like a real printer, while it
cannot print it keeps what it receives (:attr:`SimulatedPrinter.held`) and prints it once the fault
is cleared. The status bytes are composed here with their own bit arithmetic, not with the kiosk's
parser, so a parsing mistake shows up as a test failure. Line faults (a dead printer:
``muted``; garbled answers; unplug / re-plug) come from :class:`PtyDevice`; a printer that prints but
never answers status queries is ``silent``.

Run standalone: ``python -m hardware_mocks.printer_pty [--link PATH] [--paper 58mm|80mm] [--png-dir DIR]``
prints the path, then takes commands on stdin (``help`` lists them).
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from hardware_mocks.escpos_stream import Command, EscposStream
from hardware_mocks.pty_device import PtyDevice

#: ESC t n -> Python codec, as Epson numbers its pages (TM-T20/TM-T88 series).
EPSON_CODE_PAGES: dict[int, str] = {
    0: "cp437",
    2: "cp850",
    3: "cp860",
    4: "cp863",
    5: "cp865",
    16: "cp1252",
    17: "cp866",
    18: "cp852",
    19: "cp858",
    13: "cp857",
    14: "cp737",
    33: "cp775",
    34: "cp855",
    35: "cp861",
    38: "cp869",
    39: "iso8859_2",
    40: "iso8859_15",
    45: "cp1250",
    46: "cp1251",
    47: "cp1253",
    48: "cp1254",
    51: "cp1257",
}
COLUMNS = {"58mm": 32, "80mm": 48}
DOT_WIDTH = 12  # font A: 12 x 24 dots
LINE_DOTS = 30  # default line spacing at 203 dpi
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")


@dataclass(frozen=True, slots=True)
class PrintedLine:
    text: str
    align: str = "left"
    bold: bool = False
    width: int = 1  # character width multiplier (GS ! / ESC !)
    height: int = 1
    font: str = "A"


@dataclass(frozen=True, slots=True)
class PrintedImage:
    width: int  # dots
    height: int
    raster: bytes  # GS v 0 rows, 1 bit per dot, MSB first, 1 = black

    def black(self, x: int, y: int) -> bool:
        row = (self.width + 7) // 8
        return bool(self.raster[y * row + x // 8] >> (7 - x % 8) & 1)


Printed = PrintedLine | PrintedImage


@dataclass
class Sheet:
    """One piece of paper: what was printed on it, and how it was cut off (None: still attached)."""

    columns: int
    items: list[Printed] = field(default_factory=list)
    cut: str | None = None

    @property
    def lines(self) -> list[PrintedLine]:
        return [item for item in self.items if isinstance(item, PrintedLine)]

    @property
    def images(self) -> list[PrintedImage]:
        return [item for item in self.items if isinstance(item, PrintedImage)]

    def text(self) -> str:
        """The sheet as it reads: each printed line padded as aligned, images as ``[image WxH]``."""
        out = []
        for item in self.items:
            if isinstance(item, PrintedImage):
                out.append(f"[image {item.width}x{item.height}]")
                continue
            width = len(item.text) * item.width
            columns = self.columns * (4 if item.font == "B" else 3) // 3
            room = max(columns - width, 0)
            pad = {"center": room // 2, "right": room}.get(item.align, 0)
            out.append((" " * pad + item.text).rstrip())
        return "\n".join(out) + "\n"


@dataclass
class _Style:
    align: str = "left"
    bold: bool = False
    width: int = 1
    height: int = 1
    font: str = "A"
    code_page: int = 0


class SimulatedPrinter(PtyDevice[Command]):
    """The printer. Thread-safe: tests change paper and cover while the serve thread prints."""

    thread_name = "escpos-pty-sim"

    def __init__(
        self,
        *,
        paper_width: str = "80mm",
        code_pages: dict[int, str] | None = None,
        link_path: str | None = None,
        png_dir: str | None = None,
    ) -> None:
        super().__init__(link_path=link_path)
        self.columns = COLUMNS[paper_width]
        self.dots = self.columns * DOT_WIDTH
        self.code_pages = dict(EPSON_CODE_PAGES if code_pages is None else code_pages)
        self.png_dir = png_dir
        # the state a test programs
        self.paper = "ok"  # "ok", "low" or "out"
        self.cover_open = False
        self.offline = False
        self.error: str | None = None  # "cutter", "unrecoverable", "auto"
        self.lines_until_paper_out: int | None = None
        #: Prints but never answers a status query: a one-way cable, or a printer without status
        #: support. (``muted``, from PtyDevice, is a dead printer: it does nothing at all.)
        self.silent = False
        # what happened
        self.sheets: list[Sheet] = []  # cut off
        self.current = Sheet(self.columns)  # still in the printer
        self.held: list[Command] = []  # received while unable to print
        self.unknown: list[Command] = []
        self.status_queries: list[int] = []
        self.wrapped_lines = 0  # lines longer than the paper, wrapped by the printer
        self.bad_code_pages: list[int] = []  # ESC t to a page this printer lacks
        self._style = _Style()
        self._line: list[str] = []
        self._line_style = _Style()
        self._direct = EscposStream()

    # -- what a test programs -----------------------------------------------------------------------

    def set_state(
        self,
        *,
        paper: str | None = None,
        cover_open: bool | None = None,
        offline: bool | None = None,
        error: str | bool | None = False,
    ) -> None:
        """Change paper / cover / online state; clearing the last fault prints what was held."""
        with self._lock:
            if paper is not None:
                if paper not in ("ok", "low", "out"):
                    raise ValueError(f"paper {paper!r}: ok, low or out")
                self.paper = paper
            if cover_open is not None:
                self.cover_open = cover_open
            if offline is not None:
                self.offline = offline
            if error is not False:
                self.error = error or None
            if self.can_print and self.held:
                held, self.held = self.held, []
                for command in held:
                    self._execute(command)

    @property
    def can_print(self) -> bool:
        return self.paper != "out" and not self.cover_open and not self.offline and self.error is None

    def status_byte(self, n: int) -> int | None:
        """The answer to DLE EOT n (bits per the Epson reference), None for an n it does not know."""
        stopped = not self.can_print
        if n == 1:
            return 0x12 | (0x08 if stopped else 0) | (0x20 if self.error == "auto" else 0)
        if n == 2:
            return (
                0x12
                | (0x04 if self.cover_open else 0)
                | (0x20 if self.paper == "out" else 0)
                | (0x40 if self.error else 0)
            )
        if n == 3:
            bits = {"cutter": 0x08, "unrecoverable": 0x20, "auto": 0x40}
            return 0x12 | bits.get(self.error or "", 0)
        if n == 4:
            return 0x12 | (0x0C if self.paper in ("low", "out") else 0) | (0x60 if self.paper == "out" else 0)
        return None

    def receive(self, data: bytes) -> bytes:
        """Process ``data`` as if it came down the wire and return what the printer answers; for tests
        of the simulation itself, without a pty (the pty's serve thread does exactly this)."""
        self._direct.feed(data)
        out = b""
        while (command := self._direct.next_frame()) is not None:
            out += self._answer(command) or b""
        return out

    # -- what was printed ---------------------------------------------------------------------------

    def last_sheet(self) -> Sheet:
        with self._lock:
            if not self.sheets:
                raise AssertionError("nothing was cut off yet")
            return self.sheets[-1]

    # -- PtyDevice ----------------------------------------------------------------------------------

    def _new_decoder(self) -> EscposStream:  # type: ignore[override]
        return EscposStream()

    def _reply_frame(self, request: Command) -> bytes | None:
        if request.name == "DLE EOT":
            n = request.args[0]
            self.status_queries.append(n)
            if self.silent:
                return None
            answer = self.status_byte(n)
            return None if answer is None else bytes((answer,))
        if request.name.startswith("DLE"):
            return None  # real-time commands are not held
        if not self.can_print:
            self.held.append(request)
        else:
            self._execute(request)
        return None

    def _unplugged(self) -> None:
        self._line = []

    # -- printing -----------------------------------------------------------------------------------

    def _execute(self, command: Command) -> None:
        name, args = command.name, command.args
        style = self._style
        if not command.known:
            self.unknown.append(command)
        elif name == "text":
            self._text(command.data)
        elif name == "LF":
            self._end_line()
        elif name == "ESC @":
            self._style = _Style()
            self._line = []
        elif name == "ESC a":
            style.align = {0: "left", 48: "left", 1: "center", 49: "center", 2: "right", 50: "right"}.get(
                args[0], "left"
            )
        elif name == "ESC E":
            style.bold = bool(args[0] & 1)
        elif name == "ESC !":
            style.font = "B" if args[0] & 0x01 else "A"
            style.bold = bool(args[0] & 0x08)
            style.height = 2 if args[0] & 0x10 else 1
            style.width = 2 if args[0] & 0x20 else 1
        elif name == "GS !":
            style.width = (args[0] >> 4 & 7) + 1
            style.height = (args[0] & 7) + 1
        elif name == "ESC M":
            style.font = "B" if args[0] in (1, 49) else "A"
        elif name == "ESC t":
            if args[0] in self.code_pages:
                style.code_page = args[0]
            else:
                self.bad_code_pages.append(args[0])  # a real printer keeps its current page
        elif name == "ESC d":
            self._end_line()
            for _ in range(max(args[0] - 1, 0)):
                self._end_line()
        elif name == "GS V":
            self._cut(args)
        elif name == "GS v 0":
            self._image(command)
        # every other known command (spacing, density, barcodes, drawer...) leaves no mark here

    def _text(self, data: bytes) -> None:
        if not self._line:
            self._line_style = _Style(**vars(self._style))
        codec = self.code_pages.get(self._style.code_page, "cp437")
        text = codecs.decode(data, codec, errors="replace")
        columns = self.columns * (4 if self._style.font == "B" else 3) // 3
        for char in text:
            if (len(self._line) + 1) * self._style.width > columns:
                self.wrapped_lines += 1
                self._end_line()
                self._line_style = _Style(**vars(self._style))
            self._line.append(char)

    def _end_line(self) -> None:
        style = self._line_style if self._line else self._style
        self.current.items.append(
            PrintedLine("".join(self._line), style.align, style.bold, style.width, style.height, style.font)
        )
        self._line = []
        self._paper_used(1)

    def _image(self, command: Command) -> None:
        if self._line:
            self._end_line()
        width_bytes = command.args[1] | command.args[2] << 8
        height = command.args[3] | command.args[4] << 8
        self.current.items.append(PrintedImage(width_bytes * 8, height, command.data))

    def _cut(self, args: bytes) -> None:
        if self._line:
            self._end_line()
        mode = args[0]
        if mode in (65, 66, 97, 98, 103, 104):
            for _ in range(args[1] // LINE_DOTS):
                self._end_line()
        self.current.cut = "partial" if mode in (1, 49, 66, 98, 104) else "full"
        sheet, self.current = self.current, Sheet(self.columns)
        self.sheets.append(sheet)
        if self.png_dir:
            render_png(sheet, Path(self.png_dir) / f"receipt-{len(self.sheets):04d}.png")

    def _paper_used(self, lines: int) -> None:
        if self.lines_until_paper_out is None:
            return
        self.lines_until_paper_out -= lines
        if self.lines_until_paper_out <= 0:
            self.lines_until_paper_out = None
            self.paper = "out"


# -- rendering -------------------------------------------------------------------------------------


def _font(bold: bool, size: int) -> ImageFont.FreeTypeFont:
    path = FONT_DIR / ("DejaVuSansMono-Bold.ttf" if bold else "DejaVuSansMono.ttf")
    if not path.exists():
        raise RuntimeError(f"PNG rendering needs {path}: apt-get install fonts-dejavu-core")
    return ImageFont.truetype(str(path), size)


def render_png(sheet: Sheet, path: Path | str | None = None) -> Image.Image:
    """The sheet as the paper would look (1 bit, 12 x 24 dot characters); saved when ``path`` is given."""
    dots = sheet.columns * DOT_WIDTH
    rows: list[Image.Image] = []
    for item in sheet.items:
        if isinstance(item, PrintedImage):
            # PIL's packed "1" mode reads a set bit as white; ESC/POS as black.
            raster = Image.frombytes("1", (item.width, item.height), bytes(b ^ 0xFF for b in item.raster))
            picture = Image.new("1", (dots, item.height), 1)
            picture.paste(raster.crop((0, 0, min(item.width, dots), item.height)), (0, 0))
            rows.append(picture)
            continue
        rows.append(_text_row(item, dots))
    if sheet.cut:
        cut = Image.new("1", (dots, 12), 1)
        ImageDraw.Draw(cut).line([(0, 6), (dots, 6)], fill=0, width=1)
        rows.append(cut)
    image = Image.new("1", (dots, max(1, sum(r.height for r in rows))), 1)
    y = 0
    for row in rows:
        image.paste(row, (0, y))
        y += row.height
    if path is not None:
        image.save(path)
    return image


def _text_row(line: PrintedLine, dots: int) -> Image.Image:
    cell_w = DOT_WIDTH * 3 // 4 if line.font == "B" else DOT_WIDTH
    font = _font(line.bold, 20 if line.font == "A" else 15)
    plain = Image.new("L", (max(1, len(line.text)) * cell_w, 24), 255)
    draw = ImageDraw.Draw(plain)
    for index, char in enumerate(line.text):
        draw.text((index * cell_w, 0), char, font=font, fill=0)
    scaled = plain.resize((plain.width * line.width, 24 * line.height))
    row = Image.new("1", (dots, LINE_DOTS * line.height), 1)
    room = max(dots - scaled.width, 0)
    x = {"center": room // 2, "right": room}.get(line.align, 0)
    row.paste(scaled.point(lambda v: 0 if v < 128 else 255).convert("1"), (x, 3))
    return row


# -- standalone ------------------------------------------------------------------------------------

_HELP = """commands:
  paper ok|low|out        set the paper sensor
  cover open|closed
  offline on|off
  error cutter|unrecoverable|auto|none
  silent on|off           stop / resume answering status queries (still prints)
  show                    the last sheet cut off, as text
  png PATH                the last sheet as a PNG
  quit"""


def run_console(printer: SimulatedPrinter, lines: Iterable[str], out=sys.stdout) -> None:
    for line in lines:
        words = line.split()
        if not words:
            continue
        if words[0] == "quit":
            break
        try:
            reply = _console_command(printer, words)
        except (ValueError, IndexError, AssertionError) as exc:
            reply = f"error {exc}"
        print(reply, file=out, flush=True)


def _console_command(printer: SimulatedPrinter, words: list[str]) -> str:
    verb, arg = words[0], words[1] if len(words) > 1 else ""
    if verb == "help":
        return _HELP
    if verb == "paper":
        printer.set_state(paper=arg)
    elif verb == "cover":
        printer.set_state(cover_open={"open": True, "closed": False}[arg])
    elif verb == "offline":
        printer.set_state(offline={"on": True, "off": False}[arg])
    elif verb == "error":
        printer.set_state(error=None if arg == "none" else arg)
    elif verb == "silent":
        with printer._lock:
            printer.silent = {"on": True, "off": False}[arg]
    elif verb == "show":
        return printer.last_sheet().text()
    elif verb == "png":
        render_png(printer.last_sheet(), arg)
    else:
        raise ValueError(f"unknown command {verb!r} (try help)")
    return "ok"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--link", help="stable symlink to the pty (like /dev/serial/by-id/...)")
    parser.add_argument("--paper", choices=sorted(COLUMNS), default="80mm")
    parser.add_argument("--png-dir", help="save every sheet cut off here as a PNG")
    args = parser.parse_args(argv)
    with SimulatedPrinter(paper_width=args.paper, link_path=args.link, png_dir=args.png_dir) as printer:
        print(printer.path, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            run_console(printer, sys.stdin)
    return 0


if __name__ == "__main__":
    sys.exit(main())
