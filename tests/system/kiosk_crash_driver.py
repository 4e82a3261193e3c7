"""A kiosk process for the crash tests (tests/system/test_kiosk_crash.py): patron transactions through
the journaled gateway, told to the patron one line at a time, so a SIGKILL can land anywhere.

Run as ``python tests/system/kiosk_crash_driver.py --config-dir DIR --journal PATH --plan PLAN.json
[--start N] [--pause-at K]``. It builds the gateway the kiosk runs on
(:meth:`JournaledGateway.from_settings`), opens it (which settles what a killed predecessor left in
flight), prints ``READY``, then for each step of the plan from ``N`` on prints ``BEGIN i`` and, once
the patron was told the transaction happened (confirmed, or recorded offline), ``TOLD i online`` or
``TOLD i offline``; every line flushed before the next step, as a screen would show it.

``--pause-at K`` stops the process at the K-th boundary (``intent``: the intent is on disk, the
request not sent; ``answered``: the ILS answered, the outcome not written; ``told``: the outcome
written, the patron not told yet), after printing ``PAUSED <boundary> i``: the test SIGKILLs it
there. The test process imports :func:`play` to run the same steps in-process with a crash instead.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiosk.circulation.commands import CheckIn, CheckOut, Renew
from kiosk.circulation.events import LoanAnswered, ReturnAnswered
from kiosk.config import load_settings
from kiosk.ils.gateway import SipGateway
from kiosk.ils.journaled import JournaledGateway

#: A boundary hook: called with the boundary's name and the step index.
Hook = Callable[[str, int], None]


class HookedSipGateway(SipGateway):
    """SIP2 as usual, with the boundaries around each circulation request reported to ``hook``:
    what the journaled gateway calls here runs after its intent is on disk and before its outcome is."""

    def __init__(self, *args: Any, hook: Hook, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hook = hook
        self.step = -1

    def _around(self, send: Callable[[Any], Any], command: Any) -> Any:
        self.hook("intent", self.step)
        answer = send(command)
        self.hook("answered", self.step)
        return answer

    def check_out(self, command: CheckOut) -> Any:
        return self._around(super().check_out, command)

    def check_in(self, command: CheckIn) -> Any:
        return self._around(super().check_in, command)

    def renew(self, command: Renew) -> Any:
        return self._around(super().renew, command)


def hooked(gateway: JournaledGateway, hook: Hook) -> HookedSipGateway:
    """Swap ``gateway``'s SIP2 gateway for a hooked one over the same pool."""
    online = HookedSipGateway(gateway._pool, hook=hook)
    gateway._online = online
    return online


def told(answer: object) -> str | None:
    """``online`` / ``offline`` if the patron was told the transaction happened, else None."""
    if isinstance(answer, LoanAnswered | ReturnAnswered) and answer.answer.ok:
        return "offline" if answer.answer.offline else "online"
    return None


def play(gateway: JournaledGateway, online: HookedSipGateway, steps: list[dict[str, str]], start: int,
         say: Callable[[str], None], hook: Hook) -> None:
    """Run ``steps[start:]``; ``say`` a line per step begun and per transaction told."""
    for i in range(start, len(steps)):
        step = steps[i]
        online.step = i
        say(f"BEGIN {i}")
        ref = f"step-{i}"
        if step["kind"] == "checkout":
            answer: object = gateway.check_out(CheckOut(ref, step["patron"], step["item"], step["pin"]))
        elif step["kind"] == "checkin":
            answer = gateway.check_in(CheckIn(ref, step["item"]))
        else:
            answer = gateway.renew(Renew(ref, step["patron"], step["item"], step["pin"]))
        how = told(answer)
        if how is not None:
            hook("told", i)
            say(f"TOLD {i} {how}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config-dir", required=True)
    parser.add_argument("--journal", required=True)
    parser.add_argument("--plan", required=True)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--pause-at", type=int, default=0)
    args = parser.parse_args(argv)
    settings = load_settings(config_dir=args.config_dir, secrets_path=Path(args.config_dir) / "none.toml")
    settings = dataclasses.replace(settings, journal=dataclasses.replace(settings.journal, path=args.journal))
    steps = json.loads(Path(args.plan).read_text())
    seen = 0

    def say(line: str) -> None:
        print(line, flush=True)

    def hook(boundary: str, step: int) -> None:
        nonlocal seen
        seen += 1
        if seen == args.pause_at:
            say(f"PAUSED {boundary} {step}")
            time.sleep(3600)  # until the SIGKILL

    gateway = JournaledGateway.from_settings(settings)
    online = hooked(gateway, hook)
    gateway.open()
    say("READY")
    try:
        play(gateway, online, steps, args.start, say, hook)
    finally:
        gateway.close()
    say("DONE")
    return 0


if __name__ == "__main__":
    sys.exit(main())
