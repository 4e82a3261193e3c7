"""An answer lost while the kiosk runs, when the ILS cannot be asked about it at once: found by the
simulated day (tests/soak), where a returns bin's checkin answer was lost as the ILS went away.

The online gateway settles a lost answer by asking the ILS (17, 63) straight away; when that fails too,
the journaled gateway used to write the row ``unknown`` for staff, although the ILS had simply not been
reachable for a moment and would have said a few seconds later. The journal defines ``unknown`` as
"the ILS could not say"; a line that was down is not that. Now the row stays ``sending`` and is
settled by asking the ILS as soon as it can be asked (the heartbeat), exactly as a crash's would be.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from hardware_mocks.ils import IlsSimulator, When
from hardware_mocks.ils import scenarios as S
from kiosk.circulation.commands import CheckIn, CheckOut
from kiosk.circulation.events import IlsFailed
from kiosk.circulation.model import FailureKind
from kiosk.config import OfflineSettings
from kiosk.ils.journaled import JournaledGateway
from kiosk.ils.offline import Reachability
from kiosk.sync.journal import Journal, State
from sip2.client import ClientConfig, SIP2Pool


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture(scope="module")
def server() -> Iterator[IlsSimulator]:
    with IlsSimulator() as sim:
        yield sim


@pytest.fixture
def sim(server: IlsSimulator) -> Iterator[IlsSimulator]:
    server.reset()
    yield server
    server.faults.reset()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def gateway(sim: IlsSimulator, tmp_path: Path, clock: Clock) -> Iterator[JournaledGateway]:
    config = ClientConfig(host=sim.host, port=sim.port, username=S.LOGIN_USER, password=S.LOGIN_PASSWORD,
                          institution_id=S.INSTITUTION, timeout=2.0, connect_timeout=1.0, heartbeat_interval=3600)
    journal = Journal.open(tmp_path / "journal.sqlite")
    gw = JournaledGateway(SIP2Pool(config, size=1), journal, OfflineSettings(mode="checkin_and_checkout"),
                          now=lambda: datetime(2025, 3, 10, 14, 30), closes_journal=True,
                          reachability=Reachability(probe_min=1.0, probe_max=8.0, clock=clock))
    gw.open()
    yield gw
    gw.close()


def only_row(gateway: JournaledGateway) -> object:
    (row,) = gateway.journal.transactions()
    return row


def test_a_lost_checkin_the_ils_could_not_be_asked_about_is_settled_when_it_can_be(
    sim: IlsSimulator, gateway: JournaledGateway, clock: Clock
) -> None:
    sim.faults.drop(code="09", when=When.AFTER_APPLY)  # applied, the answer lost...
    sim.faults.drop(code="17", times=None)  # ...and the ILS cannot be asked about it for now
    answer = gateway.check_in(CheckIn("ci-1", S.ITEM_HOLD_HERE))
    assert isinstance(answer, IlsFailed) and answer.failure.kind is FailureKind.OUTCOME_UNKNOWN
    assert only_row(gateway).state is State.SENDING  # not "unknown": nobody asked the ILS and heard no

    gateway.heartbeat()  # still cannot be asked: stays in flight, and the kiosk counts the ILS away
    assert only_row(gateway).state is State.SENDING and not gateway.reachability.online

    sim.faults.reset()
    clock.t += 10.0  # a probe is due
    assert gateway.heartbeat()
    row = only_row(gateway)
    assert row.state is State.CONFIRMED and row.resolved_by, row
    assert sim.library.applied("09", item=S.ITEM_HOLD_HERE) == 1  # asked, never sent again


def test_a_lost_checkout_is_settled_as_applied_by_asking_not_by_sending_again(
    sim: IlsSimulator, gateway: JournaledGateway
) -> None:
    patron, book = S.PATRON_CLEAN, S.AVAILABLE_BOOKS[0]
    sim.faults.drop(code="11", when=When.AFTER_APPLY)
    sim.faults.drop(code="17", times=None)
    sim.faults.drop(code="63", times=None)
    answer = gateway.check_out(CheckOut("co-1", patron.id, book, patron.pin))
    assert isinstance(answer, IlsFailed) and answer.failure.kind is FailureKind.OUTCOME_UNKNOWN
    assert only_row(gateway).state is State.SENDING
    sim.faults.reset()
    gateway.heartbeat()  # the ILS answered the kiosk a moment ago: asked at once
    row = only_row(gateway)
    assert row.state is State.CONFIRMED and row.resolved_by, row
    assert sim.library.applied("11", item=book) == 1


def test_a_lost_checkout_that_was_not_applied_is_recorded_as_failed_not_sent_again(
    sim: IlsSimulator, gateway: JournaledGateway
) -> None:
    patron, book = S.PATRON_CLEAN, S.AVAILABLE_BOOKS[1]
    sim.faults.drop(code="11", when=When.BEFORE_APPLY, times=None)  # never applied
    sim.faults.drop(code="17", times=None)
    sim.faults.drop(code="63", times=None)
    answer = gateway.check_out(CheckOut("co-1", patron.id, book, patron.pin))
    assert isinstance(answer, IlsFailed) and answer.failure.kind is FailureKind.OUTCOME_UNKNOWN
    sim.faults.reset()
    gateway.heartbeat()
    row = only_row(gateway)
    assert row.state is State.FAILED and row.resolved_by, row
    assert sim.library.count(message="11", item=book) == 0
