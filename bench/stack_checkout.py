"""A stack of 10 books checked out at once: sequential (1 SIP2 session) against the pool (4 sessions).

The whole kiosk runs as in production: the patron session machine and the runner, the SIP2 gateway
over the real client to the simulated ILS (every message answered after 40 ms, ``faults.latency``),
the FEIG driver and the tag watcher on the simulated reader (a real pty), and the security writes
with read-back. A patron is identified (RFID card); then 10 tagged books go on the pad.

Measured, per trial: from the moment the watcher reports the stack (StackStable, fed to the runner)
to the step in which the last of the 10 rows is "done" (the ILS confirmed it and its security was
written and read back). The time the watcher needs to see the stack is bench/feig_stack.py's
figure and is printed apart.

Baselines, each printed as a ratio: the floor, which is the ILS time alone (10 x 40 ms when one
session carries the checkouts one after another; ceil(10/4) x 40 ms when 4 carry them in parallel),
and the sequential run against the pooled one (goal: the pool >= 2.5x faster; each <= 1.15x its floor).

Run: ``.venv/bin/python bench/stack_checkout.py [--trials N]``
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hardware_mocks.ils import IlsSimulator
from hardware_mocks.ils import scenarios as S
from hardware_mocks.pad import VirtualPad
from kiosk.circulation.events import PadChanged, Pressed
from kiosk.circulation.rows import RowState
from kiosk.circulation.session import PatronSessionMachine, Phase, SessionState
from kiosk.config import CirculationSettings
from kiosk.hardware.rfid.readers.feig import FeigReader
from kiosk.hardware.rfid.readers.shared import SharedReader
from kiosk.hardware.rfid.security import SecurityScheme
from kiosk.hardware.rfid.watcher import StackStable, TagWatcher
from kiosk.ils.gateway import SipGateway
from kiosk.runner import Runner
from kiosk.shell.inputs import event_for_watcher
from kiosk.shell.tag_security import TagSecurity
from sip2.client import ClientConfig, SIP2Client, SIP2Pool

STACK = 10
LATENCY = 0.040
BOOKS = S.AVAILABLE_BOOKS[:STACK]
PATRON = S.PATRON_CLEAN
WAIT = 30.0


class Clocked:
    """The runner's hooks for the bench: when the full stack was handed over, when its rows were done."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.placed = 0.0
        self.stable = 0.0  # the first StackStable with items, handed to the runner
        self.done = 0.0

    def reset(self) -> None:
        with self.lock:
            self.placed = self.stable = self.done = 0.0

    def on_watcher(self, runner: Runner, event: object) -> None:
        converted = event_for_watcher(event)  # type: ignore[arg-type]
        if converted is None:
            return
        if isinstance(event, StackStable) and event.stack.items:  # the first view of the stack it acts on
            with self.lock:
                if not self.stable:
                    self.stable = time.perf_counter()
        runner.submit(converted)

    def on_step(self, event: object, state: SessionState, commands: object) -> None:
        if isinstance(event, PadChanged) or self.done:
            return
        if len(state.rows) == STACK and all(r.state is RowState.DONE for r in state.rows):
            with self.lock:
                self.done = time.perf_counter()


def run(sessions: int, trials: int, sim: IlsSimulator) -> tuple[list[float], list[float]]:
    """(stack handed over -> all secured, tags placed -> stack handed over) per trial."""
    host, port = sim.address
    config = ClientConfig(host=host, port=port, username=S.LOGIN_USER, password=S.LOGIN_PASSWORD,
                          institution_id=S.INSTITUTION, timeout=5.0, heartbeat_interval=3600)
    scheme = SecurityScheme()
    clocked = Clocked()
    pad = VirtualPad(scheme=scheme).start()
    reader = SharedReader(FeigReader(pad.path))
    gateway = SipGateway(SIP2Pool(config, size=sessions))
    machine = PatronSessionMachine(CirculationSettings(pin_required=False, receipt="never"))
    runner = Runner(machine, gateway=gateway, tags=TagSecurity(reader, scheme), on_step=clocked.on_step).start()
    watcher = TagWatcher(reader, on_event=lambda e: clocked.on_watcher(runner, e)).start()
    secured, seen = [], []
    try:
        assert runner.wait_idle(WAIT)  # the pool's sessions are connected and logged in
        for _ in range(trials):
            clocked.reset()
            pad.place_patron_card(PATRON.id)
            runner.wait_for(lambda s: s.phase is Phase.ACTIVE, WAIT)
            clocked.placed = time.perf_counter()
            for book in BOOKS:
                pad.place_item(book)
            runner.wait_for(lambda s: len(s.rows) == STACK and all(r.state is RowState.DONE for r in s.rows), WAIT)
            with clocked.lock:
                secured.append(clocked.done - clocked.stable)
                seen.append(clocked.stable - clocked.placed)
            # Untimed: the patron leaves, and the books go back on the shelf for the next trial.
            runner.submit(Pressed("finish"))
            runner.wait_for(lambda s: s.phase is Phase.IDLE, WAIT)
            pad.clear()
            runner.wait_for(lambda s: not s.pad.items and not s.card_on_pad, WAIT)
            with SIP2Client(config) as client:
                for book in BOOKS:
                    assert client.checkin(book).ok
    finally:
        watcher.stop()
        runner.close()
        gateway.close()
        pad.stop()
    return secured, seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=7)
    args = parser.parse_args()
    with IlsSimulator() as sim:
        sim.faults.latency(LATENCY)
        sequential, seen_1 = run(1, args.trials, sim)
        pooled, seen_4 = run(4, args.trials, sim)
    floor_1 = STACK * LATENCY
    floor_4 = math.ceil(STACK / 4) * LATENCY
    seq, pool = statistics.median(sequential), statistics.median(pooled)
    print(f"{STACK} books on the pad, ILS answering every message after {LATENCY * 1000:.0f} ms; "
          f"median of {args.trials} trials (min / max)")
    print("stack handed to the runner -> every row done (ILS confirmed + security written and read back):")
    print(f"  sequential, 1 session:  {seq * 1000:6.1f} ms ({min(sequential) * 1000:.1f} / "
          f"{max(sequential) * 1000:.1f})  floor {floor_1 * 1000:.0f} ms  ratio {seq / floor_1:.2f}  (goal <= 1.15)")
    print(f"  pool, 4 sessions:       {pool * 1000:6.1f} ms ({min(pooled) * 1000:.1f} / "
          f"{max(pooled) * 1000:.1f})  floor {floor_4 * 1000:.0f} ms  ratio {pool / floor_4:.2f}  (goal <= 1.15)")
    print(f"  pool speed-up over sequential: {seq / pool:.2f}x  (goal >= 2.5x)")
    seen = statistics.median(seen_1 + seen_4)
    print(f"not in the figures above: tags placed -> stack reported by the watcher, median {seen * 1000:.1f} ms")


if __name__ == "__main__":
    main()
