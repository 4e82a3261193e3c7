"""Receipt and slip templates, fed with what the core really produces (receipt_lines, slip_lines)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.circulation.commands import ReceiptLine
from kiosk.circulation.model import Alert, ReturnAnswer
from kiosk.circulation.returns import slip_lines
from kiosk.circulation.rows import Message, Row, RowKind, RowState
from kiosk.circulation.session_text import receipt_lines
from kiosk.hardware.printer.codepage import clean
from kiosk.hardware.printer.layout import Logo, Masthead, TextLine, layout, to_text, totals, wrap

AT = datetime(2025, 3, 1, 14, 5, tzinfo=UTC)
MASTHEAD = Masthead("Stadtbücherei", footer="Danke für Ihren Besuch!\nOpen Mon-Sat 10-19", logo=True)


def row(
    item_id: str,
    title: str,
    *,
    kind: RowKind = RowKind.BORROW,
    state: RowState = RowState.DONE,
    due: str = "2025-03-15",
    renewed: bool = False,
    confirmed: bool = True,
) -> Row:
    return Row(
        item_id, kind, state, Message("item.done"), confirmed=confirmed, renewed=renewed, title=title, due=due
    )


SESSION = receipt_lines(
    "23000000123456",
    [
        row("3001", "Müller, Ærø: Łódź — a chronicle of three cities and a river"),
        row("3002", "Der Zauberberg"),
        row("3003", "Tintenherz", kind=RowKind.RETURN),
        row("3004", "Momo", state=RowState.UNTAGGED),
        row("3005", "Krabat", renewed=True),
        row("3006", "Lost in transit", state=RowState.NEEDS_STAFF, confirmed=False),
    ],
    [("Die unendliche Geschichte", "2025-04-01")],
)


def test_the_core_receipt_has_the_shape_totals_rely_on() -> None:
    assert SESSION[0] == ReceiptLine("Library receipt", bold=True)
    assert totals(SESSION) == (
        ("Borrowed", 3),
        ("Renewed", 2),
        ("Returned", 1),
        ("Please ask staff about", 1),
    )


EXPECTED_58 = """\
[logo]
   S t a d t b ü c h e r e i
        2025-03-01 14:05
--------------------------------
Library receipt
Card: ****3456
Borrowed
Müller, Ærø: Łódź — a chronicle
of three cities and a river
  due 2025-03-15
Der Zauberberg
  due 2025-03-15
Momo
  due 2025-03-15; no tag found:
  show this receipt if the gate
  alarms
Renewed
Krabat
  renewed until 2025-03-15
Die unendliche Geschichte
  renewed until 2025-04-01
Returned
Tintenherz
  returned
Please ask staff about
Lost in transit
  not confirmed by the library
  system
--------------------------------
Borrowed                       3
Renewed                        2
Returned                       1
Please ask staff about         1
--------------------------------
    Danke für Ihren Besuch!
       Open Mon-Sat 10-19
"""


def spaced(printout_text: str, printout) -> str:
    """to_text() with double-size lines shown letter-spaced, as they take two columns each."""
    lines = printout_text.splitlines()
    out = []
    index = 0
    for block in printout.blocks:
        if isinstance(block, Logo):
            out.append("[logo]")
            index += 1
            continue
        text = lines[index]
        if block.double:
            pad = (printout.columns - 2 * len(block.text)) // 2
            text = " " * pad + " ".join(block.text)
        out.append(text)
        index += 1
    return "\n".join(out) + "\n"


def test_receipt_on_58mm_paper() -> None:
    printout = layout("receipt", SESSION, columns=32, printed_at=AT, masthead=MASTHEAD)
    assert spaced(to_text(printout, logo="[logo]"), printout) == EXPECTED_58
    assert isinstance(printout.blocks[0], Logo)
    title = printout.blocks[1]
    assert title == TextLine("Stadtbücherei", bold=True, align="center", double=True)


def test_receipt_on_80mm_paper_fits_more_per_line() -> None:
    printout = layout("receipt", SESSION, columns=48, printed_at=AT, masthead=MASTHEAD)
    text = to_text(printout)
    assert "Müller, Ærø: Łódź — a chronicle of three cities\nand a river\n" in text
    assert "\n  due 2025-03-15; no tag found: show this\n  receipt if the gate alarms\n" in text
    assert "\n  not confirmed by the library system\n" in text
    assert "\nBorrowed                                       3\n" in text
    assert all(len(line) <= 48 for line in text.splitlines())


@pytest.mark.parametrize("columns", [32, 42, 48])
def test_every_line_fits_the_paper(columns: int) -> None:
    printout = layout("receipt", SESSION, columns=columns, printed_at=AT, masthead=MASTHEAD)
    for line in printout.text_lines:
        assert len(line.text) * (2 if line.double else 1) <= columns, line


def test_bold_lines_stay_bold_and_details_keep_their_indent() -> None:
    printout = layout("receipt", SESSION, columns=32, printed_at=AT, masthead=MASTHEAD)
    bold = [line.text for line in printout.text_lines if line.bold and not line.double]
    assert bold == ["Library receipt", "Borrowed", "Renewed", "Returned", "Please ask staff about"]


def test_long_library_name_is_bold_normal_size_and_wrapped() -> None:
    masthead = Masthead("Bibliothèque municipale de Saint-Étienne-du-Rouvray")
    printout = layout("receipt", SESSION[:4], columns=32, printed_at=AT, masthead=masthead)
    head = [line for line in printout.text_lines[:3]]
    assert head[0] == TextLine("Bibliothèque municipale de", bold=True, align="center")
    assert head[1] == TextLine("Saint-Étienne-du-Rouvray", bold=True, align="center")


def test_no_logo_no_footer_no_totals_when_there_is_nothing_to_count() -> None:
    lines = (ReceiptLine("Library receipt", bold=True), ReceiptLine("Card: ****1234"))
    printout = layout("receipt", lines, columns=32, printed_at=AT, masthead=Masthead("Library"))
    assert not any(isinstance(b, Logo) for b in printout.blocks)
    assert to_text(printout).splitlines()[-1] == "Card: ****1234"


def test_hold_slip_from_the_returns_bin() -> None:
    answer = ReturnAnswer(
        "3001",
        True,
        title="Der Zauberberg",
        alert=Alert.HOLD_OTHER_BRANCH,
        destination="Branch Nord",
        hold_patron_name="Jane Doe",
    )
    printout = layout("hold", slip_lines("hold", answer), columns=32, printed_at=AT, masthead=MASTHEAD)
    assert printout.kind == "hold"
    assert printout.blocks[0] == TextLine("HOLD", bold=True, align="center", double=True)
    assert to_text(printout) == (
        "            HOLD\n"
        "--------------------------------\n"
        "Der Zauberberg\n"
        "For: Jane Doe\n"
        "Pick up at: Branch Nord\n"
        "Item: 3001\n"
        "--------------------------------\n"
        "         Stadtbücherei\n"
        "        2025-03-01 14:05\n"
    )
    assert [line.bold for line in printout.text_lines[2:6]] == [False, True, False, False]
    assert not any(isinstance(b, Logo) for b in printout.blocks)


def test_transit_slip() -> None:
    answer = ReturnAnswer("3002", True, title="Momo", alert=Alert.TRANSIT, destination="Hauptbibliothek")
    printout = layout("transit", slip_lines("transit", answer), columns=48, printed_at=AT, masthead=MASTHEAD)
    assert printout.text_lines[0].text == "TRANSIT"
    assert TextLine("To: Hauptbibliothek", bold=True) in printout.text_lines


def test_unknown_kind_and_silly_widths_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown printout kind"):
        layout("invoice", SESSION, columns=32, printed_at=AT, masthead=MASTHEAD)
    with pytest.raises(ValueError, match="too narrow"):
        layout("receipt", SESSION, columns=8, printed_at=AT, masthead=MASTHEAD)


def test_wrap() -> None:
    assert wrap("  due 2025-03-15; no tag found: show this", 20) == [
        "  due 2025-03-15; no",
        "  tag found: show",
        "  this",
    ]
    assert wrap("30000000000000000000000001234", 10) == ["3000000000", "0000000000", "000001234"]
    assert wrap("", 10) == [""]
    assert wrap("          deep indent", 12) == ["deep indent"]


def test_prepare_hook_counts_the_printed_characters() -> None:
    """A stand-in longer than its character must not overflow the paper."""
    lines = (ReceiptLine("Receipt", bold=True), ReceiptLine("…" * 20))
    printout = layout(
        "receipt",
        lines,
        columns=32,
        printed_at=AT,
        masthead=Masthead("L"),
        prepare=lambda text: text.replace("…", "..."),
    )
    assert all(len(line.text) <= 32 for line in printout.text_lines)
    assert printout.text_lines[-2].text == "." * 32


printable = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Cf", "Co", "Cn")), max_size=90)


@given(
    st.lists(st.builds(ReceiptLine, printable, st.booleans()), min_size=1, max_size=12),
    st.sampled_from([16, 32, 48]),
    printable,
)
def test_any_lines_fit_any_width(lines: list[ReceiptLine], columns: int, library: str) -> None:
    printout = layout("receipt", lines, columns=columns, printed_at=AT, masthead=Masthead(library or "L"))
    for line in printout.text_lines:
        assert len(line.text) * (2 if line.double else 1) <= columns
    # nothing the patron should read is dropped or reordered: only whitespace may change
    printed = "".join("".join(line.text.split()) for line in printout.text_lines)
    body = "".join("".join(clean(line.text).split()) for line in lines)
    assert body in printed
