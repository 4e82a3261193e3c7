"""A shortened simulated library day (the full day is bench/day.py): the real kiosk process with its
screen offscreen, the real returns bin (``kiosk run --headless``) and the real ``kiosk sync`` for each
journal, against the simulated ILS, reader, scanner and printer; patrons acting only through the
pad, the scanner, the screen's buttons and the printer's paper (tests/soak/soak_day.py).

One pass of the day's fault pattern over 30 sessions and 30 returns-bin drops: a slow ILS (2 s per
message in a library, 0.2 s here, as the whole day is compressed), an ILS outage (patrons served
offline, replayed by ``kiosk sync``), dropped connections, a checkout's and a checkin's answer lost
after the ILS applied them, the pad's reader unplugged mid-session (twice), the printer out of
paper, and SIGKILLs of the self-check kiosk (twice), the returns bin and both ``kiosk sync``
processes, each restarted; during the outage a patron brings a reference copy, whose tag says "not
for circulation", and the kiosk must refuse it. The invariants (tests/soak/soak_invariants.py, and the screen checked
live) must all hold; the figures printed are for reading, never judged here.

``SOAK_SEED=<n>`` replays a day's choices (the moments things happen still vary with the machine).
"""

from __future__ import annotations

import dataclasses
import json
import os

import pytest
from soak_day import Day, DayPlan, DayResult

SEED = int(os.environ.get("SOAK_SEED", "20261127"))
SESSIONS = 30
RETURNS = 30


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> DayResult:
    workdir = tmp_path_factory.mktemp("library-day")
    print(f"simulated library day: SOAK_SEED={SEED}, logs and receipts in {workdir}")
    return Day(workdir, DayPlan(sessions=SESSIONS, returns=RETURNS, seed=SEED, block=SESSIONS)).run()


@pytest.mark.timeout(600)
def test_a_short_library_day_keeps_every_promise(day: DayResult) -> None:
    shown = {k: v for k, v in day.figures.items() if k != "rss_kb"}
    print(json.dumps(shown, indent=1, default=str))
    for finding in day.findings:
        print("finding:", finding)
    assert day.violations == [], "\n".join(day.violations)


@pytest.mark.timeout(600)
def test_the_day_did_what_it_claims(day: DayResult) -> None:
    """Every fault the day names happened, patrons were told things online and offline, paper came
    out, and the returns bin took its drops: a day that skipped its faults would prove nothing."""
    figures = day.figures
    assert figures["sessions"] == SESSIONS and figures["returns"] == RETURNS
    kills = figures["kills"]
    assert kills["selfcheck-kiosk"] >= 2 and kills["returns-kiosk"] >= 1, kills
    assert faults_of(day, "kill kiosk while lending") == 1
    assert kills["selfcheck-sync"] >= 1 and kills["returns-sync"] >= 1, kills
    faults = figures["faults"]
    for window in ("sessions slow", "sessions ils down", "sessions paper out"):
        assert faults.get(window, 0) >= 2, faults
    assert faults.get("unplug reader", 0) >= 2 and faults.get("drop connections", 0) >= 1, faults
    assert figures["fired_at_ils"].get("drop 11 after", 0) >= 1, figures["fired_at_ils"]
    told = figures["told"]
    assert told.get("online", 0) >= 20 and told.get("offline", 0) >= 3, told
    assert figures["reference_copies_refused_offline"] >= 1, [
        (a.session, a.shown, a.message) for a in day.attempts if a.reference]
    assert figures["receipts"] >= 5
    states = figures["journal_states"]
    assert states["selfcheck"].get("replayed", 0) >= 3 and states["returns"].get("confirmed", 0) >= 10, states
    interrupted = [s for s in day.sessions if s.end.startswith("interrupted")]
    assert len(interrupted) >= 1, [s.end for s in day.sessions]  # the kill while lending, at least


def faults_of(day: DayResult, name: str) -> int:
    return int(day.figures["faults"].get(name, 0))


def test_the_invariants_catch_what_they_claim_to(day: DayResult) -> None:
    """The judge itself, on the day's own records with one lie slipped in each time: a told checkout
    removed from the ledger, one applied twice, a receipt naming another session's book, a book shown
    done with its alarm on, a reference copy refused offline shown as lent or refused for another
    reason. Each must be caught."""
    from soak_invariants import judge, parse_receipt

    attempts = day.attempts
    told = next(a for a in attempts if a.told == "online" and a.shown == "done")
    records, receipts, base = day.ledger, day.receipts, day.evidence

    clean, _, _ = judge(ledger=records, receipts=receipts, **base)
    assert clean == []

    missing = [e for e in records if not (e.message == "11" and e.item == told.item and e.applied)]
    violations, _, _ = judge(ledger=missing, receipts=receipts, **base)
    assert any("never applied" in v and told.item in v for v in violations), violations
    assert any("ILS never lent it" in v and told.item in v for v in violations), violations  # its alarm is off

    again = next(e for e in records if e.message == "11" and e.item == told.item and e.applied)
    twice = [*records, dataclasses.replace(again, seq=records[-1].seq + 1)]
    violations, _, _ = judge(ledger=twice, receipts=receipts, **base)
    assert any("applied 2 times" in v for v in violations), violations

    _, listed = parse_receipt(receipts[0])
    first = {base["titles"].get(a.item) for a in attempts} & {title for title, _ in listed}
    sessions = {a.session for a in attempts if base["titles"][a.item] in first}
    other = next(a for a in attempts if a.session not in sessions and a.told)  # another session's book
    forged = [receipts[0] + f"\n{base['titles'][other.item]}\n  due tomorrow\n", *receipts[1:]]
    violations, _, _ = judge(ledger=records, receipts=forged, **base)
    assert any("matches no session" in v for v in violations), violations

    told.security_on_at_lift, saved = True, told.security_on_at_lift
    try:
        violations, _, _ = judge(ledger=records, receipts=receipts, **base)
    finally:
        told.security_on_at_lift = saved
    assert any("alarm still on" in v for v in violations), violations

    reference = next(a for a in attempts if a.reference and a.message == "offline.library_use_only")
    for lie, caught in (({"told": "offline"}, "was lent offline"),
                        ({"message": "offline.checkout_limit"}, "not refused as for use in the library only")):
        saved_fields = {name: getattr(reference, name) for name in lie}
        for name, value in lie.items():
            setattr(reference, name, value)
        try:
            violations, _, _ = judge(ledger=records, receipts=receipts, **base)
        finally:
            for name, value in saved_fields.items():
                setattr(reference, name, value)
        assert any(caught in v and reference.item in v for v in violations), (lie, violations)
