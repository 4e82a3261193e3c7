"""An ISO 14443 patron card on a PC/SC pad, end to end through the real pyscard → pcscd → vpcd path:
the watcher and the shell make it ``Pad.patron_cards``, and a station built from settings alone logs
its patron in at the simulated ILS. Nothing of the card's number reaches a log unmasked."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pcsc_harness import SLOT0, wait_for_card

from hardware_mocks.ils import IlsSimulator
from hardware_mocks.ils import scenarios as S
from hardware_mocks.pcsc_tag import PcscTagSimulator, SimulatedPatronCard, SimulatedTag
from kiosk.assembly import Station, wait_until
from kiosk.circulation.events import Event, PadChanged
from kiosk.circulation.model import Pad
from kiosk.circulation.session import Phase
from kiosk.config import Layer, defaults_layer, parse_layers
from kiosk.hardware.rfid.patron_card_uid import PatronCardIds, UidFormat, uid_text
from kiosk.hardware.rfid.readers.base import TagNotInField
from kiosk.hardware.rfid.readers.pcsc import PcscReader
from kiosk.hardware.rfid.watcher import TagWatcher, WatcherSettings
from kiosk.ops.logging import KeyValueFormatter
from kiosk.shell.inputs import watcher_feed

# A hung pcscd blocks inside C, where pytest-timeout's signal method cannot interrupt: use a thread.
pytestmark = pytest.mark.timeout(60, method="thread")

WAIT = 10.0  # upper bounds; nothing here measures time
LABEL_UID = bytes.fromhex("E004010012345678")
FAST = dict(poll_interval=0.05, depart_polls=2, depart_after=0.1, settle_time=0.1)


@pytest.fixture
def sim(pcscd) -> Iterator[PcscTagSimulator]:
    sim = PcscTagSimulator()
    yield sim
    if sim.placed:
        sim.remove()
    wait_for_card(SLOT0, present=False)


class Pads:
    """The shell's events from the watcher, for waiting on a pad."""

    def __init__(self) -> None:
        self.events: queue.Queue[Event] = queue.Queue()

    def submit(self, event: Event) -> None:
        self.events.put(event)

    def wait(self, predicate: Callable[[Pad], bool]) -> Pad:
        seen = []
        while True:
            try:
                event = self.events.get(timeout=WAIT)
            except queue.Empty:
                raise AssertionError(f"no such pad within {WAIT} s; pads seen: {seen}") from None
            if isinstance(event, PadChanged):
                seen.append(event.pad)
                if predicate(event.pad):
                    return event.pad


@pytest.mark.parametrize(
    ("card", "fmt", "expected"),
    [
        (SimulatedPatronCard.desfire(bytes.fromhex("04A1B2C3D4E5F6")), UidFormat.HEX, "P04A1B2C3D4E5F6"),
        (SimulatedPatronCard.mifare_classic_1k(bytes.fromhex("04A1B2C3")), UidFormat.DECIMAL_REVERSED, "P3283263748"),
    ],
    ids=["desfire-hex", "mifare-1k-decimal-reversed"],
)
def test_a_patron_card_on_the_pcsc_pad_becomes_the_pads_patron_card_and_a_label_stays_a_label(
    sim: PcscTagSimulator, card: SimulatedPatronCard, fmt: UidFormat, expected: str
) -> None:
    pads = Pads()
    settings = WatcherSettings(**FAST, patron_cards=PatronCardIds(fmt, "P"))  # type: ignore[arg-type]
    with TagWatcher(PcscReader("PCD 00 00"), settings=settings, on_event=watcher_feed(pads.submit)):
        pads.wait(lambda p: p == Pad())
        sim.place(card)
        assert pads.wait(lambda p: p != Pad()) == Pad(patron_cards=(expected,))
        sim.remove()
        pads.wait(lambda p: p == Pad())
        # an ISO 15693 label that holds nothing a model explains is unreadable, whatever the format
        sim.place(SimulatedTag.icode_slix(LABEL_UID))
        assert pads.wait(lambda p: p != Pad()) == Pad(unreadable=(LABEL_UID,))


def test_with_none_the_card_stays_unreadable_as_before(sim: PcscTagSimulator) -> None:
    pads = Pads()
    card = SimulatedPatronCard.mifare_classic_1k(bytes.fromhex("04A1B2C3"))
    settings = WatcherSettings(**FAST)  # type: ignore[arg-type]
    with TagWatcher(PcscReader("PCD 00 00"), settings=settings, on_event=watcher_feed(pads.submit)) as watcher:
        sim.place(card)
        assert pads.wait(lambda p: p != Pad()) == Pad(unreadable=(card.uid,))
    # named at once, not read: the card got GET DATA only (no read binary, no transparent session)
    assert {command[:2] for command, _ in sim.log} == {b"\xff\xca"}
    assert watcher.tracker.stack().unreadable[0].error.startswith("iso14443a card, not a library tag")


def test_the_readers_errors_about_a_card_never_show_its_uid(sim: PcscTagSimulator) -> None:
    card = SimulatedPatronCard.mifare_ultralight(bytes.fromhex("04A1B2C3D4E5F6"))
    sim.place(card)
    wait_for_card(SLOT0, present=True, atr=card.atr)
    reader = PcscReader("PCD 00 00")
    with reader:
        with pytest.raises(TagNotInField) as asked_for_the_card:
            reader.read_memory(card.uid)  # what `kiosk doctor` does with the first tag it sees
        with pytest.raises(TagNotInField) as asked_for_a_label:
            reader.write_afi(LABEL_UID, 0x07)  # a security write for an item lifted off for the card
    for caught in (asked_for_the_card, asked_for_a_label):
        message = str(caught.value)
        assert "iso14443a" in message and "04A1B2C3D4E5F6" not in message.upper()
    assert LABEL_UID.hex().upper() in str(asked_for_a_label.value)


# -- a whole station, built from its settings ------------------------------------------------------


@pytest.fixture
def ils() -> Iterator[IlsSimulator]:
    with IlsSimulator() as server:
        yield server


@pytest.fixture(autouse=True)
def no_thread_leaks() -> Iterator[None]:
    before = threading.active_count()
    yield
    wait_until(lambda: threading.active_count() <= before, 5)
    assert threading.active_count() == before, [t.name for t in threading.enumerate()]


def test_a_mifare_card_on_the_pcsc_pad_logs_its_patron_in_at_a_station(
    sim: PcscTagSimulator, ils: IlsSimulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    patron = S.PATRON_CLEAN  # card number 21234000000026: the card system's prefix 2123 + 10 digits
    uid = bytes.fromhex("1A286BEE")  # as GET DATA gives it; read backwards, 0xEE6B281A = 4000000026
    assert "2123" + uid_text(uid, UidFormat.DECIMAL_REVERSED) == patron.id
    host, port = ils.address
    toml = f"""
[sip2]
host = "{host}"
port = {port}
tls = false
allow_plain_tcp = true
username = "{S.LOGIN_USER}"
password = "{S.LOGIN_PASSWORD}"
timeout_seconds = 3.0
[journal]
path = "{tmp_path / 'journal.sqlite'}"
[circulation]
pin_required = false
[rfid]
driver = "pcsc"
pcsc_reader = "PCD 00 00"
patron_card_uid = "decimal_reversed"
patron_card_prefix = "2123"
poll_seconds = 0.05
settle_seconds = 0.1
"""
    settings = parse_layers([defaults_layer(), Layer(str(tmp_path / "kiosk.toml"), toml.encode(),
                                                     world_readable=False)]).settings
    with caplog.at_level(logging.DEBUG), Station.from_settings(settings) as station:
        station.wait_for(lambda s: s.session.phase is Phase.IDLE and ("reader", "ok") in
                         {(r.component, r.state) for r in s.staff.devices}, WAIT)
        sim.place(SimulatedPatronCard.mifare_classic_1k(uid))
        active = station.wait_for(lambda s: s.session.phase is Phase.ACTIVE, WAIT)
        # the name is the ILS's answer to "who is this card": the number reached it whole
        assert active.session.patron_id == patron.id and active.session.account.name == patron.name
    lines = "\n".join(KeyValueFormatter(journald=False).format(r) for r in caplog.records)
    for secret in (patron.id, uid_text(uid, UidFormat.DECIMAL_REVERSED), uid.hex().upper(), uid.hex()):
        assert secret not in lines
