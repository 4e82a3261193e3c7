"""No-block (offline replay) transactions and the dialect switches, over real TCP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from ils_support import Wire, logged_in, running_simulator

from hardware_mocks.ils import IlsSimulator
from hardware_mocks.ils import scenarios as S
from hardware_mocks.ils.library import Behaviour
from sip2.fields import decode_date
from sip2.messages import Checkin, CheckinResponse, Checkout, CheckoutResponse, Renew, RenewResponse

T0 = datetime(2026, 3, 10, 14, 0, 0)
NB_DUE = datetime(2026, 3, 20, 18, 0, 0)  # what the kiosk told the patron while offline
AO = S.INSTITUTION


@pytest.fixture(scope="module")
def server() -> Iterator[IlsSimulator]:
    with running_simulator() as sim:
        yield sim


def use(server: IlsSimulator, dialect: str, **overrides: bool) -> IlsSimulator:
    behaviour = Behaviour.for_dialect(dialect, **overrides)
    server.reset(dialect=dialect, behaviour=behaviour, clock=lambda: T0)
    return server


def checkout(wire: Wire, patron: str, item: str, **kw: object) -> CheckoutResponse:
    response = wire.request(Checkout(institution_id=AO, patron_id=patron, item_id=item, **kw))
    assert isinstance(response, CheckoutResponse)
    return response


def checkin(wire: Wire, item: str, **kw: object) -> CheckinResponse:
    response = wire.request(Checkin(institution_id=AO, item_id=item, current_location=S.MAIN, **kw))
    assert isinstance(response, CheckinResponse)
    return response


def test_no_block_checkout_is_accepted_for_a_blocked_patron(server: IlsSimulator) -> None:
    sim = use(server, "generic")
    with logged_in(sim) as wire:
        assert not checkout(wire, S.PATRON_BLOCKED.id, S.ITEM_AVAILABLE).ok
        replay = checkout(wire, S.PATRON_BLOCKED.id, S.ITEM_AVAILABLE, no_block=True, nb_due_date=NB_DUE)
    assert replay.ok
    rows = sim.library.ledger()
    assert [(r.outcome, r.applied, r.no_block) for r in rows] == [
        ("refused", False, False),
        ("checked_out", True, True),
    ]


@pytest.mark.parametrize(
    ("patron", "item"),
    [
        (S.PATRON_FINES.id, S.ITEM_NOT_FOR_LOAN),
        (S.PATRON_TOO_MANY_ITEMS.id, S.ITEM_ON_HOLD_FOR_OTHER),
        (S.PATRON_EXPIRED.id, S.ITEM_RENEWABLE),  # on loan to someone else: that loan is closed
        (S.PATRON_CARD_LOST.id, S.ITEM_LOST),
    ],
)
def test_no_block_checkout_skips_every_patron_and_item_check(
    server: IlsSimulator, patron: str, item: str
) -> None:
    sim = use(server, "generic")
    with logged_in(sim) as wire:
        assert checkout(wire, patron, item, no_block=True).ok
    loan = sim.library.loan(item)
    assert loan is not None and loan.patron_id == patron


def test_no_block_still_needs_records_it_can_attach_to(server: IlsSimulator) -> None:
    sim = use(server, "generic")
    with logged_in(sim) as wire:
        assert checkout(wire, S.UNKNOWN_PATRON, S.ITEM_AVAILABLE, no_block=True).screen_messages == (
            "Patron not found",
        )
        assert checkout(wire, S.PATRON_CLEAN.id, S.UNKNOWN_ITEM, no_block=True).screen_messages == (
            "Item not found",
        )


def test_generic_ignores_the_nb_due_date_like_sipserver(server: IlsSimulator) -> None:
    sim = use(server, "generic")
    with logged_in(sim) as wire:
        response = checkout(wire, S.PATRON_CLEAN.id, S.ITEM_AVAILABLE, no_block=True, nb_due_date=NB_DUE)
    assert response.ok and decode_date(response.due_date) == datetime(
        2026, 3, 31, 23, 59, 59
    )  # its own 21 days
    assert "own due date" in sim.library.ledger()[0].detail


def test_alma_honours_the_nb_due_date(server: IlsSimulator) -> None:
    sim = use(server, "alma")
    with logged_in(sim) as wire:
        response = checkout(wire, S.PATRON_CLEAN.id, S.ITEM_AVAILABLE, no_block=True, nb_due_date=NB_DUE)
        normal = checkout(wire, S.PATRON_CLEAN.id, S.AVAILABLE_BOOKS[1], nb_due_date=NB_DUE)
    assert response.ok and decode_date(response.due_date) == NB_DUE
    assert sim.library.loan(S.ITEM_AVAILABLE).due == NB_DUE
    # Outside no-block mode the nb due date means nothing, whatever the dialect.
    assert decode_date(normal.due_date) == datetime(2026, 3, 31, 23, 59, 59)


def test_no_block_renew_is_accepted_and_honours_the_date_per_dialect(server: IlsSimulator) -> None:
    for dialect, expected in (("alma", NB_DUE), ("generic", None)):
        sim = use(server, dialect)
        with logged_in(sim) as wire:
            assert not wire.request(
                Renew(institution_id=AO, patron_id=S.PATRON_NO_RENEWALS.id, item_id=S.ITEM_LOAN_NO_RENEWALS)
            ).ok
            response = wire.request(
                Renew(
                    institution_id=AO,
                    patron_id=S.PATRON_NO_RENEWALS.id,
                    item_id=S.ITEM_LOAN_NO_RENEWALS,
                    no_block=True,
                    nb_due_date=NB_DUE,
                )
            )
        assert isinstance(response, RenewResponse) and response.ok and response.renewal_ok
        due = decode_date(response.due_date)
        assert due == expected if expected else due != NB_DUE, dialect


def test_return_date_counts_for_fines_only_where_honoured(server: IlsSimulator) -> None:
    returned_on_time = datetime(
        2026, 2, 20, 10, 0, 0
    )  # the overdue item really came back before its due date
    fines = {}
    for dialect in ("koha", "evergreen"):
        sim = use(server, dialect)
        with logged_in(sim) as wire:
            response = checkin(wire, S.ITEM_OVERDUE, no_block=True, return_date=returned_on_time)
        assert response.ok
        fines[dialect] = [f.amount for f in sim.library.fines(S.PATRON_OVERDUE.id)]
    assert fines == {
        "koha": [250],
        "evergreen": [250, 250],
    }  # the existing 2.50, plus 10 days x 0.25 if ignored


def test_repeated_checkout_renews_or_is_refused(server: IlsSimulator) -> None:
    sim = use(server, "generic", repeated_checkout_renews=False)
    with logged_in(sim) as wire:
        assert checkout(wire, S.PATRON_CLEAN.id, S.ITEM_AVAILABLE).ok
        again = checkout(wire, S.PATRON_CLEAN.id, S.ITEM_AVAILABLE)
    assert not again.ok and again.screen_messages == ("Item already checked out to this patron",)
    assert sim.library.loan(S.ITEM_AVAILABLE).renewals == 0
    sim = use(server, "sierra")  # documented: a repeated checkout is a renewal
    with logged_in(sim) as wire:
        assert checkout(wire, S.PATRON_CLEAN.id, S.ITEM_AVAILABLE).ok
        again = checkout(wire, S.PATRON_CLEAN.id, S.ITEM_AVAILABLE)
    assert again.ok and again.renewal_ok and sim.library.loan(S.ITEM_AVAILABLE).renewals == 1


def test_checkin_of_an_item_not_on_loan_ok_0_or_ok_1(server: IlsSimulator) -> None:
    answers = {}
    for name, overrides in (("refused", {}), ("accepted", {"not_on_loan_checkin_ok": True})):
        sim = use(server, "koha", **overrides)
        with logged_in(sim) as wire:
            answers[name] = checkin(wire, S.ITEM_AVAILABLE).ok
    assert answers == {"refused": False, "accepted": True}


def test_switching_behaviour_while_running(server: IlsSimulator) -> None:
    sim = use(server, "generic")
    with logged_in(sim) as wire:
        assert not checkin(wire, S.ITEM_AVAILABLE).ok
        sim.set_behaviour("generic", not_on_loan_checkin_ok=True)
        assert checkin(wire, S.ITEM_AVAILABLE).ok


def test_a_dialect_brings_its_encoding(server: IlsSimulator) -> None:
    sim = use(server, "koha")
    assert sim.encoding == "utf-8"
    with logged_in(sim) as wire:
        wire.send(Checkin(institution_id=AO, item_id=S.ITEM_TITLE_LODZ, current_location=S.MAIN))
        raw = wire.read_frame()
    assert "Łódź".encode() in raw
