"""Crash tests for the kiosk process: kill it anywhere while patrons check out, return and renew, online
and offline; restart it (its ``open()`` settles what it left in flight), replay the queue, and let the
simulated ILS's ledger judge. The invariant, per trial:

* every transaction the patron was told about (confirmed, or "recorded offline") is applied exactly once;
* no transaction is applied twice;
* nothing is applied that the journal does not hold as applied (confirmed online or replayed), and
  every row the journal holds as applied is in the ledger: the journal tells the truth.

Two drivers of the same steps (``kiosk_crash_driver.play``):

* in-process (most trials, ~50 ms each): the gateway "dies" at the n-th boundary (a step begun;
  ``intent``: intent on disk, request not sent; ``answered``: the ILS answered, outcome not written;
  ``told``: outcome written, patron not told) by a :class:`Crash` raised out of it; its sockets and
  journal are closed as the kernel would, and a new gateway restarts on the same journal. Offline
  stretches: the ILS refuses logins (the gateway's unreachable), often switched mid-trial; between
  incarnations a replay sometimes runs while the kiosk is down;
* real processes (``SIGKILL_TRIALS``): ``kiosk_crash_driver.py`` killed with SIGKILL after a random
  delay, exactly at a boundary (it pauses there and says so), or with its request held by the
  simulated ILS (stalled before or after applying it); then restarted from the next step, sometimes
  killed again while it recovers.

Each step has its own item (checkouts of items on the shelf, checkins and renewals of items on loan),
so a step lost in a crash leaves the others valid. The seed is printed; KIOSK_CRASH_SEED=<n> replays.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import kiosk_crash_driver as driver
import pytest

from hardware_mocks.ils import IlsSimulator, When
from hardware_mocks.ils import scenarios as S
from kiosk.config import OfflineSettings
from kiosk.ils.journaled import JournaledGateway
from kiosk.ils.offline import Reachability
from kiosk.sync.journal import Journal, Kind, State
from kiosk.sync.replay import Replayer, ReplayOptions
from sip2.client import ClientConfig, SIP2Client, SIP2Pool
from sip2.dialects import get_dialect
from sip2.errors import SIP2Error

SEED = int(os.environ.get("KIOSK_CRASH_SEED", "2718"))
IN_PROCESS_TRIALS = 200
SIGKILL_TRIALS = int(os.environ.get("KIOSK_CRASH_SIGKILL_TRIALS", "30"))
DRIVER = Path(driver.__file__)
CODES = {"checkout": "11", "checkin": "09", "renew": "29"}
KINDS = {Kind.CHECKOUT: "11", Kind.CHECKIN: "09", Kind.RENEW: "29"}
APPLIED_STATES = {State.CONFIRMED, State.REPLAYED}
#: Items on loan in the sample library, with their borrower.
ON_LOAN = {
    S.ITEM_RENEWABLE: S.PATRON_VALID,
    S.ITEM_HOLD_HERE: S.PATRON_VALID,
    S.ITEM_TRANSIT: S.PATRON_VALID,
    S.ITEM_OVERDUE: S.PATRON_OVERDUE,
    S.ITEM_OVERDUE_DVD: S.PATRON_OVERDUE,
    S.ITEM_LOAN_NO_RENEWALS: S.PATRON_NO_RENEWALS,
}
BORROWERS = (S.PATRON_CLEAN, S.PATRON_VALID)
OFFLINE = OfflineSettings(mode="checkin_and_checkout", max_checkouts=100, probe_min_seconds=0.001,
                          probe_max_seconds=0.002)


def plan(rng: random.Random, size: int) -> list[dict[str, str]]:
    shelf = list(S.AVAILABLE_BOOKS[:12])
    loans = dict(ON_LOAN)
    steps = []
    for _ in range(size):
        kind = rng.choice(["checkout", "checkout", "checkin", "renew"] if loans else ["checkout"])
        if kind == "checkout":
            item = shelf.pop(rng.randrange(len(shelf)))
            patron = rng.choice(BORROWERS)
        else:
            item = rng.choice(sorted(loans))
            patron = loans.pop(item)
        steps.append({"kind": kind, "item": item, "patron": patron.id, "pin": patron.pin})
    return steps


class Crash(BaseException):
    """The kiosk 'process' dies here (BaseException: nothing in the gateway may catch it)."""


@dataclass
class Tally:
    told: dict[int, str] = field(default_factory=dict)  # step -> online / offline
    last_begun: int = -1

    def say(self, line: str) -> None:
        word, *rest = line.split()
        if word == "BEGIN":
            self.last_begun = int(rest[0])
        elif word == "TOLD":
            self.told[int(rest[0])] = rest[1]


def check_invariant(sim: IlsSimulator, path: Path, steps: list[dict[str, str]], told: dict[int, str],
                    label: str) -> Counter[str]:
    applied = Counter((e.message, e.item) for e in sim.library.ledger() if e.applied and e.message in KINDS.values())
    with Journal.open(path) as journal:
        rows = journal.transactions()
    states = Counter(t.state.value for t in rows)
    assert not {t.state for t in rows} & {State.SENDING, State.QUEUED, State.UNKNOWN, State.REJECTED}, (
        f"{label}: journal left unsettled or for staff: {states}")
    journaled = Counter((KINDS[t.kind], t.item_id) for t in rows if t.state in APPLIED_STATES)
    assert max(applied.values(), default=0) <= 1, f"{label}: applied twice: {applied}"
    assert applied == journaled, f"{label}: ledger {applied} differs from the journal's applied rows {journaled}"
    for i in told:
        key = (CODES[steps[i]["kind"]], steps[i]["item"])
        assert applied[key] == 1, f"{label}: step {i} {steps[i]} was told ({told[i]}) but applied {applied[key]}x"
    return states


def replay_until_empty(sim: IlsSimulator, path: Path, label: str) -> None:
    for _ in range(10):
        with Journal.open(path) as journal:
            assert journal.own("sync")
            client = client_for(sim, 2.0)
            try:
                Replayer(journal, client, get_dialect("generic"), ReplayOptions(lost_answer_wait=0.0)).drain()
            except SIP2Error:
                continue
            finally:
                client.close()
            if journal.backlog() == 0 and not journal.in_flight():
                return
    raise AssertionError(f"{label}: queue not empty after 10 replays")


def client_config(sim: IlsSimulator, timeout: float) -> ClientConfig:
    return ClientConfig(host=sim.host, port=sim.port, username=S.LOGIN_USER, password=S.LOGIN_PASSWORD,
                        institution_id=S.INSTITUTION, timeout=timeout, connect_timeout=1.0, heartbeat_interval=3600)


def client_for(sim: IlsSimulator, timeout: float) -> SIP2Client:
    return SIP2Client(client_config(sim, timeout))


def set_offline(sim: IlsSimulator, offline: bool) -> None:
    """The ILS away (logins refused, connections dropped) or back."""
    sim.faults.reject_logins = offline
    if offline:
        sim.drop_connections()


@pytest.fixture(scope="module")
def sim() -> Iterator[IlsSimulator]:
    with IlsSimulator() as server:
        yield server


@pytest.fixture(scope="module")
def rng() -> random.Random:
    print(f"kiosk crash tests: KIOSK_CRASH_SEED={SEED}")
    return random.Random(SEED)


# --- in-process: the gateway dies at a boundary ---------------------------------------------------------


def incarnation(sim: IlsSimulator, path: Path, steps: list[dict[str, str]], tally: Tally, crash_at: int | None,
                offline_switch: dict[int, bool]) -> str | None:
    """One life of the kiosk; the boundary it died at, or None if it finished."""
    seen = 0

    def hook(boundary: str, step: int) -> None:
        nonlocal seen
        seen += 1
        if seen == crash_at:
            raise Crash(boundary)

    def say(line: str) -> None:
        if line.startswith("BEGIN"):
            step = int(line.split()[1])
            if step in offline_switch:
                set_offline(sim, offline_switch[step])
            hook("begun", step)
        tally.say(line)

    journal = Journal.open(path)
    gateway = JournaledGateway(SIP2Pool(client_config(sim, 2.0), size=1), journal, OFFLINE,
                               reachability=Reachability(probe_min=0.001, probe_max=0.002))
    online = driver.hooked(gateway, hook)
    try:
        gateway.open()
        driver.play(gateway, online, steps, tally.last_begun + 1, say, hook)
        return None
    except Crash as crash:
        return str(crash)
    finally:
        gateway.close()  # as the kernel closes a dead process's socket and drops its flock
        journal.close()


def test_in_process_kiosk_killed_at_every_boundary_online_and_offline(
    sim: IlsSimulator, rng: random.Random, tmp_path: Path
) -> None:
    deaths: Counter[str] = Counter()
    told: Counter[str] = Counter()
    states: Counter[str] = Counter()
    replays_between = 0
    for trial in range(IN_PROCESS_TRIALS):
        sim.reset()
        steps = plan(rng, rng.randint(4, 6))
        path = tmp_path / f"in-process-{trial}.sqlite"
        label = f"trial {trial} (seed {SEED}): {steps}"
        # The ILS goes away before some step, and sometimes comes back before a later one.
        switch: dict[int, bool] = {}
        if rng.random() < 0.5:
            away = rng.randrange(len(steps))
            switch[away] = True
            if rng.random() < 0.5 and away + 1 < len(steps):
                switch[rng.randrange(away + 1, len(steps))] = False
        tally = Tally()
        for _ in range(20):
            died = incarnation(sim, path, steps, tally, rng.randint(1, 3 * len(steps)) if rng.random() < 0.8
                               else None, switch)
            if died is None:
                break
            deaths[died] += 1
            if rng.random() < 0.3:  # kiosk sync runs while the kiosk is down
                set_offline(sim, False)
                replay_until_empty(sim, path, label)
                replays_between += 1
        else:
            raise AssertionError(f"{label}: the kiosk did not finish in 20 lives")
        set_offline(sim, False)
        replay_until_empty(sim, path, label)
        states += check_invariant(sim, path, steps, tally.told, label)
        told.update(tally.told.values())
    print(f"in-process: deaths {dict(deaths)}, told {dict(told)}, journal {dict(states)}, "
          f"replays while the kiosk was down {replays_between}")
    # The trials did what they claim: deaths at each boundary, patrons told online and offline, rows
    # settled both ways.
    assert all(deaths[b] >= 20 for b in ("begun", "intent", "answered", "told")), deaths
    assert told["online"] >= 100 and told["offline"] >= 50, told
    assert states["failed"] >= 20 and states["replayed"] >= 50 and states["confirmed"] >= 100, states


# --- real processes, real SIGKILL -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def config_dir(sim: IlsSimulator, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("etc-kiosk")
    (directory / "kiosk.toml").write_text(
        f'[sip2]\nhost = "{sim.host}"\nport = {sim.port}\ntimeout_seconds = 1.0\n'
        # A killed process's stalled request is released (not applied) before the restart asks.
        "[journal]\nlost_answer_wait_seconds = 0.02\n"
        '[offline]\nmode = "checkin_and_checkout"\nmax_checkouts = 100\n'
        "probe_min_seconds = 0.001\nprobe_max_seconds = 0.002\n"
    )
    return directory


class Kiosk:
    """A running driver process, its stdout read line by line on a thread."""

    def __init__(self, config_dir: Path, path: Path, plan_file: Path, start: int, pause_at: int = 0) -> None:
        self.lines: list[str] = []
        self._new = threading.Condition()
        self.process = subprocess.Popen(
            [sys.executable, str(DRIVER), "--config-dir", str(config_dir), "--journal", str(path),
             "--plan", str(plan_file), "--start", str(start), "--pause-at", str(pause_at)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._new:
                self.lines.append(line.strip())
                self._new.notify_all()
        with self._new:
            self._new.notify_all()

    def wait_for(self, prefix: str, timeout: float = 15.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._new:
            while not any(line.startswith(prefix) for line in self.lines):
                if self.process.poll() is not None and not self._reader.is_alive():
                    return False
                if not self._new.wait(max(0.0, deadline - time.monotonic())):
                    return False
        return True

    def kill(self) -> bool:
        """SIGKILL; True if it was still running."""
        alive = self.process.poll() is None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self._reader.join(timeout=10)
        return alive

    def finish(self) -> int:
        code = self.process.wait(timeout=60)
        self._reader.join(timeout=10)
        return code

    def stderr(self) -> str:
        return self.process.stderr.read() if self.process.stderr else ""

    def feed(self, tally: Tally) -> None:
        for line in self.lines:
            tally.say(line)


def test_sigkill_of_the_kiosk_process_at_random_moments_and_boundaries(
    sim: IlsSimulator, rng: random.Random, tmp_path: Path, config_dir: Path
) -> None:
    landed: Counter[str] = Counter()
    settled_at_restart = 0
    told: Counter[str] = Counter()
    durations: Counter[str] = Counter()
    for trial in range(SIGKILL_TRIALS):
        sim.reset()
        steps = plan(rng, rng.randint(3, 5))
        path = tmp_path / f"sigkill-{trial}.sqlite"
        plan_file = tmp_path / f"plan-{trial}.json"
        plan_file.write_text(json.dumps(steps))
        started = time.monotonic()
        label = f"SIGKILL trial {trial} (seed {SEED}): {steps}"
        offline = rng.random() < 0.25
        set_offline(sim, offline)
        mode = rng.choice(["random", "pause", "stall before apply", "stall after apply"] if not offline
                          else ["random", "pause"])
        tally = Tally()
        if mode == "random":
            sim.faults.latency(rng.choice([0.002, 0.005, 0.01]))
            kiosk = Kiosk(config_dir, path, plan_file, 0)
            assert kiosk.wait_for("READY"), kiosk.stderr()
            time.sleep(rng.uniform(0, len(steps) * 0.03))
            landed[mode] += kiosk.kill()
        elif mode == "pause":
            kiosk = Kiosk(config_dir, path, plan_file, 0, pause_at=rng.choice([1, 2, 1, 2, 3, 4, 5]))
            if kiosk.wait_for("PAUSED"):
                landed["pause " + next(ln for ln in kiosk.lines if ln.startswith("PAUSED")).split()[1]] += 1
            kiosk.kill()
        else:
            codes = [CODES[s["kind"]] for s in steps]
            code = rng.choice(sorted(set(codes)))
            when = When.BEFORE_APPLY if mode == "stall before apply" else When.AFTER_APPLY
            sim.faults.stall(code=code, after=rng.randrange(codes.count(code)), when=when)
            before = len(sim.library.ledger())
            kiosk = Kiosk(config_dir, path, plan_file, 0)
            deadline = time.monotonic() + 3
            while not sim.faults.fired and kiosk.process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.002)
            if when is When.AFTER_APPLY:  # the ILS applied it; the answer is held
                while len(sim.library.ledger()) == before and time.monotonic() < deadline:
                    time.sleep(0.002)
            alive = kiosk.kill()
            landed[mode] += bool(sim.faults.fired) and alive
        kiosk.feed(tally)
        sim.faults.reset()  # a stalled request is released unapplied (before) or was applied (after)
        for _ in range(10):  # restart from the next step until the plan is done; now and then kill it again
            set_offline(sim, offline and rng.random() < 0.5)
            kiosk = Kiosk(config_dir, path, plan_file, tally.last_begun + 1)
            if rng.random() < 0.25 and kiosk.wait_for("READY"):
                time.sleep(rng.uniform(0, 0.05))
                landed["while recovering"] += kiosk.kill()
                kiosk.feed(tally)
                continue
            code = kiosk.finish()
            kiosk.feed(tally)
            assert code == 0, kiosk.stderr()
            break
        else:
            raise AssertionError(f"{label}: the kiosk did not finish in 10 restarts")
        set_offline(sim, False)
        replay_until_empty(sim, path, label)
        check_invariant(sim, path, steps, tally.told, label)
        told.update(tally.told.values())
        durations[mode] += time.monotonic() - started
        with Journal.open(path) as journal:
            settled_at_restart += sum(1 for t in journal.transactions() if t.resolved_by)
    print(f"SIGKILL: kills that landed {dict(landed)}; told {dict(told)}; "
          f"in-flight rows settled after a kill {settled_at_restart}; seconds per mode "
          f"{ {m: round(t, 1) for m, t in durations.items()} }")
    assert landed["random"] >= 1 and landed["while recovering"] >= 2, landed
    assert landed["pause intent"] + landed["pause answered"] >= 4, landed
    assert landed["stall before apply"] >= 2 and landed["stall after apply"] >= 2, landed
    assert settled_at_restart >= 10 and told["online"] >= 30 and told["offline"] >= 5, (settled_at_restart, told)
