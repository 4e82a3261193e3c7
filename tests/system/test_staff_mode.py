"""Staff mode on the whole kiosk: the staff machine and the runner with the real FEIG driver and tag
watcher against the simulated reader on a pty, judged by what the simulated tags hold afterwards.

Staff act as they would at the kiosk (PIN, menu, a barcode scan, blank tags put on the pad one by one);
the tags' memory is decoded with the kiosk's own decoder and their security read from the simulator.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from hardware_mocks.feig_pty import FeigPtySimulator, SimTag, make_uid
from kiosk.circulation.events import Event, ItemScanned, PinEntered, Pressed
from kiosk.circulation.staff import Screen, StaffMachine, StaffState, Step
from kiosk.hardware.rfid.models import TagData, decode_tag
from kiosk.hardware.rfid.readers.feig import FeigReader
from kiosk.hardware.rfid.readers.shared import SharedReader
from kiosk.hardware.rfid.security import SecurityReading, SecurityScheme, SecurityState
from kiosk.hardware.rfid.watcher import TagWatcher
from kiosk.runner import Runner
from kiosk.shell.inputs import watcher_feed
from kiosk.shell.kiosk_mode import MemoryKioskMode
from kiosk.shell.tag_programming import TagProgrammer
from kiosk.shell.tag_security import TagSecurity

WAIT = 10.0  # upper bounds for things to happen; nothing here measures time
PIN = "2468"
OWNER = "DK-718500"
SCHEME = SecurityScheme()
ITEM = "31234000000999"


@pytest.fixture(autouse=True)
def no_thread_leaks() -> Iterator[None]:
    before = threading.active_count()
    yield
    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert threading.active_count() == before, [t.name for t in threading.enumerate()]


@dataclass
class StaffKiosk:
    runner: Runner[StaffState]
    sim: FeigPtySimulator
    mode: MemoryKioskMode

    def submit(self, *events: Event) -> None:
        for event in events:
            assert self.runner.submit(event)

    def wait_for(self, predicate, timeout: float = WAIT) -> StaffState:
        return self.runner.wait_for(predicate, timeout)


@pytest.fixture
def kiosk() -> Iterator[StaffKiosk]:
    with FeigPtySimulator() as sim:
        reader = SharedReader(FeigReader(sim.path))
        programmer = TagProgrammer(reader, SCHEME, owner_library=OWNER)
        mode = MemoryKioskMode()
        runner = Runner(StaffMachine(lambda pin: pin == PIN), tags=TagSecurity(reader, SCHEME),
                        programmer=programmer, kiosk_mode=mode).start()
        watcher = TagWatcher(reader, on_event=watcher_feed(runner.submit))
        programmer.forget = watcher.forget
        watcher.start()
        try:
            yield StaffKiosk(runner, sim, mode)
        finally:
            watcher.stop()
            runner.close()


def log_in(kiosk: StaffKiosk) -> None:
    kiosk.submit(Pressed("staff"), PinEntered(PIN))
    kiosk.wait_for(lambda s: s.screen is Screen.MENU)


def test_staff_program_a_two_part_set_on_blank_tags_and_the_pad_reads_it_back(kiosk: StaffKiosk) -> None:
    log_in(kiosk)
    kiosk.submit(Pressed("open", "program"), Pressed("parts", "2"), ItemScanned(ITEM))
    kiosk.wait_for(lambda s: s.job.step is Step.PLACE and s.job.item_id == ITEM)
    tags = [SimTag.create(make_uid(0xC0 + n), b"", afi=0x00, eas=False) for n in (1, 2)]  # fresh off the roll

    kiosk.sim.place(tags[0])
    kiosk.wait_for(lambda s: s.job.part == 2 and s.job.step is Step.PLACE)
    kiosk.sim.place(tags[1])
    done = kiosk.wait_for(lambda s: s.programmed == (ITEM,))
    assert done.notice == ("staff.program.done", {"item_id": ITEM, "tags": "2"})
    # the watcher re-read both tags: the pad shows the complete set, not the blanks it had cached
    pad = kiosk.wait_for(lambda s: len(s.pad.items) == 2).pad
    assert pad.item_ids() == (ITEM,) and pad.incomplete_sets == () and pad.unreadable == ()

    for part, tag in enumerate(tags, start=1):
        decoded = decode_tag(bytes(tag.memory))
        assert isinstance(decoded, TagData)
        assert (decoded.item_id, decoded.parts_in_set, decoded.part_number, decoded.owner_library) == (
            ITEM, 2, part, OWNER)
        assert SecurityReading(tag.afi, tag.eas) == SCHEME.wanted(SecurityState.IN_LIBRARY)


def test_a_tag_lifted_while_it_is_written_fails_and_is_written_when_put_down_again(kiosk: StaffKiosk) -> None:
    log_in(kiosk)
    kiosk.submit(Pressed("open", "program"))
    tag = SimTag.create(make_uid(0xD1), b"", afi=0x00, eas=False)
    kiosk.sim.place(tag)
    kiosk.wait_for(lambda s: s.pad.unreadable == (tag.uid,))  # read (a blank) and cached: no more reads
    kiosk.sim.leave_after(tag.uid, 1)  # the write's system info is the last command it hears
    kiosk.submit(ItemScanned(ITEM))
    failed = kiosk.wait_for(lambda s: s.job.step is Step.FAILED)
    assert failed.job.detail == "the tag left the field" and failed.programmed == ()
    kiosk.wait_for(lambda s: s.job.step is Step.PLACE)  # the pad saw it go: place a tag again

    kiosk.sim.place(tag)
    kiosk.wait_for(lambda s: s.programmed == (ITEM,))
    decoded = decode_tag(bytes(tag.memory))
    assert isinstance(decoded, TagData) and decoded.item_id == ITEM
    assert SecurityReading(tag.afi, tag.eas) == SCHEME.wanted(SecurityState.IN_LIBRARY)


def test_device_tests_out_of_service_and_leaving(kiosk: StaffKiosk) -> None:
    kiosk.sim.place(SimTag.create(make_uid(0xE1)))
    log_in(kiosk)
    kiosk.submit(Pressed("open", "reader_test"))
    reader = kiosk.wait_for(lambda s: s.test is not None and s.test.ok is not None).test
    assert reader.ok and "1 tag in the field" in reader.detail
    kiosk.submit(Pressed("back"), Pressed("open", "printer_test"))
    printer = kiosk.wait_for(lambda s: s.test is not None and s.test.component == "printer" and s.test.ok is not None)
    assert printer.test.ok is False and printer.test.detail == "no printer configured"  # honest: there is none

    kiosk.submit(Pressed("back"), Pressed("out_of_service"))
    kiosk.wait_for(lambda s: s.out_of_service)
    assert kiosk.runner.wait_idle(WAIT) and kiosk.runner.out_of_service and kiosk.mode.switches == [True]
    kiosk.submit(Pressed("open", "leave"), Pressed("confirm"))
    kiosk.wait_for(lambda s: s.screen is Screen.CLOSED)
    assert kiosk.runner.wait_idle(WAIT) and kiosk.mode.left == 1
