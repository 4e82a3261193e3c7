"""AFI/EAS security writes with read-back, over the FEIG driver and the simulated reader."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hardware_mocks.feig_pty import FeigPtySimulator, SimTag, make_uid
from kiosk.hardware.rfid.readers.base import ReaderUnavailable, TagOperationFailed
from kiosk.hardware.rfid.readers.feig import FeigReader
from kiosk.hardware.rfid.security import (
    SecurityReading,
    SecurityScheme,
    SecurityState,
    SecurityWriteIncomplete,
    read_security,
    set_security,
)

ISO = SecurityScheme(use_afi=True, use_eas=True)


@pytest.fixture
def sim() -> Iterator[FeigPtySimulator]:
    with FeigPtySimulator() as simulator:
        yield simulator


@pytest.fixture
def reader(sim) -> Iterator[FeigReader]:
    feig = FeigReader(sim.path, reply_timeout=0.3, retries=1)
    feig.open()
    yield feig
    feig.close()


@pytest.fixture
def book(sim) -> SimTag:
    tag = SimTag.create(make_uid(1), afi=0x07, eas=True)
    sim.place(tag)
    return tag


def test_checkout_and_return_with_afi_and_eas(reader, book):
    assert set_security(reader, book.uid, SecurityState.ON_LOAN, ISO) == SecurityReading(0xC2, False)
    assert (book.afi, book.eas) == (0xC2, False)
    assert set_security(reader, book.uid, SecurityState.IN_LIBRARY, ISO) == SecurityReading(0x07, True)
    assert (book.afi, book.eas) == (0x07, True)
    assert ISO.state_of(read_security(reader, book.uid, ISO)) is SecurityState.IN_LIBRARY


def test_3m_scheme_uses_its_afi_values_and_leaves_eas_alone(reader, book):
    scheme = SecurityScheme.three_m()
    assert set_security(reader, book.uid, SecurityState.ON_LOAN, scheme) == SecurityReading(0xDA, None)
    assert (book.afi, book.eas) == (0xDA, True)
    set_security(reader, book.uid, SecurityState.IN_LIBRARY, scheme)
    assert book.afi == 0xD7


def test_eas_only_site_leaves_afi_alone(reader, book):
    scheme = SecurityScheme(use_afi=False, use_eas=True)
    assert set_security(reader, book.uid, SecurityState.ON_LOAN, scheme) == SecurityReading(None, False)
    assert (book.afi, book.eas) == (0x07, False)


def test_tag_leaving_after_the_afi_write_but_before_eas(sim, reader, book):
    sim.leave_after(book.uid, 1)  # hears the AFI write, then the patron lifts the book
    with pytest.raises(SecurityWriteIncomplete) as caught:
        set_security(reader, book.uid, SecurityState.ON_LOAN, ISO)
    error = caught.value
    assert error.uid == book.uid
    assert error.left_field
    assert error.wanted == SecurityReading(0xC2, False)
    assert error.observed == SecurityReading(afi=0xC2, eas=None)  # AFI acknowledged, EAS unknown
    assert (book.afi, book.eas) == (0xC2, True)  # half-way: the gate would still alarm on EAS
    assert "E004010000000001" in str(error)

    sim.place(book)  # "please put the item back on the pad"
    assert set_security(reader, book.uid, SecurityState.ON_LOAN, ISO) == SecurityReading(0xC2, False)
    assert (book.afi, book.eas) == (0xC2, False)


def test_tag_gone_before_anything_was_written(sim, reader, book):
    sim.remove(book.uid)
    with pytest.raises(SecurityWriteIncomplete) as caught:
        set_security(reader, book.uid, SecurityState.ON_LOAN, ISO, attempts=2)
    assert caught.value.observed == SecurityReading()


class ForgetfulReader:
    """Wraps a reader; the first ``forget`` AFI writes are acknowledged but not stored (a weak tag)."""

    def __init__(self, reader, forget: int) -> None:
        self._reader = reader
        self.forget = forget
        self.name = reader.name

    def write_afi(self, uid, afi):
        if self.forget:
            self.forget -= 1
            return
        self._reader.write_afi(uid, afi)

    def __getattr__(self, name):
        return getattr(self._reader, name)


def test_a_write_that_did_not_stick_is_retried(reader, book):
    flaky = ForgetfulReader(reader, forget=1)
    assert set_security(flaky, book.uid, SecurityState.ON_LOAN, ISO) == SecurityReading(0xC2, False)
    assert book.afi == 0xC2


def test_retries_are_bounded(reader, book):
    flaky = ForgetfulReader(reader, forget=5)
    with pytest.raises(SecurityWriteIncomplete) as caught:
        set_security(flaky, book.uid, SecurityState.ON_LOAN, ISO, attempts=3)
    assert not caught.value.left_field
    assert caught.value.observed == SecurityReading(0x07, False)  # read back: AFI never changed
    assert flaky.forget == 2


def test_locked_afi_is_not_a_put_it_back_case(sim, reader):
    locked = SimTag.create(make_uid(2), afi=0x07, afi_locked=True)
    sim.place(locked)
    with pytest.raises(TagOperationFailed):
        set_security(reader, locked.uid, SecurityState.ON_LOAN, ISO)


def test_lost_reader_propagates(sim, reader, book):
    sim.unplug()
    with pytest.raises(ReaderUnavailable):
        set_security(reader, book.uid, SecurityState.ON_LOAN, ISO)


def test_scheme_validation_and_state_mapping():
    with pytest.raises(ValueError):
        SecurityScheme(use_afi=False, use_eas=False)
    with pytest.raises(ValueError):
        SecurityScheme(afi_on_loan=0x100)
    assert ISO.state_of(SecurityReading(0xC2, False)) is SecurityState.ON_LOAN
    assert ISO.state_of(SecurityReading(0xC2, True)) is None  # half-way
    assert str(SecurityReading(0xC2, None)) == "AFI 0xC2, EAS ?"
