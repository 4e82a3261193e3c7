"""The journaled gateway against the simulated ILS over TCP: the journal records intent before each
request and its outcome after; with the ILS stopped the offline policy decides, and new transactions
queue behind unsent offline ones. The ILS's ledger and the journal's rows are the judges."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from hardware_mocks.ils import IlsSimulator, When
from hardware_mocks.ils import scenarios as S
from kiosk.circulation.commands import CheckIn, CheckOut, EndPatronSession, LookUpPatron, Renew, RenewAll
from kiosk.circulation.events import IlsFailed, LoanAnswered, PatronLookedUp, RenewAllAnswered, ReturnAnswered
from kiosk.circulation.model import FailureKind
from kiosk.config import OfflineSettings
from kiosk.ils.journaled import JournaledGateway
from kiosk.ils.offline import CHECKOUT_LIMIT, LIBRARY_USE_ONLY, NO_CHECKOUTS, NO_RENEWALS, Reachability
from kiosk.sync.journal import Journal, Kind, Mode, State
from sip2.client import ClientConfig, SIP2Pool

NOW = datetime(2025, 3, 10, 14, 30, 5)
DUE = datetime(2025, 3, 31, 23, 59, 59)  # NOW + 21 days, end of day
BOOK1, BOOK2, BOOK3 = S.AVAILABLE_BOOKS[:3]
PATRON = S.PATRON_CLEAN


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal.open(tmp_path / "journal.sqlite") as j:
        yield j


def make(sim: IlsSimulator, journal: Journal, clock: Clock, *, idle_probe_seconds: float = 0.0,
         settle_retry_seconds: float = 0.0, sleep=lambda seconds: None, **offline) -> JournaledGateway:
    host, port = sim.host, sim.port  # known while it is stopped too (it restarts on the same port)
    config = ClientConfig(host=host, port=port, username=S.LOGIN_USER, password=S.LOGIN_PASSWORD,
                          institution_id=S.INSTITUTION, timeout=2.0, connect_timeout=1.0, heartbeat_interval=3600)
    settings = OfflineSettings(**offline)
    return JournaledGateway(SIP2Pool(config, size=1), journal, settings, now=lambda: NOW,
                            reachability=Reachability(probe_min=1.0, probe_max=8.0, clock=clock),
                            idle_probe_seconds=idle_probe_seconds, clock=clock,
                            settle_retry_seconds=settle_retry_seconds, sleep=sleep)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def gateway(sim: IlsSimulator, journal: Journal, clock: Clock) -> Iterator[JournaledGateway]:
    gw = make(sim, journal, clock, mode="checkin_and_checkout", max_checkouts=2, loan_days=21)
    gw.open()
    yield gw
    gw.close()


def test_online_checkout_and_checkin_are_journaled_intent_then_outcome(
    gateway: JournaledGateway, journal: Journal, sim: IlsSimulator
) -> None:
    states_seen_by_the_ils: list[list[State]] = []
    handle = sim.app.handle

    def watching(request, ctx):
        if request.code in ("11", "09"):
            states_seen_by_the_ils.append([t.state for t in journal.transactions()])
        return handle(request, ctx)

    sim.app.handle = watching
    try:
        loan = gateway.check_out(CheckOut("co-1", PATRON.id, BOOK1, PATRON.pin))
        back = gateway.check_in(CheckIn("ci-2", BOOK1))
    finally:
        sim.app.handle = handle
    assert isinstance(loan, LoanAnswered) and loan.answer.ok and not loan.answer.offline
    assert isinstance(back, ReturnAnswered) and back.answer.ok and not back.answer.offline
    # the intent was on disk (sending) while the ILS handled each request
    assert states_seen_by_the_ils == [[State.SENDING], [State.CONFIRMED, State.SENDING]]
    rows = journal.transactions()
    assert [(t.kind, t.mode, t.state, t.patron_id, t.session_ref) for t in rows] == [
        (Kind.CHECKOUT, Mode.ONLINE, State.CONFIRMED, PATRON.id, "co-1"),
        (Kind.CHECKIN, Mode.ONLINE, State.CONFIRMED, None, "ci-2"),
    ]
    assert rows[0].ils_due_date == loan.answer.due
    assert sim.library.count(message="11", item=BOOK1, applied=True) == 1


def test_an_ils_refusal_is_journaled_as_refused(gateway: JournaledGateway, journal: Journal) -> None:
    answer = gateway.check_out(CheckOut("co-1", S.PATRON_BLOCKED.id, BOOK1, S.PATRON_BLOCKED.pin))
    assert isinstance(answer, LoanAnswered) and not answer.answer.ok and not answer.answer.offline
    (row,) = journal.transactions()
    assert row.state is State.REFUSED and row.reason


def test_ils_stopped_checkin_is_queued_offline_and_the_ils_is_not_asked_again_until_a_probe(
    gateway: JournaledGateway, journal: Journal, sim: IlsSimulator, clock: Clock
) -> None:
    sim.stop()
    first = gateway.check_in(CheckIn("ci-1", S.ITEM_RENEWABLE))
    assert isinstance(first, ReturnAnswered) and first.answer.ok and first.answer.offline
    assert not gateway.reachability.online and not gateway.health().connected
    second = gateway.check_in(CheckIn("ci-2", S.ITEM_OVERDUE))
    assert isinstance(second, ReturnAnswered) and second.answer.offline
    rows = journal.transactions()
    # the first was begun online, found the ILS away, and was taken over by the policy
    assert [(t.item_id, t.mode, t.state, t.return_date) for t in rows] == [
        (S.ITEM_RENEWABLE, Mode.OFFLINE, State.QUEUED, NOW),
        (S.ITEM_OVERDUE, Mode.OFFLINE, State.QUEUED, NOW),
    ]
    assert journal.backlog() == 2


def test_offline_checkout_per_mode_and_the_session_limit(
    sim: IlsSimulator, journal: Journal, clock: Clock
) -> None:
    sim.stop()
    only_returns = make(sim, journal, clock)  # the default mode: checkin
    only_returns.open()  # finds the ILS away
    try:
        refused = only_returns.check_out(CheckOut("co-1", PATRON.id, BOOK1, None))
        assert isinstance(refused, LoanAnswered) and not refused.answer.ok
        assert refused.answer.message_id == NO_CHECKOUTS and journal.backlog() == 0
        assert journal.transactions() == []  # refused: nothing to forward
    finally:
        only_returns.close()
    lending = make(sim, journal, clock, mode="checkin_and_checkout", max_checkouts=2, loan_days=21)
    lending.open()
    try:
        answers = [lending.check_out(CheckOut(f"co-{n}", PATRON.id, item, None))
                   for n, item in enumerate((BOOK1, BOOK2, BOOK3))]
        assert [(a.answer.ok, a.answer.offline, a.answer.due, a.answer.message_id) for a in answers] == [
            (True, True, "2025-03-31", ""), (True, True, "2025-03-31", ""), (False, True, "", CHECKOUT_LIMIT),
        ]
        queued = journal.transactions([State.QUEUED])
        assert [(t.item_id, t.patron_id, t.nb_due_date) for t in queued] == [
            (BOOK1, PATRON.id, DUE), (BOOK2, PATRON.id, DUE),
        ]
        lending.end_patron_session(EndPatronSession("end-9", PATRON.id, None))
        again = lending.check_out(CheckOut("co-10", PATRON.id, BOOK3, None))
        assert again.answer.ok  # the limit is per session
    finally:
        lending.close()


def test_offline_an_item_its_tag_calls_not_for_circulation_is_refused_unjournaled_and_uncounted(
    gateway: JournaledGateway, journal: Journal, sim: IlsSimulator
) -> None:
    sim.stop()
    assert gateway.look_up_patron(LookUpPatron("pat-0", PATRON.id, None)).account.offline  # the session's start
    refused = gateway.check_out(CheckOut("co-1", PATRON.id, S.ITEM_NOT_FOR_LOAN, None,
                                         tag_usages=("not_for_circulation",)))
    assert isinstance(refused, LoanAnswered)
    assert (refused.answer.ok, refused.answer.offline, refused.answer.message_id) == (False, True, LIBRARY_USE_ONLY)
    assert journal.transactions() == []  # nothing for the replay to force on the ILS
    # the session's offline allowance (2) is untouched by the refusal
    lent = [gateway.check_out(CheckOut(f"co-{n}", PATRON.id, item, None, tag_usages=("circulating_item",)))
            for n, item in ((2, BOOK1), (3, BOOK2))]
    assert [(a.answer.ok, a.answer.offline) for a in lent] == [(True, True), (True, True)]
    assert [t.item_id for t in journal.transactions([State.QUEUED])] == [BOOK1, BOOK2]


def test_offline_patron_lookup_takes_the_card_on_its_pattern_without_a_pin(
    sim: IlsSimulator, journal: Journal, clock: Clock
) -> None:
    sim.stop()
    gw = make(sim, journal, clock, patron_pattern=r"2\d{13}")
    gw.open()
    try:
        ok = gw.look_up_patron(LookUpPatron("pat-1", PATRON.id, "0000"))
        assert isinstance(ok, PatronLookedUp)
        assert (ok.account.known, ok.account.pin_ok, ok.account.offline, ok.account.name) == (True, None, True, "")
        bad = gw.look_up_patron(LookUpPatron("pat-2", "12", None))
        assert isinstance(bad, PatronLookedUp) and not bad.account.known
    finally:
        gw.close()
    nothing = make(sim, journal, clock, mode="none")
    try:
        failed = nothing.look_up_patron(LookUpPatron("pat-3", PATRON.id, None))
        assert isinstance(failed, IlsFailed) and failed.failure.kind is FailureKind.UNREACHABLE
    finally:
        nothing.close()


def test_renewals_are_refused_offline(gateway: JournaledGateway, journal: Journal, sim: IlsSimulator) -> None:
    sim.stop()
    one = gateway.renew(Renew("rn-1", S.PATRON_VALID.id, S.ITEM_RENEWABLE, S.PATRON_VALID.pin))
    assert isinstance(one, LoanAnswered) and not one.answer.ok and one.answer.message_id == NO_RENEWALS
    every = gateway.renew_all(RenewAll("ra-2", S.PATRON_VALID.id, S.PATRON_VALID.pin))
    assert isinstance(every, RenewAllAnswered) and not every.answer.ok
    assert journal.backlog() == 0


def test_while_offline_rows_wait_new_ones_queue_behind_them_even_with_the_ils_back(
    gateway: JournaledGateway, journal: Journal, sim: IlsSimulator, clock: Clock
) -> None:
    sim.stop()
    gateway.check_out(CheckOut("co-1", PATRON.id, BOOK1, None))
    sim.start()
    clock.t += 100  # a probe is due
    looked_up = gateway.look_up_patron(LookUpPatron("pat-2", PATRON.id, PATRON.pin))
    assert isinstance(looked_up, PatronLookedUp) and not looked_up.account.offline  # reads go online
    back = gateway.check_in(CheckIn("ci-3", BOOK1))
    renewal = gateway.renew(Renew("rn-4", PATRON.id, BOOK1, PATRON.pin))
    assert back.answer.ok and back.answer.offline  # queued behind the checkout: the ILS sees both in order
    assert renewal.answer.message_id == NO_RENEWALS
    assert [(t.kind, t.state) for t in journal.transactions()] == [
        (Kind.CHECKOUT, State.QUEUED), (Kind.CHECKIN, State.QUEUED),
    ]
    assert sim.library.ledger(message="11") == [] and sim.library.ledger(message="09") == []


def test_back_online_after_a_restart_once_the_probe_is_due(
    gateway: JournaledGateway, journal: Journal, sim: IlsSimulator, clock: Clock
) -> None:
    sim.stop()
    gateway.look_up_patron(LookUpPatron("pat-1", PATRON.id, PATRON.pin))
    assert not gateway.reachability.online
    sim.start()
    assert not gateway.heartbeat()  # no probe before its time
    clock.t += 1.0
    assert gateway.heartbeat() and gateway.reachability.online
    loan = gateway.check_out(CheckOut("co-2", PATRON.id, BOOK1, PATRON.pin))
    assert loan.answer.ok and not loan.answer.offline
    assert [(t.mode, t.state) for t in journal.transactions()] == [(Mode.ONLINE, State.CONFIRMED)]


def test_a_transaction_a_crash_left_in_flight_is_settled_at_open(
    sim: IlsSimulator, journal: Journal, clock: Clock
) -> None:
    journal.own("kiosk")
    applied = journal.begin_online(Kind.CHECKIN, patron_id=None, item_id=S.ITEM_RENEWABLE, transaction_date=NOW,
                                   owner="kiosk")
    sim.library.checkin(S.ITEM_RENEWABLE)  # the ILS did it; the kiosk died before the answer
    not_applied = journal.begin_online(Kind.CHECKOUT, patron_id=PATRON.id, item_id=BOOK1, transaction_date=NOW,
                                       owner="kiosk")
    gw = make(sim, journal, clock)
    try:
        gw.open()
    finally:
        gw.close()
    assert journal.get(applied.id).state is State.CONFIRMED
    assert journal.get(not_applied.id).state is State.FAILED


# -- from_settings, and the wait before settling a crash's rows ----------------------------------


def _settings_for(sim: IlsSimulator, tmp_path: Path, extra: str = ""):
    from kiosk.config import load_settings

    (tmp_path / "kiosk.toml").write_text(
        f'[sip2]\nhost = "{sim.host}"\nport = {sim.port}\ntimeout_seconds = 2.0\n'
        f'[journal]\npath = "{tmp_path / "j" / "journal.sqlite"}"\nlost_answer_wait_seconds = 0.75\n'
        '[offline]\nmode = "checkin_and_checkout"\nloan_days = 21\nprobe_min_seconds = 2.0\nprobe_max_seconds = 4.0\n'
        + extra
    )
    return load_settings(config_dir=tmp_path, secrets_path=tmp_path / "none.toml")


def _orphans(path: Path) -> tuple[int, int]:
    """A dead kiosk's two rows in flight: a checkin the ILS applied, a checkout it never saw."""
    with Journal.open(path) as j:
        assert j.own("kiosk")  # released at close, as a dead process's lock is
        applied = j.begin_online(Kind.CHECKIN, patron_id=None, item_id=S.ITEM_RENEWABLE, transaction_date=NOW,
                                 owner="kiosk")
        not_applied = j.begin_online(Kind.CHECKOUT, patron_id=PATRON.id, item_id=BOOK1, transaction_date=NOW,
                                     owner="kiosk")
    return applied.id, not_applied.id


def test_from_settings_wires_the_pool_journal_and_policy_and_waits_before_settling(
    sim: IlsSimulator, tmp_path: Path
) -> None:
    settings = _settings_for(sim, tmp_path)
    path = Path(settings.journal.path)
    path.parent.mkdir()
    applied, not_applied = _orphans(path)
    sim.library.checkin(S.ITEM_RENEWABLE)
    asked: list[str] = []
    sleeps: list[tuple[float, int]] = []  # (seconds, requests the ILS had seen when the wait began)
    handle = sim.app.handle

    def watching(request, ctx):
        asked.append(request.code)
        return handle(request, ctx)

    sim.app.handle = watching
    try:
        gw = JournaledGateway.from_settings(settings, sleep=lambda s: sleeps.append((s, len(asked))),
                                            now=lambda: NOW)
        gw.open()
        assert gw.policy.settings.loan_days == 21 and gw.reachability.probe_min == 2.0
        loan = gw.check_out(CheckOut("co", PATRON.id, BOOK2, PATRON.pin))
        assert loan.answer.ok and not loan.answer.offline
        gw.close()
    finally:
        del sim.app.handle
    # One wait, of the configured length, before the first question about the orphans ("17"/"63").
    assert [s for s, _ in sleeps] == [0.75]
    first_question = next(i for i, code in enumerate(asked) if code in ("17", "63"))
    assert sleeps[0][1] <= first_question
    with Journal.open(path) as j:
        states = {t.id: t.state for t in j.transactions()}
    assert states[applied] is State.CONFIRMED and states[not_applied] is State.FAILED
    assert list(states.values()).count(State.CONFIRMED) == 2  # and the new checkout, journaled there
    assert [(e.item, e.outcome) for e in sim.library.ledger()][-1] == (BOOK2, "checked_out")


def test_open_does_not_wait_when_nothing_was_left_in_flight(sim: IlsSimulator, tmp_path: Path) -> None:
    settings = _settings_for(sim, tmp_path)
    sleeps: list[float] = []
    gw = JournaledGateway.from_settings(settings, sleep=sleeps.append)
    gw.open()
    assert gw.health().connected
    gw.close()
    assert sleeps == []


def test_orphans_found_with_the_ils_away_are_settled_by_the_heartbeat_that_finds_it_back(
    sim: IlsSimulator, tmp_path: Path, clock: Clock
) -> None:
    settings = _settings_for(sim, tmp_path)
    path = Path(settings.journal.path)
    path.parent.mkdir()
    applied, not_applied = _orphans(path)
    sim.library.checkin(S.ITEM_RENEWABLE)
    sleeps: list[float] = []
    sim.stop()
    gw = JournaledGateway.from_settings(settings, sleep=sleeps.append, clock=clock, now=lambda: NOW)
    try:
        gw.open()
        assert not gw.reachability.online and sleeps == []
        # Offline meanwhile: a checkin is queued; the orphans stay in flight, untouched.
        assert gw.check_in(CheckIn("ci", BOOK3)).answer.offline
        sim.start()
        clock.t += 2.0
        assert gw.heartbeat()
    finally:
        gw.close()
    assert sleeps == [0.75]
    with Journal.open(path) as j:
        states = {t.id: t.state for t in j.transactions()}
    assert states[applied] is State.CONFIRMED and states[not_applied] is State.FAILED
    assert list(states.values()).count(State.QUEUED) == 1


def test_a_row_this_process_is_sending_is_not_settled_as_an_orphan(
    sim: IlsSimulator, journal: Journal, clock: Clock
) -> None:
    gw = make(sim, journal, clock)
    gw.open()
    try:
        live = journal.begin_online(Kind.CHECKOUT, patron_id=PATRON.id, item_id=BOOK1, transaction_date=NOW,
                                    owner="kiosk")  # a worker thread's request, on its way
        assert gw.settle_in_flight() == 0
        assert journal.get(live.id).state is State.SENDING
    finally:
        gw.close()


def test_a_negative_lost_answer_wait_is_refused(sim: IlsSimulator, journal: Journal) -> None:
    config = ClientConfig(host=sim.host, port=sim.port)
    with pytest.raises(ValueError, match="lost_answer_wait"):
        JournaledGateway(SIP2Pool(config, size=1), journal, OfflineSettings(), lost_answer_wait=-1.0)


def test_an_idle_kiosk_notices_the_ils_went_away_by_its_idle_probe_and_its_return(
    sim: IlsSimulator, journal: Journal, clock: Clock
) -> None:
    gw = make(sim, journal, clock, idle_probe_seconds=30.0)
    gw.open()
    try:
        before = len(sim.library.ledger())
        sim.stop()
        clock.t = 10.0
        assert gw.heartbeat() and gw.reachability.online  # not due yet: nothing asked, nothing known
        clock.t = 31.0
        assert not gw.heartbeat()  # the 99 found nobody: offline, before any patron came
        assert not gw.reachability.online and not gw.health().connected
        sim.start()
        clock.t = 40.0  # past the offline back-off: the usual probe finds it back
        assert gw.heartbeat() and gw.reachability.online and gw.health().connected
        assert len(sim.library.ledger()) == before  # a probe changes nothing at the ILS
    finally:
        gw.close()


def test_no_idle_probe_when_it_is_switched_off(sim: IlsSimulator, journal: Journal, clock: Clock) -> None:
    gw = make(sim, journal, clock)  # idle_probe_seconds defaults to 0 for a hand-built gateway
    gw.open()
    try:
        sim.stop()
        clock.t = 3600.0
        assert gw.heartbeat() and gw.reachability.online
    finally:
        gw.close()


# --- answers lost while the kiosk runs -----------------------------------------------------------------
#
# An answer lost while the kiosk runs, when the ILS cannot be asked about it at once: found by the
# simulated day (tests/soak), where a returns bin's checkin answer was lost as the ILS went away.
#
# The online gateway settles a lost answer by asking the ILS (17, 63) straight away; when that fails too,
# the journaled gateway used to write the row ``unknown`` for staff, although the ILS had simply not been
# reachable for a moment and would have said a few seconds later. The journal defines ``unknown`` as
# "the ILS could not say"; a line that was down is not that. Now the row stays ``sending`` and is
# settled by asking the ILS as soon as it can be asked (the heartbeat), exactly as a crash's would be.


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


@pytest.fixture
def waiting(sim: IlsSimulator, journal: Journal, clock: Clock) -> Iterator[tuple[JournaledGateway, list[float]]]:
    """An open gateway that asks about a lost checkout for up to 3 s, and the sleeps it took; the
    checkout's answer is lost after the ILS applied it."""
    slept: list[float] = []
    gw = make(sim, journal, clock, settle_retry_seconds=3.0, sleep=slept.append, mode="checkin_and_checkout")
    gw.open()
    sim.faults.drop(code="11", when=When.AFTER_APPLY)
    try:
        yield gw, slept
    finally:
        gw.close()


def test_a_lost_checkout_the_line_drops_again_is_settled_while_the_patron_waits(
    sim: IlsSimulator, journal: Journal, waiting: tuple[JournaledGateway, list[float]]
) -> None:
    # The simulated day: an answer lost, the question about it lost too (the line dropped again), and
    # the ILS answering a second later. The patron, still at the pad, hears "lent", not "see staff".
    gw, slept = waiting
    patron, book = S.PATRON_CLEAN, S.AVAILABLE_BOOKS[2]
    sim.faults.drop(code="17", times=2)  # the gateway's question and the client's one resend
    answer = gw.check_out(CheckOut("co-1", patron.id, book, patron.pin))
    assert isinstance(answer, LoanAnswered) and answer.answer.ok and not answer.answer.offline, answer
    assert answer.answer.due and answer.answer.title
    (row,) = journal.transactions()
    assert row.state is State.CONFIRMED and row.resolved_by, row
    assert sim.library.applied("11", item=book) == 1  # asked, never sent again
    assert slept and sum(slept) <= 3.0


def test_a_lost_checkout_that_cannot_be_asked_about_goes_to_staff_after_the_wait(
    sim: IlsSimulator, journal: Journal, waiting: tuple[JournaledGateway, list[float]]
) -> None:
    gw, slept = waiting
    patron, book = S.PATRON_CLEAN, S.AVAILABLE_BOOKS[2]
    sim.faults.drop(code="17", times=None)
    answer = gw.check_out(CheckOut("co-1", patron.id, book, patron.pin))
    assert isinstance(answer, IlsFailed) and answer.failure.kind is FailureKind.OUTCOME_UNKNOWN
    assert slept == [0.25, 0.5, 1.0]  # 1.75 s of asking, then staff; the heartbeat asks on
    (row,) = journal.transactions()
    assert row.state is State.SENDING
