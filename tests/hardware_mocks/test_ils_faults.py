"""Fault controls of the simulated ILS, each proven over a real TCP connection."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from ils_support import Wire, logged_in, running_simulator

from hardware_mocks.ils import IlsSimulator, When
from hardware_mocks.ils import scenarios as S
from hardware_mocks.ils.faults import GARBAGE, Faults
from hardware_mocks.ils.library import ItemStatus
from sip2.codec import decode_frame
from sip2.errors import ChecksumError, SIP2DecodeError
from sip2.fields import CirculationStatus
from sip2.messages import (
    ACSStatus,
    Checkout,
    CheckoutResponse,
    ItemInformation,
    ItemInformationResponse,
    SCStatus,
)

AO = S.INSTITUTION
CHECKOUT = Checkout(institution_id=AO, patron_id=S.PATRON_CLEAN.id, item_id=S.ITEM_AVAILABLE)


@pytest.fixture(scope="module")
def server() -> Iterator[IlsSimulator]:
    with running_simulator() as sim:
        yield sim


@pytest.fixture
def sim(server: IlsSimulator) -> IlsSimulator:
    server.reset(dialect="generic")
    return server


def item_status(sim: IlsSimulator) -> CirculationStatus:
    """Ask on a fresh connection, as a kiosk resolving an unknown outcome would."""
    with logged_in(sim) as wire:
        response = wire.request(ItemInformation(institution_id=AO, item_id=S.ITEM_AVAILABLE))
    assert isinstance(response, ItemInformationResponse)
    return CirculationStatus(response.circulation_status)


def test_drop_before_apply_closes_without_applying(sim: IlsSimulator) -> None:
    sim.faults.drop(code="11", when=When.BEFORE_APPLY)
    with logged_in(sim) as wire:
        wire.send(CHECKOUT)
        assert wire.closed_by_server()
    assert sim.library.count() == 0
    assert item_status(sim) is CirculationStatus.AVAILABLE


def test_drop_after_apply_leaves_one_ledger_row_and_no_response(sim: IlsSimulator) -> None:
    """The 'outcome unknown' case: applied at the ILS, answer lost."""
    sim.faults.drop(code="11", when=When.AFTER_APPLY)
    with logged_in(sim) as wire:
        wire.send(CHECKOUT)
        assert wire.closed_by_server()
    [row] = sim.library.ledger()
    assert (row.message, row.outcome, row.applied, row.item) == ("11", "checked_out", True, S.ITEM_AVAILABLE)
    assert item_status(sim) is CirculationStatus.CHARGED
    # The fault was one-shot: the next checkout is answered (and, resent blindly, would renew).
    with logged_in(sim) as wire:
        again = wire.request(CHECKOUT)
    assert isinstance(again, CheckoutResponse) and again.ok and again.renewal_ok
    assert [r.outcome for r in sim.library.ledger()] == ["checked_out", "renewed"]


def test_drop_after_n_messages(sim: IlsSimulator) -> None:
    sim.faults.drop(after=2)  # any message: the login and one more are answered, the third is not
    with Wire(sim.address) as wire:
        assert wire.login().ok
        assert isinstance(wire.request(SCStatus()), ACSStatus)
        wire.send(SCStatus())
        assert wire.closed_by_server()
    assert [(f.action, f.code) for f in sim.faults.fired] == [("drop", "99")]


def test_drop_always_on_one_message_type(sim: IlsSimulator) -> None:
    sim.faults.drop(code="17", times=None)
    for _ in range(2):
        with logged_in(sim) as wire:
            assert isinstance(wire.request(SCStatus()), ACSStatus)
            wire.send(ItemInformation(institution_id=AO, item_id=S.ITEM_AVAILABLE))
            assert wire.closed_by_server()


@pytest.mark.parametrize(("when", "applied"), [(When.BEFORE_APPLY, 0), (When.AFTER_APPLY, 1)])
def test_stall_never_answers_until_reset(sim: IlsSimulator, when: When, applied: int) -> None:
    sim.faults.stall(code="11", when=when)
    with logged_in(sim, timeout=0.3) as wire:
        wire.send(CHECKOUT)
        with pytest.raises(socket.timeout):
            wire.read_frame()
        assert sim.library.applied("11") == applied
        sim.faults.reset()  # wakes the stalled connection, which then closes without answering
        wire.sock.settimeout(5)
        assert wire.closed_by_server()


def test_latency_delays_the_answer(sim: IlsSimulator) -> None:
    sim.faults.latency(0.6, code="11")
    with logged_in(sim, timeout=0.2) as wire:
        assert isinstance(wire.request(SCStatus()), ACSStatus)  # other message types are not delayed
        wire.send(CHECKOUT)
        with pytest.raises(socket.timeout):
            wire.read_frame()  # not within 0.2 s
        # Applied before the delay (the default): an impatient client finds it already done.
        assert sim.library.applied("11") == 1
        wire.sock.settimeout(5)
        response = decode_frame(wire.read_frame()).message
    assert isinstance(response, CheckoutResponse) and response.ok


def test_latency_before_apply_holds_the_change_back(sim: IlsSimulator) -> None:
    sim.faults.latency(0.6, code="11", when=When.BEFORE_APPLY)
    with logged_in(sim, timeout=0.2) as wire:
        wire.send(CHECKOUT)
        with pytest.raises(socket.timeout):
            wire.read_frame()
        assert sim.library.applied("11") == 0
        wire.sock.settimeout(5)
        assert isinstance(decode_frame(wire.read_frame()).message, CheckoutResponse)
    assert sim.library.applied("11") == 1


def test_garbage_once_instead_of_the_answer(sim: IlsSimulator) -> None:
    sim.faults.garbage(code="11")
    with logged_in(sim) as wire:
        wire.send(CHECKOUT)
        raw = wire.read_frame()
        assert raw == GARBAGE
        with pytest.raises(SIP2DecodeError):
            decode_frame(raw)
        assert sim.library.applied("11") == 1  # the garbage replaced the answer, not the work
        assert isinstance(wire.request(SCStatus()), ACSStatus)  # the connection is still usable


@pytest.mark.parametrize(("times", "corrupted"), [(1, 1), (None, 3)])
def test_bad_checksum_once_or_always(sim: IlsSimulator, times: int | None, corrupted: int) -> None:
    sim.faults.bad_checksum(code="99", times=times)
    bad = 0
    with logged_in(sim) as wire:
        for _ in range(3):
            wire.send(SCStatus())
            raw = wire.read_frame()
            assert raw.startswith(b"98")
            try:
                decode_frame(raw)
            except ChecksumError:
                bad += 1
    assert bad == corrupted


def test_reject_logins(sim: IlsSimulator) -> None:
    sim.faults.reject_logins = True
    with Wire(sim.address) as wire:
        assert not wire.login().ok
        sim.faults.reset()
        assert wire.login().ok


def test_idle_sessions_are_closed_silently(sim: IlsSimulator) -> None:
    sim.faults.idle_timeout = 0.2
    with logged_in(sim) as wire:
        status = wire.request(SCStatus())
        assert isinstance(status, ACSStatus) and status.timeout_period == 2
        time.sleep(0.5)
        with contextlib.suppress(OSError):
            wire.send(SCStatus())  # like SIPServer: the send may succeed, the read sees EOF
        assert wire.closed_by_server()


def test_reset_clears_every_fault(sim: IlsSimulator) -> None:
    faults = sim.faults
    faults.drop(code="99", times=None)
    faults.garbage(code="99", times=None)
    faults.latency(5.0)
    faults.reject_logins = True
    faults.idle_timeout = 0.2
    faults.reset()
    assert faults.fired == [] and not faults.reject_logins and faults.idle_timeout is None
    with logged_in(sim, timeout=2) as wire:
        assert isinstance(wire.request(SCStatus()), ACSStatus)


def test_restart_comes_back_on_the_same_port(sim: IlsSimulator) -> None:
    address = sim.address
    with logged_in(sim) as wire:
        sim.restart()
        assert wire.closed_by_server()  # the ILS went away...
    assert sim.address == address
    with logged_in(sim) as wire:  # ...and came back where it was
        assert isinstance(wire.request(SCStatus()), ACSStatus)


def test_fault_rules_are_safe_to_change_from_many_threads() -> None:
    faults = Faults()
    faults.drop(code="11", times=50)
    plans = []

    def consume() -> None:
        for _ in range(20):
            plans.append(faults.plan("11"))

    threads = [threading.Thread(target=consume) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(p.drop is When.BEFORE_APPLY for p in plans) == 50
    assert len(faults.fired) == 50


def test_fault_settings_are_validated() -> None:
    faults = Faults()
    with pytest.raises(ValueError):
        faults.latency(-1)
    with pytest.raises(ValueError):
        faults.drop(times=0)
    with pytest.raises(ValueError):
        faults.idle_timeout = 0


def test_item_is_unchanged_by_a_dropped_request(sim: IlsSimulator) -> None:
    sim.faults.drop(code="11")
    with logged_in(sim) as wire:
        wire.send(CHECKOUT)
        assert wire.closed_by_server()
    assert sim.library.item(S.ITEM_AVAILABLE).status is ItemStatus.AVAILABLE


def test_a_corrupted_answer_is_recovered_by_the_client_with_97(sim: IlsSimulator) -> None:
    """The damage is on the wire, not in the ILS: a 97 gets the good frame, and the checkout is
    applied exactly once."""
    from sip2.client import ClientConfig, SIP2Client

    sim.faults.bad_checksum(code="11", times=1)
    host, port = sim.address
    config = ClientConfig(host=host, port=port, username="demo", institution_id=AO, heartbeat_interval=3600)
    with SIP2Client(config) as client:
        response = client.checkout(S.PATRON_CLEAN.id, S.ITEM_AVAILABLE, pin=S.PATRON_CLEAN.pin)
    assert response.ok and response.item_id == S.ITEM_AVAILABLE
    assert sim.library.applied("11", item=S.ITEM_AVAILABLE) == 1
