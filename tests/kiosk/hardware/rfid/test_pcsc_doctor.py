"""``kiosk doctor --direct`` with a card on a PC/SC pad, through the real pyscard → pcscd → vpcd path.

A patron's ISO 14443 card lying on the pad is no failed tag read: the doctor says what it is (a patron
card when ``[rfid] patron_card_uid`` makes one of it) and never shows its UID or its whole number, which
are a patron id. These live beside the other PC/SC tests because they need this folder's ``pcscd``
fixture; the rest of the doctor's tests are in tests/kiosk/ops/test_ops_doctor.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from pcsc_harness import SLOT0, wait_for_card

from hardware_mocks.pcsc_tag import Card, PcscTagSimulator, SimulatedPatronCard, SimulatedTag
from kiosk.hardware.rfid.models import iso28560_3
from kiosk.hardware.rfid.patron_card_uid import UidFormat, uid_text
from kiosk.ops.doctor import Check, Result, Status, as_json, check_reader, diagnose, render

# A hung pcscd blocks inside C, where pytest-timeout's signal method cannot interrupt: use a thread.
pytestmark = pytest.mark.timeout(60, method="thread")

UID_7 = bytes.fromhex("04A1B2C3D4E5F6")
UID_4 = bytes.fromhex("1A286BEE")
PATRON_ID = "21234000000026"


@pytest.fixture
def sim(pcscd) -> Iterator[PcscTagSimulator]:
    sim = PcscTagSimulator()
    yield sim
    if sim.placed:
        sim.remove()
    wait_for_card(SLOT0, present=False)


def no_clock(args: Sequence[str], timeout: float) -> tuple[int, str]:
    return 127, ""


def reader_line(tmp_path: Path, rfid: str) -> Result:
    """The doctor's RFID reader line, probing the pad itself, for a kiosk with this [rfid] section."""
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "kiosk.toml").write_text(
        '[sip2]\nhost = "127.0.0.1"\nport = 6001\n'
        f'[journal]\npath = "{tmp_path / "journal.sqlite"}"\n[metrics]\nlisten = ""\n'
        f'[rfid]\ndriver = "pcsc"\npcsc_reader = "PCD 00 00"\n{rfid}'
    )
    os.chmod(etc / "kiosk.toml", 0o600)
    (result,) = diagnose(str(etc), direct=True, run=no_clock, checks=[Check("RFID reader", check_reader)])
    return result


def place(sim: PcscTagSimulator, card: Card) -> None:
    sim.place(card)
    wait_for_card(SLOT0, present=True, atr=card.atr)


def shown(result: Result) -> str:
    """Everything the doctor would print or hand a fleet script about this line."""
    return render([result], title="doctor") + as_json([result])


def hidden(text: str, *secrets: str) -> bool:
    return not any(secret.upper() in text.upper() for secret in secrets)


@pytest.mark.parametrize(
    ("card", "fmt", "number"),
    [
        (SimulatedPatronCard.desfire(UID_7), UidFormat.HEX, "P" + UID_7.hex().upper()),
        (SimulatedPatronCard.mifare_classic_1k(UID_4), UidFormat.DECIMAL_REVERSED, "P" + "4000000026"),
    ],
    ids=["desfire-hex", "mifare-1k-decimal-reversed"],
)
def test_an_iso14443_patron_card_on_the_pad_is_reported_as_a_patron_card_with_its_number_masked(
    sim: PcscTagSimulator, tmp_path: Path, card: SimulatedPatronCard, fmt: UidFormat, number: str
) -> None:
    assert "P" + uid_text(card.uid, fmt) == number
    place(sim, card)
    result = reader_line(tmp_path, f'patron_card_uid = "{fmt.value}"\npatron_card_prefix = "P"\n')
    assert result.status is Status.OK, result
    assert "ISO 14443 card" in result.summary and "patron card" in result.summary
    assert f"number ****{number[-4:]}" in result.summary  # as receipts and logs mask a patron id
    text = shown(result)
    assert hidden(text, card.uid.hex(), number, number[-8:], uid_text(card.uid, UidFormat.HEX_REVERSED))
    assert "FAIL" not in text


def test_with_patron_card_uid_none_the_card_is_a_warning_that_says_why_and_shows_no_uid(
    sim: PcscTagSimulator, tmp_path: Path
) -> None:
    card = SimulatedPatronCard.mifare_ultralight(UID_7)
    place(sim, card)
    result = reader_line(tmp_path, "")
    assert result.status is Status.WARN, result
    assert "ISO 14443 card (iso14443a)" in result.summary and "not a library tag" in result.summary
    assert "patron_card_uid" in result.hint
    text = shown(result)
    assert hidden(text, card.uid.hex(), uid_text(card.uid, UidFormat.HEX_REVERSED),
                  uid_text(card.uid, UidFormat.DECIMAL), uid_text(card.uid, UidFormat.DECIMAL_REVERSED))


def test_a_card_the_reader_cannot_name_is_a_warning_not_a_failed_read(sim: PcscTagSimulator, tmp_path: Path) -> None:
    card = SimulatedPatronCard(UID_4, atr=bytes.fromhex("3B021450"))  # no part-3 RID, no ISO 14443-4 bytes
    place(sim, card)
    result = reader_line(tmp_path, 'patron_card_uid = "hex"\n')
    assert result.status is Status.WARN, result
    assert "(other)" in result.summary and "neither a library tag nor an ISO 14443 card" in result.summary
    assert hidden(shown(result), UID_4.hex())


def test_an_iso28560_patron_card_label_is_read_and_its_number_masked(sim: PcscTagSimulator, tmp_path: Path) -> None:
    memory = iso28560_3.encode(iso28560_3.Iso28560_3Tag(PATRON_ID, usage_type=8))  # 8: patron card
    place(sim, SimulatedTag.icode_slix(bytes.fromhex("E004010012345678"), memory=bytearray(memory)))
    result = reader_line(tmp_path, "")
    assert result.status is Status.OK, result
    assert f"a patron card read: number ****{PATRON_ID[-4:]}" in result.summary
    assert hidden(shown(result), PATRON_ID, PATRON_ID[-8:])


def test_a_library_label_is_still_read_and_named(sim: PcscTagSimulator, tmp_path: Path) -> None:
    memory = iso28560_3.encode(iso28560_3.Iso28560_3Tag("31234000111"))
    place(sim, SimulatedTag.icode_slix(bytes.fromhex("E004010012345678"), memory=bytearray(memory)))
    result = reader_line(tmp_path, 'patron_card_uid = "hex"\n')
    assert result == Result("RFID reader", Status.OK, "1 tag(s) seen; tag E004010012345678 read: item 31234000111 "
                            "(iso28560-3)")
