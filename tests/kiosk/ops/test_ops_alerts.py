"""Alerts: the rate-limiting policy on its own, the monitor's conditions from what the kiosk observes,
and delivery to a real HTTP webhook and a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import http.server
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from hardware_mocks.ils import scenarios as S
from kiosk.circulation.events import BinFull, IlsHealth
from kiosk.circulation.model import PatronAccount
from kiosk.circulation.returns import ReturnException, ReturnsState
from kiosk.circulation.rows import Message
from kiosk.circulation.session import SessionState
from kiosk.circulation.station import KioskState, ReturnsStationState
from kiosk.hardware.health import DeviceHealth
from kiosk.hardware.mailer import SmtpMailer, SmtpSettings
from kiosk.ops.alerts import AlertMonitor, AlertPolicy, AlertSender, Notice, kiosk_name
from kiosk.ops.settings import AlertSettings
from kiosk.sync.journal import Answer, Journal, Kind, ReplayOutcome

MINUTE = 60.0


# -- the policy ------------------------------------------------------------------------------------


def policy(**kwargs: object) -> AlertPolicy:
    options = {"kinds": ("bin_full", "offline"), "min_interval": 10 * MINUTE, "repeat": 60 * MINUTE,
               "notify_resolved": True, **kwargs}
    return AlertPolicy(**options)  # type: ignore[arg-type]


def said(notices: list[Notice]) -> list[tuple[str, str]]:
    return [(n.kind, n.state) for n in notices]


def test_a_new_problem_is_said_at_once_then_reminded_then_resolved() -> None:
    p = policy()
    assert p.due(0) == []
    p.set("bin_full", True, "holds")
    assert said(p.due(0)) == [("bin_full", "firing")]
    assert p.due(30 * MINUTE) == []
    assert said(p.due(60 * MINUTE)) == [("bin_full", "reminder")]
    p.set("bin_full", False)
    assert said(p.due(75 * MINUTE)) == [("bin_full", "resolved")]
    assert p.due(200 * MINUTE) == []


def test_a_flapping_condition_is_said_at_most_once_per_interval_and_the_last_word_follows() -> None:
    p = policy()
    p.set("bin_full", True, "holds")
    assert said(p.due(0)) == [("bin_full", "firing")]
    for minute in range(1, 9):  # the sensor flaps every minute
        p.set("bin_full", minute % 2 == 0, "holds")
        assert p.due(minute * MINUTE) == []
    p.set("bin_full", False)
    assert said(p.due(10 * MINUTE)) == [("bin_full", "resolved")]  # what is true now, once allowed
    p.set("bin_full", True, "holds")
    assert p.due(11 * MINUTE) == []
    p.set("bin_full", False)
    assert p.due(25 * MINUTE) == []  # it came and went between two messages: the channel already knows


def test_kinds_not_chosen_are_never_said_and_resolved_notices_can_be_off() -> None:
    p = policy(kinds=("offline",), notify_resolved=False, repeat=0.0)
    p.set("bin_full", True, "holds")
    p.set("offline", True, "20 min")
    assert said(p.due(0)) == [("offline", "firing")]
    assert p.due(500 * MINUTE) == []  # no reminders
    p.set("offline", False)
    assert p.due(600 * MINUTE) == []
    p.set("offline", True, "again")
    assert said(p.due(700 * MINUTE)) == [("offline", "firing")]


def test_a_notice_names_the_kiosk_and_says_what_to_do() -> None:
    where = kiosk_name("Demo Library", "Main", host="kiosk-03")
    assert where == "Demo Library / Main (kiosk-03)"
    assert Notice("paper_out", "firing", "load a roll").line(where) == (
        "[Demo Library / Main (kiosk-03)] ALERT receipt printer out of paper: load a roll")
    assert Notice("paper_out", "resolved", "load a roll").line(where) == (
        "[Demo Library / Main (kiosk-03)] RESOLVED receipt printer out of paper")


# -- the monitor -----------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Recorder:
    """A sender that keeps what it was given (the monitor's side of the queue)."""

    notices: list[Notice] = field(default_factory=list)

    def send(self, notice: Notice) -> bool:
        self.notices.append(notice)
        return True

    def start(self) -> Recorder:
        return self

    def close(self, timeout: float = 0) -> None:
        pass


def monitor(clock: Clock, journal: object = None, **settings: object) -> tuple[AlertMonitor, Recorder]:
    recorder = Recorder()
    alerts = AlertSettings(webhook_url="https://hooks.example/T0K3N", **settings)  # type: ignore[arg-type]
    return AlertMonitor(alerts, recorder, journal=journal, clock=clock), recorder  # type: ignore[arg-type]


def test_the_monitor_turns_states_and_reports_into_alerts() -> None:
    clock = Clock()
    alerts, sent = monitor(clock)
    patron = S.PATRON_VALID
    busy = KioskState(session=SessionState(patron_id=patron.id, account=PatronAccount(patron.id, True, True,
                                                                                      name=patron.name)))
    alerts.observe_state(ReturnsStationState(returns=ReturnsState(full_bins=("transit",), exceptions=(
        ReturnException(1, S.ITEM_DVD, "exceptions", "returns.refused"),))))
    alerts.observe_health(DeviceHealth.down("printer", "paper out: the paper roll is empty"))
    alerts.observe_step(BinFull("holds", True), None, ())
    alerts.observe_state(replace(busy, out_of_service=Message("oos.staff")))
    notices = {n.kind: n for n in alerts.check()}
    assert set(notices) == {"out_of_service", "paper_out", "bin_full", "exceptions"}
    assert notices["bin_full"].text == "holds, transit: empty it, then confirm in staff mode"
    assert notices["exceptions"].text == "1 returned item(s) in the exceptions list (staff mode)"
    assert notices["out_of_service"].text == "switched out of service by staff"
    everything = json.dumps([n.line("x") for n in sent.notices], ensure_ascii=False)
    for personal in (patron.id, patron.name, S.ITEM_DVD):
        assert personal not in everything


def test_out_of_service_names_the_reason() -> None:
    clock = Clock()
    alerts, _ = monitor(clock)
    alerts.observe_state(KioskState(out_of_service=Message("oos.ils"), online=False))
    (notice,) = [n for n in alerts.check() if n.kind == "out_of_service"]
    assert "the ILS cannot be reached" in notice.text


def test_offline_is_an_alert_only_after_the_configured_minutes() -> None:
    clock = Clock()
    alerts, _ = monitor(clock, offline_minutes=15.0)
    alerts.observe_step(IlsHealth(connected=False, last_error="cannot connect"), KioskState(online=False), ())
    clock.now = 14 * MINUTE
    assert alerts.check() == []
    clock.now = 16 * MINUTE
    (notice,) = alerts.check()
    assert notice.kind == "offline" and "has not answered for 16 minutes" in notice.text
    alerts.observe_state(KioskState(online=True))
    clock.now = 30 * MINUTE
    assert said(alerts.check()) == [("offline", "resolved")]


def test_transactions_waiting_for_staff_in_the_journal_are_an_alert(tmp_path: Path) -> None:
    clock = Clock()
    with Journal.open(tmp_path / "j.sqlite") as journal:
        alerts, _ = monitor(clock, journal=journal)
        assert alerts.check() == []
        when = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=1)
        tx = journal.queue_offline(Kind.CHECKOUT, patron_id=S.PATRON_CLEAN.id, item_id=S.ITEM_AVAILABLE,
                                   transaction_date=when, nb_due_date=when + timedelta(days=14))
        assert journal.own("sync")
        journal.claim("sync", 1)
        journal.record_replays([ReplayOutcome(tx.id, Answer(False, reason="blocked"))])
        clock.now = 10.0
        assert alerts.check() == []  # the journal is read every check_seconds, not on every round
        clock.now = 31.0
        (notice,) = alerts.check()
        assert notice.text == "1 transaction(s) need staff (kiosk queue report)"
        assert S.PATRON_CLEAN.id not in notice.text


# -- delivery --------------------------------------------------------------------------------------


@dataclass
class Hook:
    url: str
    posts: list[dict[str, object]]
    status: list[int]
    gate: threading.Event
    server: http.server.ThreadingHTTPServer


@pytest.fixture
def webhook() -> Iterator[Hook]:
    posts: list[dict[str, object]] = []
    status = [200]
    gate = threading.Event()
    gate.set()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            gate.wait(30)
            posts.append({"path": self.path, "type": self.headers["Content-Type"], **json.loads(body)})
            self.send_response(status[0])
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield Hook(f"http://127.0.0.1:{server.server_address[1]}/hooks/T0K3N", posts, status, gate, server)
    gate.set()
    server.shutdown()
    server.server_close()


@dataclass
class Inbox:
    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))  # type: ignore[attr-defined]
        return "250 Message accepted"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def test_a_notice_goes_to_the_webhook_as_json_text_and_by_mail(webhook: Hook, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    mailer = SmtpMailer(SmtpSettings(host="127.0.0.1", port=port, security="none", from_address="kiosk@example.org"),
                        library="Demo Library")
    sender = AlertSender(where="Demo Library (k1)", webhook_url=webhook.url, email_to=("it@example.org",
                         "desk@example.org"), mailer=mailer).start()
    try:
        assert sender.send(Notice("bin_full", "firing", "holds: empty it"))
        assert sender.wait_idle(10)
    finally:
        sender.close()
    assert webhook.posts == [{"path": "/hooks/T0K3N", "type": "application/json",
                              "text": "[Demo Library (k1)] ALERT returns bin full: holds: empty it"}]
    assert [rcpt for _, rcpt, _ in inbox.messages] == [["it@example.org"], ["desk@example.org"]]
    body = inbox.messages[0][2].decode()
    assert "Subject: Demo Library: Kiosk alert: returns bin full" in body and "holds: empty it" in body
    assert (sender.sent, sender.failed) == (3, 0)


def test_a_failing_webhook_is_logged_without_its_token_and_never_raised(
    webhook: Hook, caplog: pytest.LogCaptureFixture
) -> None:
    webhook.status[0] = 500
    sender = AlertSender(where="k1", webhook_url=webhook.url).start()
    with caplog.at_level(logging.WARNING, logger="kiosk.ops.alerts"):
        assert sender.send(Notice("paper_out", "firing", "load a roll"))
        assert sender.wait_idle(10)
        sender.close()
    assert sender.failed == 1
    lines = [r.getMessage() for r in caplog.records]
    assert any("webhook at 127.0.0.1 failed" in line and "500" in line for line in lines), lines
    assert not any("T0K3N" in line for line in lines)


def test_a_webhook_that_hangs_never_holds_up_the_monitor(webhook: Hook) -> None:
    webhook.gate.clear()  # the chat server takes the request and does not answer
    clock = Clock()
    alerts = AlertSettings(webhook_url=webhook.url, timeout_seconds=30.0)
    monitor_ = AlertMonitor(alerts, AlertSender(where="k1", webhook_url=webhook.url, timeout=30.0), clock=clock)
    monitor_.sender.start()
    monitor_.observe_state(KioskState(out_of_service=Message("oos.staff")))
    monitor_.observe_step(BinFull("holds", True), None, ())
    notices = monitor_.check()  # returns while the first delivery is still stuck at the server
    assert {n.kind for n in notices} == {"out_of_service", "bin_full"}
    assert webhook.posts == []
    webhook.gate.set()
    assert monitor_.sender.wait_idle(10)
    assert len(webhook.posts) == 2
    monitor_.close()


def test_started_the_monitor_sends_from_its_own_thread(webhook: Hook) -> None:
    monitor_ = AlertMonitor(AlertSettings(webhook_url=webhook.url, check_seconds=60.0),
                            AlertSender(where="k1", webhook_url=webhook.url)).start()
    try:
        monitor_.observe_state(KioskState(out_of_service=Message("oos.devices")))  # wakes the thread
        deadline = time.monotonic() + 10
        while not webhook.posts and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        monitor_.close()
    assert [p["text"] for p in webhook.posts] == [
        "[k1] ALERT out of service: it cannot read items: the RFID reader and the scanner are down"]
