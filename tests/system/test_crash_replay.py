"""Crash tests for the offline replay: kill ``kiosk sync`` anywhere, break the network at every
message boundary, and let the simulated ILS's ledger judge: every queued transaction applied exactly
once, in the order it happened, and nothing else applied.

Three drivers, one invariant:

* real ``kiosk sync --once`` subprocesses killed with SIGKILL, after a random delay (ms) or exactly
  at a message boundary (the simulated ILS stalls a request before or after applying it, the
  driver sees the stall and kills), then restarted (and sometimes killed again while recovering)
  until the queue is empty;
* in-process replays "killed" at a random step boundary (claimed, answered, recorded, answer
  lost, resolved): the replay raises out, its socket and journal handle are dropped as the kernel
  would drop them, and a new replayer starts on the same journal file; often with a network fault
  from the simulated ILS on top. These are most of the trials because a subprocess costs ~0.35 s
  to start (imports), a trial in-process ~50 ms;
* a fixed matrix of network faults (drop before/after apply, garbage, stall past the timeout,
  bad checksum) on every circulation message of a batch, and on the 17/63 questions that settle
  a lost answer.

A trial queues 3-5 transactions drawn from a model of the sample library (checkouts of items not
on loan, checkins and renewals of items that are), so each one must be applied once.
The seed is printed on failure; CRASH_SEED=<n> replays a run.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from hardware_mocks.ils import IlsSimulator, When
from hardware_mocks.ils import scenarios as S
from kiosk.sync.journal import Journal, Kind, State
from kiosk.sync.replay import Replayer, ReplayOptions
from sip2.client import ClientConfig, SIP2Client
from sip2.dialects import get_dialect
from sip2.errors import SIP2Error
from sip2.messages import Request
from sip2.server import ConnectionContext, HandlerResult

SEED = int(os.environ.get("CRASH_SEED", "5150"))
IN_PROCESS_TRIALS = 200
SIGKILL_TRIALS = 40
CODES = {Kind.CHECKOUT: "11", Kind.CHECKIN: "09", Kind.RENEW: "29"}
OUTCOMES = {Kind.CHECKOUT: "checked_out", Kind.CHECKIN: "checked_in", Kind.RENEW: "renewed"}
WHEN = datetime.now().replace(microsecond=0) - timedelta(hours=5)
DUE = (WHEN + timedelta(days=14)).replace(hour=23, minute=59, second=59)

#: Items on loan in the sample library, with their borrower.
ON_LOAN = {
    S.ITEM_RENEWABLE: S.PATRON_VALID.id,
    S.ITEM_RENEWAL_LIMIT: S.PATRON_VALID.id,
    S.ITEM_HOLD_HERE: S.PATRON_VALID.id,
    S.ITEM_HOLD_OTHER_BRANCH: S.PATRON_VALID.id,
    S.ITEM_TRANSIT: S.PATRON_VALID.id,
    S.ITEM_OVERDUE: S.PATRON_OVERDUE.id,
    S.ITEM_OVERDUE_DVD: S.PATRON_OVERDUE.id,
    S.ITEM_LOAN_NO_RENEWALS: S.PATRON_NO_RENEWALS.id,
}
BORROWERS = (S.PATRON_CLEAN.id, S.PATRON_VALID.id, S.PATRON_OVERDUE.id, S.PATRON_NO_HOLDS.id, S.PATRON_BLOCKED.id)


@dataclass(frozen=True)
class Step:
    kind: Kind
    item: str
    patron: str | None  # the borrower (for a checkin: whose loan it closes, as the ledger says)


def plan(rng: random.Random, size: int) -> list[Step]:
    """``size`` transactions that are all valid in sequence: a checkout of an item nobody has, a
    checkin or renewal of an item on loan (so each changes the ILS's state, as real ones do)."""
    loans = dict(ON_LOAN)
    shelf = list(S.AVAILABLE_BOOKS[:10])
    steps: list[Step] = []
    while len(steps) < size:
        kind = rng.choice([Kind.CHECKOUT, Kind.CHECKOUT, Kind.CHECKIN, Kind.RENEW])
        if kind is Kind.CHECKOUT:
            item = rng.choice(shelf)
            shelf.remove(item)
            loans[item] = rng.choice(BORROWERS)
            steps.append(Step(kind, item, loans[item]))
        else:
            item = rng.choice(sorted(loans))
            if kind is Kind.CHECKIN:
                steps.append(Step(kind, item, loans.pop(item)))
                shelf.append(item)
            else:
                steps.append(Step(kind, item, loans[item]))
    return steps


def queue(journal: Journal, steps: list[Step]) -> None:
    for n, step in enumerate(steps):
        when = WHEN + timedelta(minutes=n)
        if step.kind is Kind.CHECKIN:
            journal.queue_offline(Kind.CHECKIN, patron_id=None, item_id=step.item, transaction_date=when)
        else:
            journal.queue_offline(step.kind, patron_id=step.patron, item_id=step.item, transaction_date=when,
                                  nb_due_date=DUE)


def check_exactly_once(sim: IlsSimulator, journal: Journal, steps: list[Step], label: str) -> None:
    ledger = sim.library.ledger()
    got = [(e.message, e.item, e.patron, e.outcome, e.applied, e.no_block) for e in ledger]
    want = [(CODES[s.kind], s.item, s.patron, OUTCOMES[s.kind], True, True) for s in steps]
    assert got == want, f"{label}: ledger differs from the queue"
    states = [t.state for t in journal.transactions()]
    assert states == [State.REPLAYED] * len(steps), f"{label}: journal states {states}"


@pytest.fixture(scope="module")
def sim() -> Iterator[IlsSimulator]:
    with IlsSimulator() as server:
        yield server


@pytest.fixture(scope="module")
def rng() -> random.Random:
    print(f"crash tests: CRASH_SEED={SEED}")
    return random.Random(SEED)


def client_for(sim: IlsSimulator, timeout: float = 0.25) -> SIP2Client:
    host, port = sim.address
    return SIP2Client(ClientConfig(host=host, port=port, username="demo", timeout=timeout))


class Crash(BaseException):
    """The replay 'process' dies here (BaseException: nothing in the replay may catch it)."""


FAULTS: dict[str, Callable[[IlsSimulator, str, int, int], None]] = {
    "drop before apply": lambda sim, code, after, times: sim.faults.drop(
        code=code, after=after, when=When.BEFORE_APPLY, times=times),
    "drop after apply": lambda sim, code, after, times: sim.faults.drop(
        code=code, after=after, when=When.AFTER_APPLY, times=times),
    "garbage": lambda sim, code, after, times: sim.faults.garbage(code=code, after=after, times=times),
    "bad checksum": lambda sim, code, after, times: sim.faults.bad_checksum(code=code, after=after, times=times),
    "stall before apply": lambda sim, code, after, times: sim.faults.stall(
        code=code, after=after, when=When.BEFORE_APPLY, times=times),
    "stall after apply": lambda sim, code, after, times: sim.faults.stall(
        code=code, after=after, when=When.AFTER_APPLY, times=times),
}


@dataclass
class Totals:
    crashes: int = 0
    runs: int = 0
    settled: int = 0  # in-flight transactions settled by asking the ILS
    requeued: int = 0  # ... of which the ILS proved not applied
    unknown: int = 0


def run_incarnations(
    sim: IlsSimulator,
    path: Path,
    *,
    batch: int,
    crash_at: Callable[[], int | None],
    timeout: float = 2.0,
    lost_answer_wait: float = 0.0,
    max_runs: int = 30,
) -> Totals:
    """Start replayers on ``path`` until the queue is empty; each may be 'killed' at the n-th step
    boundary ``crash_at()`` picks. The boundaries are quiet moments (the ILS has answered, or
    dropped the request, or never got it), so no request is still on its way when the next
    replayer asks: ``lost_answer_wait`` can be 0 unless a fault makes the client time out."""
    dialect = get_dialect("generic")
    totals = Totals()
    while totals.runs < max_runs:
        totals.runs += 1
        limit = crash_at()
        seen = 0

        def hook(point: str, transaction: object, limit: int | None = limit) -> None:
            nonlocal seen
            seen += 1
            if seen == limit:
                raise Crash(point)

        journal = Journal.open(path)
        assert journal.own("sync"), "a dead replayer's lock must be free"
        client = client_for(sim, timeout)
        options = ReplayOptions(batch=batch, lost_answer_wait=lost_answer_wait)
        replayer = Replayer(journal, client, dialect, options, hook=hook)
        try:
            replayer.drain()
            if journal.backlog() == 0 and not journal.in_flight():
                return totals
        except Crash:
            totals.crashes += 1
        except SIP2Error:
            pass  # the ILS failed mid-way (a fault): like an unreachable ILS, the next run carries on
        finally:
            totals.settled += replayer.stats.settled
            totals.requeued += replayer.stats.requeued
            totals.unknown += replayer.stats.unknown
            client.close()  # as the kernel closes the socket and drops the flock of a dead process
            journal.close()
    raise AssertionError(f"queue not empty after {max_runs} runs")


# --- in-process kills at step boundaries, with network faults ------------------------------------------


#: Faults that end a request at once. A stall ends in the client's timeout, which the matrix below
#: covers; here it would cost a timeout per trial.
QUICK_FAULTS = ("drop before apply", "drop after apply", "garbage", "bad checksum")


def test_in_process_kills_at_every_step_boundary_with_network_faults(
    sim: IlsSimulator, rng: random.Random, tmp_path: Path
) -> None:
    totals = Totals()
    faults_fired = 0
    for trial in range(IN_PROCESS_TRIALS):
        sim.reset()
        steps = plan(rng, rng.randint(3, 5))
        path = tmp_path / f"in-process-{trial}.sqlite"
        with Journal.open(path) as journal:
            queue(journal, steps)
        fault = None
        if rng.random() < 0.6:
            fault = rng.choice(QUICK_FAULTS)
            code = rng.choice([*sorted({CODES[s.kind] for s in steps}), "17", "63"])
            FAULTS[fault](sim, code, rng.randint(0, 2), rng.choice([1, 1, 2]))
        label = f"trial {trial} (seed {SEED}): {steps}, fault {fault}"
        # Hooks per run: one per transaction answered, two per batch, two per lost answer.
        points = iter([rng.randint(1, 2 * len(steps) + 2), *(rng.choice([None, rng.randint(1, 6)]) for _ in range(40))])
        got = run_incarnations(sim, path, batch=rng.choice([1, 2, 3, 5, 32]), crash_at=points.__next__)
        for name in ("crashes", "runs", "settled", "requeued", "unknown"):
            setattr(totals, name, getattr(totals, name) + getattr(got, name))
        faults_fired += bool(sim.faults.fired)
        sim.faults.reset()
        with Journal.open(path) as journal:
            check_exactly_once(sim, journal, steps, label)
    print(f"in-process: {totals}, trials with a fault that fired: {faults_fired}")
    # The trials did exercise what they claim to: kills, faults, and in-flight transactions found
    # applied as well as not applied.
    assert totals.crashes >= IN_PROCESS_TRIALS // 2, totals
    assert faults_fired >= IN_PROCESS_TRIALS // 5, faults_fired
    assert totals.unknown == 0, totals
    assert totals.settled - totals.requeued >= 20 and totals.requeued >= 20, totals


# --- the fixed matrix of network faults ---------------------------------------------------------------

MATRIX_STEPS = [
    Step(Kind.CHECKOUT, S.AVAILABLE_BOOKS[0], S.PATRON_CLEAN.id),
    Step(Kind.CHECKIN, S.ITEM_RENEWABLE, S.PATRON_VALID.id),
    Step(Kind.RENEW, S.ITEM_OVERDUE, S.PATRON_OVERDUE.id),
    Step(Kind.CHECKOUT, S.AVAILABLE_BOOKS[1], S.PATRON_VALID.id),
    Step(Kind.CHECKIN, S.AVAILABLE_BOOKS[0], S.PATRON_CLEAN.id),
    Step(Kind.CHECKOUT, S.ITEM_RENEWABLE, S.PATRON_OVERDUE.id),
]
_OCCURRENCES = [
    (code, n) for code in ("11", "09", "29")
    for n in range(sum(CODES[s.kind] == code for s in MATRIX_STEPS))
]


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_network_fault_on_any_circulation_message_of_a_batch(sim: IlsSimulator, tmp_path: Path, fault: str) -> None:
    for code, after in _OCCURRENCES:
        sim.reset()
        path = tmp_path / f"{code}-{after}.sqlite"
        with Journal.open(path) as journal:
            queue(journal, MATRIX_STEPS)
        FAULTS[fault](sim, code, after, 1)
        stalls = fault.startswith("stall")
        # A stall ends in the client's timeout; the pause before asking covers a request that was
        # merely slow on a loaded machine.
        run_incarnations(sim, path, batch=32, crash_at=lambda: None, timeout=0.2 if stalls else 2.0,
                         lost_answer_wait=0.25 if stalls else 0.0)
        assert [f.code for f in sim.faults.fired] == [code], f"{fault} on {code} #{after} did not fire"
        sim.faults.reset()
        with Journal.open(path) as journal:
            check_exactly_once(sim, journal, MATRIX_STEPS, f"{fault} on {code} #{after}")


@pytest.mark.parametrize("question", ["17", "63"])
@pytest.mark.parametrize("fault", ["drop before apply", "garbage", "bad checksum"])
def test_a_network_fault_on_the_questions_that_settle_a_lost_answer(
    sim: IlsSimulator, tmp_path: Path, question: str, fault: str
) -> None:
    for code, after in _OCCURRENCES:
        sim.reset()
        path = tmp_path / f"{code}-{after}.sqlite"
        with Journal.open(path) as journal:
            queue(journal, MATRIX_STEPS)
        sim.faults.drop(code=code, after=after, when=When.AFTER_APPLY)  # an answer is lost: ask
        FAULTS[fault](sim, question, 0, 2)  # and the question fails, twice (the client retries once)
        run_incarnations(sim, path, batch=32, crash_at=lambda: None)
        fired = [f.code for f in sim.faults.fired]
        assert code in fired
        if code == "11" or question == "17":  # a checkin/renewal is settled by 17 alone, without 63
            assert question in fired, f"{fault} on {question} after {code} #{after}: {fired}"
        sim.faults.reset()
        with Journal.open(path) as journal:
            check_exactly_once(sim, journal, MATRIX_STEPS, f"{fault} on {question} after {code} #{after}")


# --- real processes, real SIGKILL -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def config_dir(sim: IlsSimulator, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("etc-kiosk")
    host, port = sim.address
    (directory / "kiosk.toml").write_text(
        f'[sip2]\nhost = "{host}"\nport = {port}\ntimeout_seconds = 1.0\n'
        # The killed process's last request has landed long before a new one starts (~0.3 s).
        "[journal]\nlost_answer_wait_seconds = 0.02\nreplay_batch = 2\n"
    )
    return directory


def sync_process(config_dir: Path, path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "kiosk.cli", "sync", "--once", "--config-dir", str(config_dir), "--journal", str(path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def kill(process: subprocess.Popen[bytes]) -> bool:
    """SIGKILL; True if it was still running (the kill landed)."""
    alive = process.poll() is None
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    return alive


def _wait_for(condition: Callable[[], bool], process: subprocess.Popen[bytes], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if process.poll() is not None:
            return False
        time.sleep(0.002)
    return False


@pytest.fixture
def logins(sim: IlsSimulator, monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set when a client logs in to the simulated ILS: the moment a started ``kiosk sync`` is done
    with its imports and begins to work, from which the random kill delays are measured."""
    seen = threading.Event()
    handle = sim.app.handle

    def watching(request: Request, ctx: ConnectionContext) -> HandlerResult:
        if request.code == "93":
            seen.set()
        return handle(request, ctx)

    monkeypatch.setattr(sim.app, "handle", watching)
    return seen


def start_and_kill_soon(config_dir: Path, path: Path, logins: threading.Event, delay: float) -> bool:
    """Start ``kiosk sync``, SIGKILL it ``delay`` seconds after it logged in; True if it was still running."""
    logins.clear()
    process = sync_process(config_dir, path)
    _wait_for(logins.is_set, process)
    time.sleep(delay)
    return kill(process)


def test_sigkill_at_random_moments_and_at_message_boundaries(
    sim: IlsSimulator, rng: random.Random, tmp_path: Path, config_dir: Path, logins: threading.Event
) -> None:
    landed = {"random": 0, "stall before apply": 0, "stall after apply": 0, "while recovering": 0}
    settled_after_kill = 0
    for trial in range(SIGKILL_TRIALS):
        sim.reset()
        steps = plan(rng, rng.randint(3, 5))
        path = tmp_path / f"sigkill-{trial}.sqlite"
        with Journal.open(path) as journal:
            queue(journal, steps)
        label = f"SIGKILL trial {trial} (seed {SEED}): {steps}"
        mode = rng.choice(["random", "stall before apply", "stall after apply"])
        if mode == "random":
            latency = rng.choice([0.002, 0.005, 0.01])  # spreads the work over the kill window
            sim.faults.latency(latency)
            window = len(steps) * (2 * latency + 0.005)
            landed[mode] += start_and_kill_soon(config_dir, path, logins, rng.uniform(0, window))
        else:
            code = rng.choice(sorted({CODES[s.kind] for s in steps}))
            count = sum(CODES[s.kind] == code for s in steps)
            FAULTS[mode](sim, code, rng.randrange(count), 1)
            applied = len(sim.library.ledger())
            process = sync_process(config_dir, path)
            _wait_for(lambda: bool(sim.faults.fired), process)
            if mode == "stall after apply":  # kill once the ILS has applied it, answer not sent
                _wait_for(lambda n=applied: len(sim.library.ledger()) > n, process)
            landed[mode] += kill(process)
        sim.faults.reset()
        sim.faults.latency(0.005)  # recovery takes long enough to be killed in, too
        for _ in range(20):  # restart until done; now and then kill the recovery too
            if rng.random() < 0.3 and start_and_kill_soon(config_dir, path, logins, rng.uniform(0, 0.05)):
                landed["while recovering"] += 1
                continue
            process = sync_process(config_dir, path)
            code = process.wait(timeout=30)
            assert code in (0, -signal.SIGKILL), process.stderr.read().decode() if process.stderr else code
            if code == 0:
                break
        else:
            raise AssertionError(f"{label}: queue not empty after 20 restarts")
        with Journal.open(path) as journal:
            check_exactly_once(sim, journal, steps, label)
            settled_after_kill += sum(1 for t in journal.transactions() if t.resolved_by)
    print(f"SIGKILL: kills that landed {landed}; in-flight transactions settled on restart {settled_after_kill}")
    assert settled_after_kill >= SIGKILL_TRIALS // 2
    assert landed["stall before apply"] + landed["stall after apply"] >= SIGKILL_TRIALS // 3, landed
    assert landed["random"] >= SIGKILL_TRIALS // 6 and landed["while recovering"] >= 3, landed
