"""The full simulated library day: >= 2,000 patron sessions and >= 2,000 returns-bin drops with faults.

Two days run back to back, each on a fresh world (tests/soak/soak_day.py):

1. the **baseline**: the same driver, the same processes (the self-check kiosk with its screen
   offscreen, the returns bin, a ``kiosk sync`` for each journal), no faults at all;
2. the **day**: the fault pattern repeated every 100 sessions — the ILS slow (2 s per message in a
   library; 0.2 s here, the whole day being compressed about 10x), the ILS down, dropped connections,
   answers lost after the ILS applied them, the pad's reader unplugged, the printer out of paper,
   and SIGKILLs of the self-check kiosk, the returns bin and both ``kiosk sync`` — each restarted.

Printed, each as a ratio against the baseline measured in the same run: patron sessions per hour
sustained (the day's faults against none), returns per hour; the resident memory of every process at
the start (after its first 10 sessions: every screen built, every connection open) and at the end of
the longest-lived incarnation (end / start: no growth means about 1.0); the journals' size after
retention (0 days: patron ids masked as soon as a transaction settles, then a last
``kiosk sync --once``), per transaction. Then the invariants (tests/soak/soak_invariants.py): the run
fails if any was violated.

Run: ``.venv/bin/python bench/day.py [--sessions 2000] [--returns 2000] [--baseline 200]
[--minutes M] [--seed N] [--workdir DIR]``. ``--minutes`` stops the day's sessions after M minutes
(the returns bin then takes its share for the sessions that ran), for a machine that cannot give it
the hour or so a full day takes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "soak"))

from soak_day import Day, DayPlan, DayResult  # noqa: E402

#: Samples into an incarnation taken as its start: every screen built, every connection open.
WARM = 10


def rss_span(samples: dict[int, list[int]]) -> tuple[int, int, int, int]:
    """(start kB, end kB, samples, incarnation) of the incarnation that lived longest."""
    incarnation, values = max(samples.items(), key=lambda item: len(item[1]))
    start = values[min(WARM, len(values) - 1)]
    return start, values[-1], len(values), incarnation


#: Sessions grouped by the fault they ran into (a session may be in more than one group).
WINDOWS = (
    ("no fault", lambda faults: not faults),
    ("ILS slow (0.2 s per message)", lambda faults: "slow" in faults),
    ("ILS down (served offline)", lambda faults: "ils down" in faults),
    ("printer out of paper", lambda faults: "paper out" in faults),
    ("kiosk killed and restarted", lambda faults: any(f.startswith("kill kiosk") for f in faults)),
    ("reader unplugged", lambda faults: "unplug reader" in faults),
)


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.2f}" if values else "-"


def load_average() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def run_day(workdir: Path, plan: DayPlan, label: str) -> tuple[DayResult, float]:
    print(f"{label}: {plan.sessions} sessions, {plan.returns} returns, faults {'on' if plan.faults else 'off'} "
          f"(logs in {workdir}); load average {load_average()}", flush=True)
    started = time.monotonic()
    result = Day(workdir, plan, say=print).run()
    print(f"{label}: done in {time.monotonic() - started:.0f} s; load average {load_average()}", flush=True)
    return result, time.monotonic() - started


def report(baseline: DayResult, day: DayResult, wall: dict[str, float]) -> dict[str, Any]:
    b, d = baseline.figures, day.figures
    print()
    print("| | baseline (no faults) | the day (faults) | ratio |")
    print("|---|---|---|---|")
    print(f"| patron sessions | {b['sessions']} | {d['sessions']} | |")
    print(f"| returns-bin drops | {b['returns']} | {d['returns']} | |")
    print(f"| sessions per hour, sustained | {b['sessions_per_hour']:,} | {d['sessions_per_hour']:,} | "
          f"{d['sessions_per_hour'] / b['sessions_per_hour']:.2f} |")
    print(f"| returns per hour | {b['returns_per_hour']:,} | {d['returns_per_hour']:,} | "
          f"{d['returns_per_hour'] / b['returns_per_hour']:.2f} |")
    seconds = [s.seconds for s in day.sessions]
    base_seconds = [s.seconds for s in baseline.sessions]
    print(f"| seconds per session, median / p95 | {statistics.median(base_seconds):.2f} / "
          f"{sorted(base_seconds)[int(0.95 * len(base_seconds))]:.2f} | {statistics.median(seconds):.2f} / "
          f"{sorted(seconds)[int(0.95 * len(seconds))]:.2f} | |")
    print()
    print("| process | baseline RSS start → end (MB) | end/start | the day: longest incarnation start → end (MB) "
          "| end/start | incarnations (kills) |")
    print("|---|---|---|---|---|---|")
    rss: dict[str, Any] = {}
    for name in b["rss_kb"]:
        b_start, b_end, b_n, _ = rss_span(b["rss_kb"][name])
        d_start, d_end, d_n, _ = rss_span(d["rss_kb"][name])
        rss[name] = {"baseline": [b_start, b_end, b_n], "day": [d_start, d_end, d_n]}
        print(f"| {name} | {b_start / 1024:.1f} → {b_end / 1024:.1f} | {b_end / b_start:.3f} | "
              f"{d_start / 1024:.1f} → {d_end / 1024:.1f} ({d_n} samples) | {d_end / d_start:.3f} | "
              f"{d['incarnations'][name]} ({d['kills'][name]}) |")
    print()
    for name in ("selfcheck-kiosk", "returns-kiosk"):
        _, values = max(b["rss_kb"][name].items(), key=lambda item: len(item[1]))
        marks = sorted({m for m in (WARM, 50, 100, 200, 300, 400, 600, 800, 1000, len(values)) if m <= len(values)})
        trend = ", ".join(f"{m}: {values[m - 1] / 1024:.1f}" for m in marks)
        print(f"baseline {name} RSS (MB) after N sessions: {trend}")
    print()
    print("| journal after retention (0 days) | baseline | the day |")
    print("|---|---|---|")
    for name in ("selfcheck", "returns"):
        cells = []
        for figures in (b, d):
            size, rows = figures["journal_bytes"][name], figures["journal_rows"][name]
            cells.append(f"{size['db'] / 1024:.0f} KiB file ({size['db'] / max(rows, 1):.0f} B per transaction, "
                         f"{rows} transactions) + {size['wal'] / 1024:.0f} KiB WAL")
        print(f"| {name} | {cells[0]} | {cells[1]} |")
    print()
    print("| median seconds per session, by what the session ran into | baseline | the day |")
    print("|---|---|---|")
    for label, test in WINDOWS:
        base = [s.seconds for s in baseline.sessions if test(s.faults)]
        ours = [s.seconds for s in day.sessions if test(s.faults)]
        print(f"| {label} | {_median(base)} | {_median(ours)} ({len(ours)} sessions) |")
    print()
    print(f"the day's faults: {json.dumps(d['faults'])}")
    print(f"fired at the ILS: {json.dumps(d['fired_at_ils'])}")
    print(f"told: baseline {b['told']}, the day {d['told']}; receipts {b['receipts']} / {d['receipts']}; "
          f"applied as the kiosk was killed, before the screen said so: {d['applied_not_told_when_killed']}")
    print(f"journal states: baseline {b['journal_states']}, the day {d['journal_states']}")
    print(f"wall time: baseline {wall['baseline']:.0f} s, the day {wall['day']:.0f} s")
    for label, result in (("baseline", baseline), ("the day", day)):
        print(f"{label}: {len(result.violations)} invariant violations, {len(result.findings)} findings")
        for line in result.violations[:30]:
            print(f"  VIOLATION {line[:2000]}")
        for line in result.findings[:30]:
            print(f"  finding {line[:500]}")
    sessions = {label: [{"index": s.index, "seconds": round(s.seconds, 2), "faults": s.faults, "end": s.end}
                        for s in result.sessions] for label, result in (("baseline", baseline), ("day", day))}
    return {"baseline": dict(b), "day": dict(d), "rss": rss, "sessions": sessions,
            "wall_seconds": wall, "violations": {"baseline": baseline.violations, "day": day.violations},
            "findings": {"baseline": baseline.findings, "day": day.findings}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--returns", type=int, default=2000)
    parser.add_argument("--baseline", type=int, default=200, help="sessions (and drops) of the no-fault baseline")
    parser.add_argument("--minutes", type=float, default=None, help="stop the day's sessions after this long")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", default=None, help="keep logs, receipts and journals here")
    args = parser.parse_args(argv)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="kiosk-day-"))
    workdir.mkdir(parents=True, exist_ok=True)
    wall: dict[str, float] = {}
    baseline, wall["baseline"] = run_day(workdir / "baseline", DayPlan(
        sessions=args.baseline, returns=args.baseline, seed=args.seed, faults=False), "baseline")
    day, wall["day"] = run_day(workdir / "day", DayPlan(
        sessions=args.sessions, returns=args.returns, seed=args.seed, faults=True, block=100,
        deadline_seconds=args.minutes * 60 if args.minutes else None), "the day")
    summary = report(baseline, day, wall)
    (workdir / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    print(f"summary: {workdir / 'summary.json'}")
    return 1 if baseline.violations or day.violations else 0


if __name__ == "__main__":
    sys.exit(main())
