"""Metrics and /healthz: what the runner's steps, the health registry and the journal become, and a
whole station scraped after patron sessions, with nothing personal in either answer."""

from __future__ import annotations

import json
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from hardware_mocks.ils import scenarios as S
from kiosk.assembly import Station, wait_until
from kiosk.circulation.commands import CheckIn, CheckOut, LookUpPatron, PrintReceipt
from kiosk.circulation.events import (
    BinFull,
    DeviceStatus,
    GateAlarm,
    GateOpened,
    IlsFailed,
    IlsHealth,
    LoanAnswered,
    PatronLookedUp,
    PinEntered,
    Pressed,
    ReturnAnswered,
)
from kiosk.circulation.model import Failure, FailureKind, LoanAnswer, PatronAccount, ReturnAnswer
from kiosk.circulation.returns import ReturnsState
from kiosk.circulation.rows import Message, RowKind, RowState
from kiosk.circulation.session import Phase
from kiosk.circulation.station import KioskState, ReturnsStationState
from kiosk.demo.hardware import DemoHardware
from kiosk.hardware.health import DeviceHealth
from kiosk.ops.metrics import KioskMetrics, paper_state, safe_reason
from kiosk.ops.server import OpsServer
from kiosk.ops.wiring import attach_ops
from kiosk.sync.journal import Answer, Journal, Kind, ReplayOutcome

WAIT = 10.0
WRONG_PIN = "7319"


def strings_in(value: object) -> list[str]:
    """Every string in a JSON value, keys included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (k, *strings_in(v))]
    if isinstance(value, list):
        return [s for v in value for s in strings_in(v)]
    return []


def value(metrics: KioskMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_ils_commands_and_their_answers_become_transactions_and_latency() -> None:
    clock = Clock()
    metrics = KioskMetrics(clock=clock, process=False)
    state = KioskState()
    metrics.observe_step(Pressed("x"), state, (LookUpPatron("p1", S.PATRON_VALID.id, "1234"),
                                               CheckOut("c1", S.PATRON_VALID.id, S.ITEM_AVAILABLE, None),
                                               CheckOut("c2", S.PATRON_VALID.id, S.ITEM_DVD, None),
                                               CheckIn("i1", S.ITEM_RENEWABLE), PrintReceipt("r", ())))
    clock.now += 0.2
    account = PatronAccount(S.PATRON_VALID.id, known=True, pin_ok=False, name=S.PATRON_VALID.name)
    metrics.observe_step(PatronLookedUp("p1", account), state, ())
    clock.now += 0.3
    metrics.observe_step(LoanAnswered("c1", LoanAnswer(S.ITEM_AVAILABLE, ok=True, title="The Hobbit")), state, ())
    metrics.observe_step(IlsFailed("c2", Failure(FailureKind.OUTCOME_UNKNOWN, "lost")), state, ())
    metrics.observe_step(ReturnAnswered("i1", ReturnAnswer(S.ITEM_RENEWABLE, ok=True, offline=True)), state, ())
    metrics.observe_step(LoanAnswered("never-sent", LoanAnswer("x", ok=True)), state, ())

    assert value(metrics, "kiosk_transactions_total", type="patron", result="refused") == 1
    assert value(metrics, "kiosk_transactions_total", type="checkout", result="ok") == 1
    assert value(metrics, "kiosk_transactions_total", type="checkout", result="unknown") == 1
    assert value(metrics, "kiosk_transactions_total", type="checkin", result="offline") == 1
    assert value(metrics, "kiosk_transactions_total", type="renew", result="ok") == 0  # exists from the start
    assert value(metrics, "kiosk_ils_latency_seconds_count", type="checkout") == 2
    assert value(metrics, "kiosk_ils_latency_seconds_sum", type="checkout") == pytest.approx(1.0)
    assert value(metrics, "kiosk_ils_latency_seconds_count", type="checkin") == 0  # offline: never sent
    assert value(metrics, "kiosk_ils_latency_seconds_bucket", type="patron", le="0.25") == 1


def test_reports_and_states_become_component_offline_paper_and_bin_gauges() -> None:
    metrics = KioskMetrics(process=False)
    metrics.observe_step(IlsHealth(connected=False, last_error="cannot connect"),
                         KioskState(online=False, out_of_service=Message("oos.ils")), ())
    metrics.observe_step(DeviceStatus("reader", "failed", "port gone"), KioskState(online=False), ())
    metrics.observe_step(BinFull("holds", True), None, ())
    metrics.observe_health(DeviceHealth.down("printer", "paper out: the paper roll is empty"))
    assert value(metrics, "kiosk_ils_up") == 0 and value(metrics, "kiosk_offline") == 1
    assert value(metrics, "kiosk_component_up", component="ils") == 0
    assert value(metrics, "kiosk_component_up", component="reader") == 0
    assert value(metrics, "kiosk_out_of_service") == 0  # the later state is back in service
    assert value(metrics, "kiosk_returns_bin_full", bin="holds") == 1
    assert [value(metrics, "kiosk_printer_paper", state=s) for s in ("ok", "low", "out", "unknown")] == [0, 0, 1, 0]
    metrics.observe_health(DeviceHealth.degraded("printer", "paper low: the paper roll is nearly empty"))
    assert value(metrics, "kiosk_printer_paper", state="low") == 1
    assert value(metrics, "kiosk_component_degraded", component="printer") == 1
    assert value(metrics, "kiosk_component_up", component="printer") == 1
    assert value(metrics, "kiosk_returns_accepting") is None  # a self-check kiosk has no slot
    metrics.observe_state(ReturnsStationState(returns=ReturnsState(fault="diverter")))
    assert value(metrics, "kiosk_returns_accepting") == 0
    metrics.observe_state(ReturnsStationState())
    assert value(metrics, "kiosk_returns_accepting") == 1
    report = metrics.health_report()
    assert report["status"] == "degraded" and report["components"]["reader"] == {"state": "down",
                                                                                  "reason": "port gone"}


def test_gate_alarms_and_a_barrier_that_did_not_open_are_counted() -> None:
    metrics = KioskMetrics(process=False)
    assert value(metrics, "kiosk_gate_events_total", event="alarm") == 0  # both series exist from the start
    assert value(metrics, "kiosk_gate_events_total", event="not_opened") == 0
    metrics.observe_step(GateAlarm(1.0), KioskState(), ())
    metrics.observe_step(GateAlarm(2.0), KioskState(), ())
    metrics.observe_step(GateOpened("gate-3", ok=True), KioskState(), ())
    metrics.observe_step(GateOpened("gate-9", ok=False, detail="GPIO gate (pin 17) not open"), KioskState(), ())
    assert value(metrics, "kiosk_gate_events_total", event="alarm") == 2
    assert value(metrics, "kiosk_gate_events_total", event="not_opened") == 1


def test_paper_state_and_safe_reason() -> None:
    assert paper_state(DeviceHealth.up("printer")) == "ok"
    assert paper_state(DeviceHealth.down("printer", "cover open: the printer cover is open")) == "unknown"
    assert paper_state(DeviceHealth.down("printer", "absent: not reachable")) == "unknown"
    raw = f"checksum mismatch (raw b'64  AA{S.PATRON_VALID.id}|AE{S.PATRON_VALID.name}|')"
    assert safe_reason(raw) == "checksum mismatch"
    assert S.PATRON_VALID.id not in safe_reason(f"x |AA{S.PATRON_VALID.id}|AD1234|")


def test_the_queue_gauges_read_the_journal_at_scrape_time(tmp_path: Path) -> None:
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    with Journal.open(tmp_path / "j.sqlite", clock=lambda: now - timedelta(minutes=20)) as journal:
        metrics = KioskMetrics(journal=journal, now=lambda: now, process=False)
        assert value(metrics, "kiosk_offline_queue_depth") == 0
        assert value(metrics, "kiosk_offline_queue_oldest_age_seconds") == 0
        assert value(metrics, "kiosk_last_sync_timestamp_seconds") is None
        when = datetime(2026, 3, 2, 11, 0)
        for item in S.AVAILABLE_BOOKS[:3]:
            journal.queue_offline(Kind.CHECKOUT, patron_id=S.PATRON_CLEAN.id, item_id=item, transaction_date=when,
                                  nb_due_date=when + timedelta(days=14))
        assert journal.own("sync")
        first, second = journal.claim("sync", 2)
        journal.record_replays([ReplayOutcome(first.id, Answer(True)), ReplayOutcome(second.id, Answer(False))])
        assert value(metrics, "kiosk_offline_queue_depth") == 1
        assert value(metrics, "kiosk_offline_queue_oldest_age_seconds") == 20 * 60
        assert value(metrics, "kiosk_exceptions_pending") == 1
        assert value(metrics, "kiosk_last_sync_timestamp_seconds") == (now - timedelta(minutes=20)).timestamp()
        assert value(metrics, "kiosk_journal_up") == 1
        assert metrics.health_report()["offline_queue"] == {"offline_queue_depth": 1.0,
                                                            "offline_queue_oldest_age_seconds": 1200.0,
                                                            "exceptions_pending": 1.0}
    assert value(metrics, "kiosk_journal_up") == 0  # closed: the scrape still answers, and says so


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_the_server_serves_metrics_healthz_and_nothing_else() -> None:
    metrics = KioskMetrics(version="9.9", config_hash="abc", process=False)
    with OpsServer("127.0.0.1:0", metrics) as server:
        host, port = server.address
        base = f"http://{host}:{port}"
        status, text = get(base + "/metrics")
        families = {f.name: f for f in text_string_to_metric_families(text)}
        assert status == 200 and families["kiosk_build_info"].samples[0].labels["version"] == "9.9"
        assert families["kiosk_config_info"].samples[0].labels["hash"] == "abc"
        status, text = get(base + "/healthz")
        assert status == 200 and json.loads(text)["status"] == "ok"
        assert get(base + "/nope")[0] == 404
        metrics.observe_state(KioskState(out_of_service=Message("oos.staff")))
        status, text = get(base + "/healthz")
        assert status == 503 and json.loads(text)["out_of_service"] == "oos.staff"


def test_the_server_binds_ipv6_loopback_in_brackets() -> None:
    if not socket.has_ipv6:
        pytest.fail("this machine has no IPv6: the kiosk's [::1] listen address cannot be tested")
    with OpsServer("[::1]:0", KioskMetrics(process=False)) as server:
        assert get(f"http://[::1]:{server.address[1]}/healthz")[0] == 200


# -- a whole station, scraped after patron sessions ---------------------------------------------------


@pytest.fixture
def world() -> Iterator[DemoHardware]:
    with DemoHardware() as hardware:
        yield hardware


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def device(state: KioskState, component: str) -> str | None:
    return next((row.state for row in state.staff.devices if row.component == component), None)


def test_a_station_scraped_after_patron_sessions_shows_counts_but_nothing_personal(world: DemoHardware) -> None:
    threads = threading.active_count()
    settings = world.settings({"metrics": {"listen": f"127.0.0.1:{free_port()}"}})
    station = Station.from_settings(settings, devices=world.devices())
    ops = attach_ops(settings, health=station.health, journal=station.gateway.journal,
                     observe_steps=station.on_step)
    assert ops.server is not None
    host, port = ops.server.address
    base = f"http://{host}:{port}"
    patron, wrong, books = S.PATRON_VALID, S.PATRON_WRONG_PIN, list(S.AVAILABLE_BOOKS[:2])
    try:
        with station:
            station.wait_for(lambda s: s.session.phase is Phase.IDLE and device(s, "printer") == "ok"
                             and device(s, "reader") == "ok", WAIT)
            world.place(wrong.id)  # a wrong PIN first
            station.wait_for(lambda s: s.session.phase is Phase.PIN, WAIT)
            station.submit(PinEntered(WRONG_PIN))
            station.wait_for(lambda s: s.session.notice is not None and s.session.notice.id == "pin.wrong", WAIT)
            station.submit(Pressed("cancel"))
            world.lift(wrong.id)
            station.wait_for(lambda s: s.session.phase is Phase.IDLE and not s.card_on_pad, WAIT)
            world.place(patron.id)
            station.wait_for(lambda s: s.session.phase is Phase.PIN and s.session.patron_id == patron.id, WAIT)
            station.submit(PinEntered(patron.pin))
            station.wait_for(lambda s: s.session.phase is Phase.ACTIVE, WAIT)
            world.lift(patron.id)
            for book in books:
                world.place(book)
            station.wait_for(lambda s: all(
                any(r.item_id == b and r.kind is RowKind.BORROW and r.state is RowState.DONE for r in s.session.rows)
                for b in books), WAIT)
            for book in books:
                world.lift(book)
            station.submit(Pressed("finish"))
            station.wait_for(lambda s: s.session.phase is Phase.RECEIPT, WAIT)
            station.submit(Pressed("receipt_print"))
            station.wait_for(lambda s: s.session.phase is Phase.IDLE, WAIT)
            assert wait_until(lambda: len(world.receipts()) == 1, WAIT)

            status, text = get(base + "/metrics")
            status_h, health = get(base + "/healthz")
            world.set_paper_out(True)
            assert wait_until(lambda: ops.metrics.registry.get_sample_value(
                "kiosk_printer_paper", {"state": "out"}) == 1, WAIT)
            paper_report = json.loads(get(base + "/healthz")[1])
    finally:
        ops.close()
        station.close()
    assert status == 200 and status_h == 200
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(text) for s in f.samples}
    assert samples[("kiosk_transactions_total", (("result", "ok"), ("type", "checkout")))] == 2
    assert samples[("kiosk_transactions_total", (("result", "refused"), ("type", "patron")))] >= 1
    assert samples[("kiosk_transactions_total", (("result", "ok"), ("type", "patron")))] >= 1
    assert samples[("kiosk_component_up", (("component", "printer"),))] == 1
    assert samples[("kiosk_component_up", (("component", "reader"),))] == 1
    assert samples[("kiosk_offline_queue_depth", ())] == 0
    assert samples[("kiosk_ils_latency_seconds_count", (("type", "checkout"),))] == 2
    assert json.loads(health)["status"] == "ok"
    assert paper_report["status"] == "degraded" and paper_report["components"]["printer"]["state"] == "down"
    # Long identifiers cannot appear by chance anywhere in the text; a 4-digit PIN can (in a byte
    # count), so PINs are looked for in every string the answers carry: label values and JSON strings.
    for answer in (text, health, json.dumps(paper_report, ensure_ascii=False)):
        for word in (patron.id, patron.name, wrong.id, wrong.name, "The Hobbit", "Pride and Prejudice"):
            assert word not in answer, word
    strings = [v for f in text_string_to_metric_families(text) for smp in f.samples for v in smp.labels.values()]
    strings += strings_in(json.loads(health)) + strings_in(paper_report)
    for word in (patron.pin, WRONG_PIN, patron.id[-4:], wrong.id[-4:]):
        assert not [s for s in strings if word in s], word
    assert wait_until(lambda: threading.active_count() <= threads, 5), [t.name for t in threading.enumerate()]
