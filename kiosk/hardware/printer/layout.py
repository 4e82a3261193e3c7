"""Receipt and slip templates: the core's lines in, a printable layout out. Pure.

The core words a receipt (``session_text.receipt_lines``) and a slip (``returns.slip_lines``) as
lines of text, in the patron's language, with the card already masked. What a printout adds around
them is the site's: library name and logo, the date, the totals, the footer, all fitted to the
paper's width, so the same lines give the same receipt on 58 mm paper, on 80 mm paper and in an
e-mail (:func:`to_text`).

Every text line of a :class:`Printout` is already fitted to the width (double-size lines to half of
it): a printer that wraps a line on its own breaks words and alignment.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from kiosk.circulation.commands import ReceiptLine
from kiosk.hardware.printer.codepage import clean

Align = Literal["left", "center", "right"]

#: Characters per line in font A (12 dots wide) for the usual paper widths at 203 dpi.
COLUMNS = {"58mm": 32, "80mm": 48}
#: Printable dots per line at 203 dpi (48 mm and 72 mm of print width).
DOTS = {"58mm": 384, "80mm": 576}


@dataclass(frozen=True, slots=True)
class TextLine:
    text: str
    bold: bool = False
    align: Align = "left"
    double: bool = False  # double width and height: half the columns


@dataclass(frozen=True, slots=True)
class Logo:
    """The site's logo goes here; the device holds the image."""


Block = TextLine | Logo


@dataclass(frozen=True, slots=True)
class Printout:
    """One receipt or slip, ready for a device (or for :func:`to_text`). Ends with a cut."""

    kind: str
    columns: int
    blocks: tuple[Block, ...]

    @property
    def text_lines(self) -> tuple[TextLine, ...]:
        return tuple(b for b in self.blocks if isinstance(b, TextLine))


@dataclass(frozen=True, slots=True)
class Masthead:
    """What the site puts on every printout."""

    library: str
    footer: str = ""
    logo: bool = False
    date_format: str = "%Y-%m-%d %H:%M"


Prepare = Callable[[str], str]


def layout(
    kind: str,
    lines: Sequence[ReceiptLine],
    *,
    columns: int,
    printed_at: datetime,
    masthead: Masthead,
    prepare: Prepare = clean,
) -> Printout:
    """The printout for one ``PrintReceipt`` (kind "receipt") or ``PrintSlip`` ("hold", "transit").

    ``prepare`` turns text into what the printer will print (the device passes its code pages'
    stand-ins, so widths are counted on the printed characters).
    """
    if columns < 16:
        raise ValueError(f"{columns} columns is too narrow for a receipt (16 at least)")
    if kind == "receipt":
        return receipt(lines, columns=columns, printed_at=printed_at, masthead=masthead, prepare=prepare)
    if kind in ("hold", "transit"):
        return slip(kind, lines, columns=columns, printed_at=printed_at, masthead=masthead, prepare=prepare)
    raise ValueError(f"unknown printout kind {kind!r} (receipt, hold, transit)")


def receipt(
    lines: Sequence[ReceiptLine],
    *,
    columns: int,
    printed_at: datetime,
    masthead: Masthead,
    prepare: Prepare = clean,
) -> Printout:
    """Logo, library name, date; the lines; totals per section; the footer."""
    blocks: list[Block] = [Logo()] if masthead.logo else []
    blocks += _title(prepare(masthead.library), columns)
    blocks += _wrapped(prepare(printed_at.strftime(masthead.date_format)), columns, align="center")
    blocks.append(_rule(columns))
    for line in lines:
        blocks += _wrapped(prepare(line.text), columns, bold=line.bold)
    counted = totals(lines)
    if counted:
        blocks.append(_rule(columns))
        blocks += (_two_columns(prepare(heading), str(count), columns) for heading, count in counted)
    footer = [prepare(part) for part in masthead.footer.splitlines() if part.strip()]
    if footer:
        blocks.append(_rule(columns))
        for part in footer:
            blocks += _wrapped(part, columns, align="center")
    return Printout("receipt", columns, tuple(blocks))


def slip(
    kind: str,
    lines: Sequence[ReceiptLine],
    *,
    columns: int,
    printed_at: datetime,
    masthead: Masthead,
    prepare: Prepare = clean,
) -> Printout:
    """A hold or transit slip: the first line (HOLD / TRANSIT) large enough to read on the shelf,
    the rest as given, then who printed it and when. No logo, no footer: staff read it, not patrons."""
    blocks: list[Block] = []
    rest = list(lines)
    if rest:
        blocks += _title(prepare(rest.pop(0).text), columns)
        blocks.append(_rule(columns))
    for line in rest:
        blocks += _wrapped(prepare(line.text), columns, bold=line.bold)
    blocks.append(_rule(columns))
    blocks += _wrapped(prepare(masthead.library), columns, align="center")
    blocks += _wrapped(prepare(printed_at.strftime(masthead.date_format)), columns, align="center")
    return Printout(kind, columns, tuple(blocks))


def totals(lines: Sequence[ReceiptLine]) -> tuple[tuple[str, int], ...]:
    """(section heading, items in it) for each section with items.

    The receipt's shape (``session_text.receipt_lines``): a bold title line, then sections, each a
    bold heading followed by one unindented line per item (its title) and indented detail lines.
    """
    counted: list[tuple[str, int]] = []
    for index, line in enumerate(lines):
        if index == 0:
            continue
        if line.bold:
            counted.append((line.text, 0))
        elif counted and line.text.strip() and not line.text[:1].isspace():
            heading, count = counted[-1]
            counted[-1] = (heading, count + 1)
    return tuple((heading, count) for heading, count in counted if count)


def wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` characters; continuation lines keep the first line's
    indent (a due date under its title stays under it), long words (item ids, URLs) are broken."""
    body = text.lstrip(" ")
    indent = " " * (len(text) - len(body)) if len(text) - len(body) < width // 2 else ""
    if not body.strip():
        return [""]
    return textwrap.wrap(
        body,
        width=width,
        initial_indent=indent,
        subsequent_indent=indent,
        break_long_words=True,
        drop_whitespace=True,
    ) or [""]


def _wrapped(text: str, columns: int, *, bold: bool = False, align: Align = "left") -> list[Block]:
    return [TextLine(part, bold=bold, align=align) for part in wrap(text, columns)]


def _title(text: str, columns: int) -> list[Block]:
    """Double size when it fits on one line at half the columns, else bold at normal size."""
    if text and len(text) <= columns // 2:
        return [TextLine(text, bold=True, align="center", double=True)]
    return _wrapped(text, columns, bold=True, align="center")


def _rule(columns: int) -> TextLine:
    return TextLine("-" * columns)


def _two_columns(left: str, right: str, columns: int) -> TextLine:
    room = columns - len(right) - 1
    if len(left) > room:
        left = left[: max(room - 1, 0)] + "."
    return TextLine(f"{left}{' ' * (columns - len(left) - len(right))}{right}")


def to_text(printout: Printout, *, aligned: bool = True, logo: str = "") -> str:
    """The printout as plain text, one line per printed line: the e-mail body (``aligned=False``,
    since mail clients may not use a fixed-width font) and what tests compare with."""
    out: list[str] = []
    for block in printout.blocks:
        if isinstance(block, Logo):
            if logo:
                out.append(logo.center(printout.columns).rstrip() if aligned else logo)
            continue
        out.append(_aligned(block, printout.columns) if aligned else block.text)
    return "\n".join(out) + "\n"


def _aligned(line: TextLine, columns: int) -> str:
    width = len(line.text) * (2 if line.double else 1)
    room = max(columns - width, 0)
    if line.align == "center":
        pad = room // 2
    elif line.align == "right":
        pad = room
    else:
        pad = 0
    return (" " * pad + line.text).rstrip()
