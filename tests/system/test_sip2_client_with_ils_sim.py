"""The production SIP2 client against the simulated ILS over real TCP, with the ILS's ledger as
the judge: what the client was told must match what the ILS applied, exactly once."""

from __future__ import annotations

import dataclasses
import time

import pytest

from hardware_mocks.ils import IlsSimulator, When
from hardware_mocks.ils import scenarios as S
from sip2.client import ClientConfig, SIP2Client, SIP2Pool
from sip2.errors import ChecksumError, LoginFailed, OutcomeUnknown, SIP2DecodeError
from sip2.fields import AlertType, CirculationStatus, Summary


def config(sim: IlsSimulator, **overrides) -> ClientConfig:
    host, port = sim.address
    base = ClientConfig(host=host, port=port, username=S.LOGIN_USER, password=S.LOGIN_PASSWORD,
                        institution_id=S.INSTITUTION, timeout=2.0, heartbeat_interval=3600)
    return dataclasses.replace(base, **overrides)


def test_a_whole_patron_session(sim: IlsSimulator) -> None:
    patron = S.PATRON_VALID
    with SIP2Client(config(sim)) as client:
        info = client.patron_information(patron.id, pin=patron.pin, summary=Summary.CHARGED_ITEMS)
        assert info.personal_name == patron.name and info.valid_patron_password is True
        assert len(info.charged_items) == info.charged_items_count == 5
        assert not info.patron_status.blocks_checkout

        out = client.checkout(patron.id, S.ITEM_AVAILABLE, pin=patron.pin)
        assert out.ok and out.title == "The Hobbit" and out.due_date.strip()
        refused = client.checkout(patron.id, S.ITEM_ON_HOLD_FOR_OTHER, pin=patron.pin)
        assert not refused.ok and refused.screen_messages  # the ILS's own reason
        not_for_loan = client.checkout(patron.id, S.ITEM_NOT_FOR_LOAN, pin=patron.pin)
        assert not not_for_loan.ok

        renewed = client.renew(patron.id, S.ITEM_RENEWABLE, pin=patron.pin)
        assert renewed.ok and renewed.renewal_ok

        back = client.checkin(S.ITEM_HOLD_HERE)
        assert back.ok and back.alert_type == AlertType.HOLD_HERE and back.sort_bin
        transit = client.checkin(S.ITEM_TRANSIT)
        assert transit.alert_type == AlertType.TRANSIT and transit.destination_location == S.EAST

        assert client.item_information(S.ITEM_AVAILABLE).circulation_status == CirculationStatus.CHARGED
        assert client.end_patron_session(patron.id, pin=patron.pin).end_session
    assert sim.library.applied("11", item=S.ITEM_AVAILABLE) == 1
    assert sim.library.applied("11", item=S.ITEM_ON_HOLD_FOR_OTHER) == 0
    assert sim.library.applied("29", item=S.ITEM_RENEWABLE) == 1
    assert sim.library.applied("09", item=S.ITEM_HOLD_HERE) == 1


def test_patron_refusals_read_the_status_flags_the_right_way_round(sim: IlsSimulator) -> None:
    with SIP2Client(config(sim)) as client:
        blocked = client.patron_information(S.PATRON_BLOCKED.id, pin=S.PATRON_BLOCKED.pin)
        assert blocked.patron_status.blocks_checkout
        no_holds = client.patron_information(S.PATRON_NO_HOLDS.id, pin=S.PATRON_NO_HOLDS.pin)
        assert no_holds.patron_status.hold_privileges_denied and not no_holds.patron_status.blocks_checkout
        wrong = client.patron_information(S.PATRON_WRONG_PIN.id, pin="0000")
        assert wrong.valid_patron is True and wrong.valid_patron_password is False
        unknown = client.patron_information(S.UNKNOWN_PATRON, pin="1")
        assert unknown.valid_patron is False


def test_login_refused(sim: IlsSimulator) -> None:
    with pytest.raises(LoginFailed):
        SIP2Client(config(sim, password="wrong")).connect()


def test_reconnect_after_the_ils_dropped_an_idle_session(sim: IlsSimulator) -> None:
    sim.faults.idle_timeout = 0.3
    with SIP2Client(config(sim)) as client:
        time.sleep(0.8)  # the ILS closes the session silently, like SIPServer
        out = client.checkout(S.PATRON_CLEAN.id, S.ITEM_AVAILABLE, pin=S.PATRON_CLEAN.pin)
        assert out.ok and client.reconnects == 1
    assert sim.library.applied("11", item=S.ITEM_AVAILABLE) == 1


def test_outcome_unknown_when_the_answer_to_a_checkout_is_lost(sim: IlsSimulator) -> None:
    sim.faults.drop(code="11", when=When.AFTER_APPLY)
    with SIP2Client(config(sim)) as client:
        with pytest.raises(OutcomeUnknown) as lost:
            client.checkout(S.PATRON_CLEAN.id, S.ITEM_AVAILABLE, pin=S.PATRON_CLEAN.pin)
        assert lost.value.request.item_id == S.ITEM_AVAILABLE
        # What the caller must do instead of resending: ask the ILS (item information, safe).
        status = client.item_information(S.ITEM_AVAILABLE).circulation_status
        assert status == CirculationStatus.CHARGED
    assert sim.library.applied("11", item=S.ITEM_AVAILABLE) == 1  # applied once, never resent


def test_outcome_unknown_when_the_checkout_never_reached_the_ils(sim: IlsSimulator) -> None:
    sim.faults.drop(code="11", when=When.BEFORE_APPLY)
    with SIP2Client(config(sim)) as client:
        with pytest.raises(OutcomeUnknown):
            client.checkout(S.PATRON_CLEAN.id, S.ITEM_AVAILABLE, pin=S.PATRON_CLEAN.pin)
        assert client.item_information(S.ITEM_AVAILABLE).circulation_status == CirculationStatus.AVAILABLE
    assert sim.library.applied("11", item=S.ITEM_AVAILABLE) == 0


def test_97_recovers_a_corrupted_answer_without_repeating_the_checkout(sim: IlsSimulator) -> None:
    sim.faults.bad_checksum(code="11", times=1)
    with SIP2Client(config(sim)) as client:
        out = client.checkout(S.PATRON_CLEAN.id, S.ITEM_AVAILABLE, pin=S.PATRON_CLEAN.pin)
    assert out.ok
    assert sim.library.applied("11", item=S.ITEM_AVAILABLE) == 1


def test_a_corrupted_answer_every_time_is_outcome_unknown(sim: IlsSimulator) -> None:
    sim.faults.garbage(code="11", times=None)
    with SIP2Client(config(sim)) as client, pytest.raises(OutcomeUnknown) as lost:
        client.checkout(S.PATRON_CLEAN.id, S.ITEM_AVAILABLE, pin=S.PATRON_CLEAN.pin)
    assert isinstance(lost.value.cause, SIP2DecodeError | ChecksumError)
    assert sim.library.applied("11", item=S.ITEM_AVAILABLE) == 1


def test_a_slow_ils_within_the_timeout_is_just_slow(sim: IlsSimulator) -> None:
    sim.faults.latency(0.3, code="11")
    with SIP2Client(config(sim, timeout=2.0)) as client:
        assert client.checkout(S.PATRON_CLEAN.id, S.ITEM_AVAILABLE, pin=S.PATRON_CLEAN.pin).ok


def test_a_pool_checks_out_a_stack_in_parallel(sim: IlsSimulator) -> None:
    import threading

    items = S.AVAILABLE_BOOKS[:8]
    results: dict[str, bool] = {}
    with SIP2Pool(config(sim), size=4) as pool:
        def checkout(item: str) -> None:
            with pool.client(timeout=5) as client:
                results[item] = client.checkout(S.PATRON_CLEAN.id, item, pin=S.PATRON_CLEAN.pin).ok

        threads = [threading.Thread(target=checkout, args=(item,)) for item in items]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert results == {item: True for item in items}
    assert all(sim.library.applied("11", item=item) == 1 for item in items)
