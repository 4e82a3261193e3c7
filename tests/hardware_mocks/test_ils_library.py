"""The simulated library without sockets: sample data, circulation rules, ledger, thread safety."""

from __future__ import annotations

import re
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from stdnum import luhn

from hardware_mocks.ils import scenarios as S
from hardware_mocks.ils.library import Behaviour, HoldStatus, ItemStatus, Library, load_sample_data
from hardware_mocks.ils.records import end_of_day, format_cents, to_cents
from sip2.fields import AlertType

README = Path(__file__).parents[2] / "hardware_mocks" / "ils" / "README.md"
T0 = datetime(2026, 3, 10, 14, 0, 0)


class Clock:
    """A clock the test moves by hand, so due dates and fines are exact."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def lib(clock: Clock) -> Library:
    return Library.open(clock=clock)


# --- sample data ---------------------------------------------------------------------------------


def test_sample_has_a_realistic_small_library() -> None:
    data = load_sample_data()
    items, patrons = data["items"], data["patrons"]
    assert len(items) >= 60
    assert len(patrons) >= 12
    assert {b["code"] for b in data["branches"]} == {S.MAIN, S.EAST}
    kinds = {i["media_type"] for i in items}
    assert {"book", "dvd", "audiobook", "magazine"} <= kinds
    assert any(i.get("parts") == 3 and i["media_type"] == "audiobook" for i in items)
    statuses = {i.get("status", "available") for i in items}
    assert {"lost", "in_transit", "on_hold_shelf", "on_loan", "missing"} <= statuses
    assert any(i.get("loanable") is False for i in items)
    titles = " ".join(i["title"] for i in items)
    for word in ("Łódź", "Ærø", "Müller", "Ñandú"):
        assert word in titles
    for p in patrons:
        assert p["pin"] and p["name"] and p["email"] and p["home_branch"] in (S.MAIN, S.EAST)


def test_barcodes_are_14_digit_codabar_with_a_valid_luhn_check_digit() -> None:
    data = load_sample_data()
    ids = [(p["id"], "2") for p in data["patrons"]] + [(i["id"], "3") for i in data["items"]]
    ids += [(S.UNKNOWN_PATRON, "2"), (S.UNKNOWN_ITEM, "3")]
    for barcode, type_digit in ids:
        assert re.fullmatch(r"\d{14}", barcode), barcode
        assert barcode[0] == type_digit and barcode[1:5] == "1234", barcode
        assert luhn.is_valid(barcode), barcode  # python-stdnum, not our own check digit code
    assert len({b for b, _ in ids}) == len(ids)


def test_every_scenario_constant_names_a_record_that_matches(lib: Library) -> None:
    for name in dir(S):
        value = getattr(S, name)
        if name.startswith("PATRON_"):
            patron = lib.patron(value.id)
            assert patron is not None and (patron.pin, patron.name) == (value.pin, value.name), name
        elif name.startswith("ITEM_"):
            assert lib.item(value) is not None, name
    assert lib.patron(S.UNKNOWN_PATRON) is None and lib.item(S.UNKNOWN_ITEM) is None
    for item_id in S.AVAILABLE_BOOKS:
        item = lib.item(item_id)
        assert item and item.status is ItemStatus.AVAILABLE and item.loanable and item.media_type == "book"
        assert item.current_branch == S.MAIN and not lib.holds(item_id=item_id)


def test_readme_lists_every_scenario_patron_and_item() -> None:
    text = README.read_text(encoding="utf-8")
    for name in dir(S):
        value = getattr(S, name)
        if name.startswith("PATRON_"):
            assert value.id in text and value.pin in text, name
        elif name.startswith("ITEM_") or name.startswith("UNKNOWN_"):
            assert value in text, name


@pytest.mark.parametrize(
    ("patron", "expected"),
    [
        (S.PATRON_VALID, None),
        (S.PATRON_CLEAN, None),
        (S.PATRON_OVERDUE, None),
        (S.PATRON_BLOCKED, "Patron account is blocked: Please contact the library staff"),
        (S.PATRON_EXPIRED, "Patron card has expired"),
        (S.PATRON_FINES, "Patron has outstanding fines over the limit"),
        (S.PATRON_CARD_LOST, "Patron card reported lost"),
        (S.PATRON_TOO_MANY_OVERDUE, "Patron has too many overdue items"),
        (S.PATRON_NO_HOLDS, None),
        (S.PATRON_NO_RENEWALS, None),
        (S.PATRON_TOO_MANY_ITEMS, None),  # a limit, not a block: renewals still allowed
    ],
)
def test_standing_gives_the_first_reason_that_stops_borrowing(lib: Library, patron, expected) -> None:
    standing = lib.standing(patron.id)
    assert standing is not None
    assert standing.borrow_block == expected


def test_standing_of_the_scenario_patrons(lib: Library) -> None:
    assert lib.standing(S.PATRON_TOO_MANY_ITEMS.id).too_many_items
    assert lib.standing(S.PATRON_FINES.id).fines_owed == 2500
    assert len(lib.standing(S.PATRON_OVERDUE.id).overdue) == 2
    holds = lib.standing(S.PATRON_HOLDS_READY.id)
    assert {h.item_id for h in holds.holds_ready} == {S.ITEM_HOLD_SHELF, S.ITEM_HOLD_SHELF_EAST}
    assert [h.item_id for h in holds.holds_waiting] == [S.ITEM_HOLD_HERE]
    assert lib.standing(S.PATRON_NO_HOLDS.id).hold_block == "Patron may not place holds"
    assert lib.standing(S.PATRON_NO_RENEWALS.id).renew_block == "Patron may not renew items"
    assert lib.standing(S.UNKNOWN_PATRON) is None


# --- rules -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "due"),
    [
        (S.ITEM_AVAILABLE, datetime(2026, 3, 31, 23, 59, 59)),  # book: 21 days
        (S.ITEM_DVD, datetime(2026, 3, 17, 23, 59, 59)),  # DVD: 7 days
        (S.ITEM_AUDIOBOOK_SET, datetime(2026, 3, 24, 23, 59, 59)),  # audiobook: 14 days
        (S.ITEM_MAGAZINE, datetime(2026, 3, 17, 23, 59, 59)),  # magazine: 7 days
    ],
)
def test_loan_period_depends_on_the_item_type(lib: Library, item: str, due: datetime) -> None:
    result = lib.checkout(S.PATRON_CLEAN.id, item)
    assert result.ok and result.due == due
    assert lib.loan(item).due == due


def test_a_renewal_moves_the_due_date_from_the_old_one_and_counts(lib: Library, clock: Clock) -> None:
    first = lib.checkout(S.PATRON_CLEAN.id, S.ITEM_AVAILABLE)
    clock.advance(days=2)
    again = lib.renew(S.PATRON_CLEAN.id, S.ITEM_AVAILABLE)
    assert again.ok and again.renewal
    assert again.due == first.due + timedelta(days=21)
    assert lib.loan(S.ITEM_AVAILABLE).renewals == 1
    lib.renew(S.PATRON_CLEAN.id, S.ITEM_AVAILABLE)
    third = lib.renew(S.PATRON_CLEAN.id, S.ITEM_AVAILABLE)
    assert not third.ok and third.message == "Item has reached the maximum number of renewals"
    assert lib.loan(S.ITEM_AVAILABLE).renewals == 2


def test_overdue_checkin_charges_a_fine_per_day_up_to_the_cap(lib: Library, clock: Clock) -> None:
    assert lib.checkout(S.PATRON_CLEAN.id, S.ITEM_DVD).ok  # due in 7 days, 1.00 a day
    clock.advance(days=10)
    result = lib.checkin(S.ITEM_DVD, branch=S.MAIN)
    assert result.ok and result.fine == 300
    fines = lib.fines(S.PATRON_CLEAN.id)
    assert [(f.fee_type, f.amount, f.description) for f in fines] == [("04", 300, "Overdue: The Godfather")]
    assert lib.checkout(S.PATRON_CLEAN.id, S.ITEM_DVD).ok
    clock.advance(days=60)
    assert lib.checkin(S.ITEM_DVD, branch=S.MAIN).fine == 1000  # max_fine_per_item


def test_fines_over_the_limit_block_borrowing_until_paid(lib: Library) -> None:
    assert not lib.checkout(S.PATRON_FINES.id, S.ITEM_AVAILABLE).ok
    assert lib.pay(S.PATRON_FINES.id, "15.00").ok  # oldest first: the 5.00 overdue, then 10 of 20.00
    assert lib.standing(S.PATRON_FINES.id).fines_owed == 1000  # at the limit is not over it
    assert lib.checkout(S.PATRON_FINES.id, S.ITEM_AVAILABLE).ok
    assert [format_cents(f.owed) for f in lib.fines(S.PATRON_FINES.id)] == ["10.00"]


def test_checkout_fills_the_patrons_own_hold_and_returns_others_to_waiting(lib: Library) -> None:
    result = lib.checkout(S.PATRON_HOLDS_READY.id, S.ITEM_HOLD_SHELF)
    assert result.ok
    assert not any(h.patron_id == S.PATRON_HOLDS_READY.id for h in lib.holds(item_id=S.ITEM_HOLD_SHELF))
    # A no-block checkout of an item trapped for someone else (it left with this patron while the
    # ILS was offline) sends that hold back to the queue.
    nb = lib.checkout(S.PATRON_CLEAN.id, S.ITEM_HOLD_SHELF_OTHER, no_block=True)
    assert nb.ok
    assert [h.status for h in lib.holds(item_id=S.ITEM_HOLD_SHELF_OTHER)] == [HoldStatus.PENDING]


def test_checkin_routes_by_hold_and_home_branch(lib: Library) -> None:
    here = lib.checkin(S.ITEM_HOLD_HERE, branch=S.MAIN)
    assert here.routing.alert is AlertType.HOLD_HERE
    assert here.routing.hold_patron.id == S.PATRON_HOLDS_READY.id
    assert lib.item(S.ITEM_HOLD_HERE).status is ItemStatus.ON_HOLD_SHELF
    elsewhere = lib.checkin(S.ITEM_HOLD_OTHER_BRANCH, branch=S.MAIN)
    assert (elsewhere.routing.alert, elsewhere.routing.destination) == (AlertType.HOLD_OTHER_BRANCH, S.EAST)
    assert lib.holds(item_id=S.ITEM_HOLD_OTHER_BRANCH)[0].status is HoldStatus.IN_TRANSIT
    transit = lib.checkin(S.ITEM_TRANSIT, branch=S.MAIN)
    assert (transit.routing.alert, transit.routing.destination) == (AlertType.TRANSIT, S.EAST)
    assert lib.item(S.ITEM_TRANSIT).transit_to == S.EAST
    # ...and when the travelling item arrives at its destination:
    arrived = lib.checkin(S.ITEM_TRANSIT, branch=S.EAST)
    assert arrived.routing.alert is None and not arrived.ok  # not on loan: ok=0 by default
    assert lib.item(S.ITEM_TRANSIT).status is ItemStatus.AVAILABLE


def test_behaviour_follows_the_sip2_dialect_profiles() -> None:
    generic = Behaviour.for_dialect("generic")
    assert generic.repeated_checkout_renews and not generic.honours_nb_due_date
    assert not generic.honours_return_date and not generic.not_on_loan_checkin_ok
    assert Behaviour.for_dialect("alma").honours_nb_due_date
    assert Behaviour.for_dialect("koha").honours_return_date
    assert not Behaviour.for_dialect("evergreen").honours_return_date  # SIPServer-like
    assert not Behaviour.for_dialect("generic", repeated_checkout_renews=False).repeated_checkout_renews
    with pytest.raises(ValueError, match="unknown SIP2 dialect"):
        Behaviour.for_dialect("aleph")


def test_money_is_exact_cents() -> None:
    assert to_cents("0.10") + to_cents("0.20") == to_cents("0.30") == 30
    assert format_cents(2500) == "25.00" and format_cents(5) == "0.05"
    for bad in ("1.234", "abc", "NaN", ""):
        with pytest.raises(ValueError):
            to_cents(bad)
    assert end_of_day(T0) == datetime(2026, 3, 10, 23, 59, 59)


# --- ledger and concurrency --------------------------------------------------------------------


def test_ledger_records_every_transaction_with_its_outcome(lib: Library) -> None:
    lib.checkout(S.PATRON_CLEAN.id, S.ITEM_AVAILABLE, connection="c7")
    lib.checkout(S.PATRON_BLOCKED.id, S.AVAILABLE_BOOKS[1], connection="c7")
    lib.checkin(S.ITEM_AVAILABLE, branch=S.MAIN, no_block=True, return_date=T0)
    rows = lib.ledger()
    assert [(r.seq, r.message, r.outcome, r.applied, r.no_block) for r in rows] == [
        (1, "11", "checked_out", True, False),
        (2, "11", "refused", False, False),
        (3, "09", "checked_in", True, True),
    ]
    assert (
        rows[0].patron == S.PATRON_CLEAN.id
        and rows[0].item == S.ITEM_AVAILABLE
        and rows[0].connection == "c7"
    )
    assert rows[1].detail.startswith("Patron account is blocked")
    assert rows[0].time == T0
    assert lib.applied("11") == 1 and lib.count(message="11") == 2
    assert lib.applied(item=S.ITEM_AVAILABLE) == 2 and lib.count(outcome="refused") == 1


def test_concurrent_checkouts_of_one_item_apply_exactly_once(lib: Library) -> None:
    patrons = [
        S.PATRON_CLEAN.id,
        S.PATRON_VALID.id,
        S.PATRON_OVERDUE.id,
        S.PATRON_WRONG_PIN.id,
        S.PATRON_NO_HOLDS.id,
        S.PATRON_NO_RENEWALS.id,
        S.PATRON_HOLDS.id,
        S.PATRON_HOLDS_READY.id,
    ]
    start = threading.Barrier(len(patrons))
    results = []

    def borrow(patron_id: str) -> None:
        start.wait()
        results.append(lib.checkout(patron_id, S.ITEM_AVAILABLE))

    threads = [threading.Thread(target=borrow, args=(p,)) for p in patrons]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.ok for r in results) == 1
    assert lib.applied("11", item=S.ITEM_AVAILABLE) == 1
    assert {r.message for r in results if not r.ok} == {"Item checked out to another patron"}


def test_a_library_file_is_seeded_once_and_keeps_its_state(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "ils.db"
    first = Library.open(path, clock=clock)
    assert first.checkout(S.PATRON_CLEAN.id, S.ITEM_AVAILABLE).ok
    first.close()
    again = Library.open(path, clock=clock)
    loan = again.loan(S.ITEM_AVAILABLE)
    assert loan is not None and loan.patron_id == S.PATRON_CLEAN.id
    assert again.applied("11") == 1
    again.close()
