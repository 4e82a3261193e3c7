"""The ``sip2`` console script, run in-process against a scripted ACS on the server toolkit.

Each test reads what IT would read (stdout, the one stderr line, the exit code) and, where it
matters, what the ACS actually received, so "it printed OK" cannot hide "it sent nonsense".
"""

from __future__ import annotations

import io
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest
import trustme

from sip2 import messages as m
from sip2.cli import build_raw_frame, main
from sip2.fields import PatronStatus, Summary, SupportedMessages, encode_date
from sip2.server import ConnectionContext, Router, SIP2Server

USER = "kiosk"
PASSWORD = "Pw-q8Zr2x"
PIN = "Pin-73519"
TERMINAL_PASSWORD = "Term-55kx"
DUE = datetime(2025, 2, 1, 23, 59, 59)
HOLD_BACK = 1.0  # seconds the ACS sits on an I-SLOW request; the tests wait 0.3
CONSOLE_SCRIPT = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "sip2"


@dataclass
class Patron:
    name: str
    pin: str
    status: PatronStatus = field(default_factory=PatronStatus)
    charged: tuple[str, ...] = ()
    messages: tuple[str, ...] = ()
    fee_amount: str | None = None


PATRONS = {
    "P100": Patron("Ada Lovelace", PIN, charged=("I-OUT",)),
    "P200": Patron("Bob Blocked", "1111", PatronStatus(charge_privileges_denied=True, excessive_outstanding_fines=True),
                   messages=("Please pay your fines",), fee_amount="12.50"),
}
TITLES = {"I-DUNE": "Dune", "I-OUT": "Solaris", "I-HOLD": "Neuromancer", "I-CAFE": "Café Society", "I-DROP": "Lost"}


class ScriptedLibrary:
    """A tiny ACS with just enough behaviour to make every CLI outcome happen."""

    def __init__(self) -> None:
        self.seen: list[m.Request] = []
        self.lock = threading.Lock()
        self.router = Router()
        r = self.router

        @r.route(m.Login)
        def login(req: m.Login, ctx: ConnectionContext) -> m.Response:
            ctx.logged_in = (req.login_user_id, req.login_password) == (USER, PASSWORD)
            return m.LoginResponse(ok=ctx.logged_in)

        @r.route(m.SCStatus)
        def status(req: m.SCStatus, ctx: ConnectionContext) -> m.Response:
            return m.ACSStatus(
                online_status=True, checkin_ok=True, checkout_ok=True, acs_renewal_policy=True,
                status_update_ok=False, offline_ok=True, timeout_period=300, retries_allowed=3,
                date_time_sync=datetime(2025, 1, 2, 3, 4, 5), institution_id="MAIN", library_name="Main Library",
                supported_messages=SupportedMessages.of({"23", "11", "09", "99", "93", "63", "17", "29"}),
                screen_messages=("Welcome to Main",),
            )

        @r.route(m.PatronInformation)
        def patron(req: m.PatronInformation, ctx: ConnectionContext) -> m.Response:
            p = PATRONS.get(req.patron_id)
            if p is None:
                return m.PatronInformationResponse(
                    institution_id="MAIN", patron_id=req.patron_id, personal_name="", valid_patron=False,
                    screen_messages=("Unknown patron",))
            return m.PatronInformationResponse(
                patron_status=p.status, charged_items_count=len(p.charged), institution_id="MAIN",
                patron_id=req.patron_id, personal_name=p.name, valid_patron=True,
                valid_patron_password=(req.patron_password == p.pin) if req.patron_password else None,
                fee_amount=p.fee_amount, currency_type="EUR" if p.fee_amount else None,
                charged_items=p.charged if req.summary == Summary.CHARGED_ITEMS else (),
                screen_messages=p.messages, extra=(("ZZ", "vendor value"),),
            )

        @r.route(m.ItemInformation)
        def item(req: m.ItemInformation, ctx: ConnectionContext) -> m.Response | None:
            if req.item_id == "I-SLOW":
                time.sleep(HOLD_BACK)  # longer than the client waits
                return None
            title = TITLES.get(req.item_id)
            if title is None:
                return m.ItemInformationResponse(circulation_status=1, item_id=req.item_id, title="",
                                                 screen_messages=("Item not found",))
            out = req.item_id == "I-OUT"
            return m.ItemInformationResponse(
                circulation_status=4 if out else 3, item_id=req.item_id, title=title,
                due_date=encode_date(DUE) if out else None, permanent_location="Stacks")

        @r.route(m.Checkout)
        def checkout(req: m.Checkout, ctx: ConnectionContext) -> m.Response | None:
            if req.item_id == "I-DROP":
                return None  # the connection dies after the checkout went out
            if req.item_id == "I-SLOW":
                time.sleep(HOLD_BACK)
                return None
            p = PATRONS.get(req.patron_id)
            wrong_pin = bool(req.patron_password) and p is not None and req.patron_password != p.pin
            refused = p is None or p.status.blocks_checkout or wrong_pin
            return m.CheckoutResponse(
                ok=not refused, institution_id="MAIN", patron_id=req.patron_id, item_id=req.item_id,
                title=TITLES.get(req.item_id, ""), due_date="" if refused else encode_date(DUE),
                screen_messages=("Patron blocked: fines",) if refused else ("Enjoy your book",),
            )

        @r.route(m.Checkin)
        def checkin(req: m.Checkin, ctx: ConnectionContext) -> m.Response:
            if req.item_id == "I-NOTOUT":
                return m.CheckinResponse(ok=False, institution_id="MAIN", item_id=req.item_id,
                                         permanent_location="", screen_messages=("Item not checked out",))
            hold = req.item_id == "I-HOLD"
            return m.CheckinResponse(
                ok=True, resensitize=True, alert=hold, institution_id="MAIN", item_id=req.item_id,
                permanent_location="Stacks", title=TITLES.get(req.item_id), sort_bin="B2" if hold else "B1",
                alert_type="01" if hold else None)

        @r.route(m.Renew)
        def renew(req: m.Renew, ctx: ConnectionContext) -> m.Response:
            ok = req.item_id == "I-OUT" and req.patron_id == "P100"
            return m.RenewResponse(ok=ok, renewal_ok=ok, institution_id="MAIN", patron_id=req.patron_id,
                                   item_id=req.item_id or "", title=TITLES.get(req.item_id or "", ""),
                                   due_date=encode_date(DUE) if ok else "",
                                   screen_messages=() if ok else ("Renewal limit reached",))

    def handle(self, request: m.Request, ctx: ConnectionContext):
        with self.lock:
            self.seen.append(request)
        return self.router.handle(request, ctx)

    def received(self, cls: type[m.Request]) -> list:
        with self.lock:
            return [r for r in self.seen if isinstance(r, cls)]


@pytest.fixture(scope="module")
def library_server() -> Iterator[tuple[ScriptedLibrary, SIP2Server]]:
    # One server for the module: stopping one costs half a second (socketserver's poll interval).
    app = ScriptedLibrary()
    with SIP2Server(app) as server:
        yield app, server


@pytest.fixture
def library(library_server) -> tuple[ScriptedLibrary, list[str]]:
    """The ACS (with a clean record of requests) and the command-line prefix that reaches it."""
    app, server = library_server
    with app.lock:
        app.seen.clear()
    host, port = server.address
    return app, ["--host", host, "--port", str(port), "--user", USER, "--password", PASSWORD,
                 "--institution", "MAIN", "--terminal-password", TERMINAL_PASSWORD, "--timeout", "2"]


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("sip2: "), err
    return lines[0]


# --- login and status -----------------------------------------------------------------------


def test_login_prints_the_94_and_the_latency(library, capsys):
    app, conn = library
    code, out, err = run_cli(capsys, *conn, "login")
    assert code == 0, err
    assert "Login Response (94): login OK" in out
    assert any(line.split() == ["ok", "YES"] for line in out.splitlines())
    assert "TCP connect" in out and "93 -> 94" in out
    assert [(r.login_user_id, r.login_password) for r in app.received(m.Login)] == [(USER, PASSWORD)]
    assert PASSWORD not in out + err


def test_login_refused_exits_1(library, capsys):
    _, conn = library
    argv = [a if a != PASSWORD else "wrong-password" for a in conn]
    code, out, err = run_cli(capsys, *argv, "login")
    assert code == 1
    assert "LOGIN REFUSED" in out
    assert "refused the SIP2 login for user 'kiosk'" in one_error_line(err)


def test_refused_login_before_another_command_exits_1(library, capsys):
    _, conn = library
    argv = [a if a != PASSWORD else "wrong-password" for a in conn]
    code, out, err = run_cli(capsys, *argv, "status")
    assert code == 1
    assert out == ""
    assert "refused SIP2 login" in one_error_line(err)


def test_status_shows_the_98_flags_and_supported_messages(library, capsys):
    app, conn = library
    code, out, err = run_cli(capsys, *conn, "status")
    assert code == 0, err
    rows = {tuple(line.split(None, 1)) for line in out.splitlines() if line.startswith("  ")}
    lines = [" ".join(line.split()) for line in out.splitlines()]
    assert "ACS Status (98): ILS online" in out
    assert ">>> Welcome to Main <<<" in out
    assert "checkout ok YES" in lines and "status update ok NO" in lines and "offline ok YES" in lines
    assert "timeout period 300 (30 s)" in lines
    assert "date time sync 2025-01-02 03:04:05" in lines
    assert "library name (AM) Main Library" in lines
    assert "11 checkout YES" in lines and "01 block patron NO" in lines and "99 SC status YES" in lines
    assert rows  # the table is indented under the heading
    assert len(app.received(m.SCStatus)) == 1


def test_options_may_follow_the_command(library, capsys):
    _, conn = library
    code, out, err = run_cli(capsys, "status", *conn)
    assert code == 0, err
    assert "ACS Status (98)" in out


# --- patron ---------------------------------------------------------------------------------


def test_patron_with_items_and_flags_only_when_set(library, capsys):
    app, conn = library
    code, out, err = run_cli(capsys, *conn, "patron", "P200", "--items", "charged")
    assert code == 0, err
    lines = [" ".join(line.split()) for line in out.splitlines()]
    assert "charge privileges denied YES" in lines
    assert "excessive outstanding fines YES" in lines
    assert not any("card reported lost" in line for line in lines)  # unset flags stay out
    assert ">>> Please pay your fines <<<" in out
    assert "fee amount (BV) 12.50" in lines
    assert "unknown field (ZZ) vendor value" in lines
    assert "may not borrow" in out
    assert app.received(m.PatronInformation)[-1].summary == Summary.CHARGED_ITEMS


def test_patron_charged_items_are_listed(library, capsys):
    _, conn = library
    code, out, _ = run_cli(capsys, *conn, "patron", "P100", "--items", "charged")
    assert code == 0
    assert any(" ".join(line.split()) == "charged items (AU) I-OUT" for line in out.splitlines())
    assert "patron status no flags set" in " ".join(out.split())


def test_unknown_patron_exits_1(library, capsys):
    _, conn = library
    code, out, err = run_cli(capsys, *conn, "patron", "P999")
    assert code == 1
    assert "UNKNOWN PATRON" in out
    assert "does not know patron 'P999': Unknown patron" in one_error_line(err)


def test_wrong_pin_exits_1(library, capsys):
    _, conn = library
    code, out, err = run_cli(capsys, *conn, "patron", "P100", "--pin", "0000")
    assert code == 1
    assert "WRONG PIN" in out
    assert "PIN of patron 'P100' is wrong" in one_error_line(err)


def test_pin_from_stdin_reaches_the_ils_and_never_the_output(library, capsys, monkeypatch):
    app, conn = library
    monkeypatch.setattr(sys, "stdin", io.StringIO(PIN + "\n"))
    code, out, err = run_cli(capsys, *conn, "-v", "patron", "P100", "--pin", "-")
    assert code == 0, err
    assert app.received(m.PatronInformation)[-1].patron_password == PIN
    assert "valid patron password (CQ)" in out
    assert PIN not in out + err
    assert "AD****" in err  # the wire log shows the field, masked


def test_empty_stdin_for_pin_is_a_usage_error(library, capsys, monkeypatch):
    app, conn = library
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    code, _, err = run_cli(capsys, *conn, "patron", "P100", "--pin", "-")
    assert code == 2
    assert "--pin -" in one_error_line(err)
    assert app.seen == []


# --- item -----------------------------------------------------------------------------------


def test_item_circulation_status_by_name(library, capsys):
    _, conn = library
    code, out, err = run_cli(capsys, *conn, "item", "I-OUT")
    assert code == 0, err
    assert "Item Information Response (18): charged (04)" in out
    lines = [" ".join(line.split()) for line in out.splitlines()]
    assert "due date (AH) 2025-02-01 23:59:59 (20250201 235959)" in lines
    assert "title (AJ) Solaris" in lines


def test_item_with_a_non_ascii_title(library, capsys):
    _, conn = library
    code, out, _ = run_cli(capsys, *conn, "item", "I-CAFE")
    assert code == 0
    assert "available (03)" in out and "Café Society" in out


def test_unknown_item_exits_1(library, capsys):
    _, conn = library
    code, out, err = run_cli(capsys, *conn, "item", "NOPE")
    assert code == 1
    assert ">>> Item not found <<<" in out
    assert "does not know item 'NOPE'" in one_error_line(err)


# --- circulation ----------------------------------------------------------------------------


def test_checkout_ok_with_pin_never_printed_even_verbose(library, capsys):
    app, conn = library
    code, out, err = run_cli(capsys, *conn, "-v", "checkout", "P100", "I-DUNE", "--pin", PIN)
    assert code == 0, err
    assert "Checkout Response (12): OK, due 2025-02-01 23:59:59" in out
    assert ">>> Enjoy your book <<<" in out
    sent = app.received(m.Checkout)[-1]
    assert (sent.patron_id, sent.item_id, sent.patron_password, sent.no_block) == ("P100", "I-DUNE", PIN, False)
    assert sent.terminal_password == TERMINAL_PASSWORD
    assert ">> 11" in err and "<< 12" in err  # the wire frames are shown...
    for secret in (PIN, PASSWORD, TERMINAL_PASSWORD):  # ...without a single secret
        assert secret not in out + err


def test_checkout_refused_exits_1(library, capsys):
    _, conn = library
    code, out, err = run_cli(capsys, *conn, "checkout", "P200", "I-DUNE")
    assert code == 1
    assert "Checkout Response (12): REFUSED" in out
    assert "refused the checkout (ok=NO): Patron blocked: fines" in one_error_line(err)


def test_no_block_checkout_sends_the_due_date_at_end_of_day(library, capsys):
    app, conn = library
    code, _, err = run_cli(capsys, *conn, "checkout", "P100", "I-DUNE", "--no-block", "--nb-due-date", "2025-03-01")
    assert code == 0, err
    sent = app.received(m.Checkout)[-1]
    assert sent.no_block is True
    assert sent.nb_due_date == datetime(2025, 3, 1, 23, 59, 59)


def test_connection_lost_after_checkout_sent_exits_4(library, capsys):
    app, conn = library
    code, out, err = run_cli(capsys, *conn, "checkout", "P100", "I-DROP")
    assert code == 4
    assert out == ""
    line = one_error_line(err)
    assert "outcome of Checkout (11) unknown" in line and "item I-DROP" in line
    assert len(app.received(m.Checkout)) == 1  # never resent


def test_checkout_timeout_is_outcome_unknown(library, capsys):
    app, conn = library
    code, _, err = run_cli(capsys, *conn, "--timeout", "0.3", "checkout", "P100", "I-SLOW")
    assert code == 4
    assert "no response to Checkout within 0.3 s" in one_error_line(err)
    assert len(app.received(m.Checkout)) == 1


def test_item_timeout_exits_3(library, capsys):
    app, conn = library
    code, _, err = run_cli(capsys, *conn, "--timeout", "0.3", "item", "I-SLOW")
    assert code == 3
    assert "no response to ItemInformation within 0.3 s" in one_error_line(err)
    assert len(app.received(m.ItemInformation)) == 2  # a safe request is tried again once


def test_checkin_with_hold_alert_and_return_date(library, capsys):
    app, conn = library
    code, out, err = run_cli(capsys, *conn, "--location", "Branch-1", "checkin", "I-HOLD", "--no-block",
                             "--return-date", "2025-01-05")
    assert code == 0, err
    assert "Checkin Response (10): OK, ALERT 01 (hold here)" in out
    assert "sort bin (CL) B2" in " ".join(out.split())
    sent = app.received(m.Checkin)[-1]
    assert (sent.no_block, sent.return_date, sent.current_location) == (True, datetime(2025, 1, 5), "Branch-1")


def test_checkin_refused_exits_1(library, capsys):
    _, conn = library
    code, _, err = run_cli(capsys, *conn, "checkin", "I-NOTOUT")
    assert code == 1
    assert "refused the checkin (ok=NO): Item not checked out" in one_error_line(err)


def test_renew_ok_and_refused(library, capsys):
    app, conn = library
    code, out, err = run_cli(capsys, *conn, "renew", "P100", "I-OUT", "--pin", PIN)
    assert code == 0, err
    assert "Renew Response (30): OK, due 2025-02-01" in out
    assert app.received(m.Renew)[-1].patron_password == PIN
    assert PIN not in out + err
    code, _, err = run_cli(capsys, *conn, "renew", "P100", "I-DUNE")
    assert code == 1
    assert "refused the renewal (ok=NO): Renewal limit reached" in one_error_line(err)


# --- raw ------------------------------------------------------------------------------------


def test_raw_frame_checksum_matches_the_published_example():
    # shared/reference/sip2.md §1.1: this login frame carries AZF134.
    frame = build_raw_frame("9300CNscclient|COclientpwd|CPkiosk1|", as_is=False, encoding="cp850",
                            error_detection=True, sequence=0, terminator=b"\r")
    assert frame == b"9300CNscclient|COclientpwd|CPkiosk1|AY0AZF134\r"
    # a stale trailer (and a CR pasted from a log as "\r") is replaced, not kept
    again = build_raw_frame("9300CNscclient|COclientpwd|CPkiosk1|AY7AZ0000\\r", as_is=False, encoding="cp850",
                            error_detection=True, sequence=0, terminator=b"\r")
    assert again == frame


def test_raw_adds_checksum_and_sequence(library, capsys):
    app, conn = library
    code, out, err = run_cli(capsys, *conn, "--crlf", "raw", "1720250101    120000AOMAIN|ABI-DUNE|AC|")
    assert code == 0, err
    body = b"1720250101    120000AOMAIN|ABI-DUNE|AC|AY1AZ"
    expected = body + b"%04X" % (-sum(body) & 0xFFFF) + b"\r\n"
    assert f"sent:     {expected!r}" in out
    assert "received: b'18" in out
    assert "Item Information Response (18): OK" in out and "title (AJ) Dune" in " ".join(out.split())
    # the ACS decoded the frame (a bad checksum would have got a 96 instead)
    assert app.received(m.ItemInformation)[-1].item_id == "I-DUNE"


def test_raw_as_is_with_a_bad_checksum_gets_96(library, capsys):
    app, conn = library
    code, out, err = run_cli(capsys, *conn, "raw", "--as-is", "1720250101    120000AOMAIN|ABI-DUNE|AC|AY1AZ0000")
    assert code == 1
    assert "received: b'96AZFEF6\\r'" in out
    assert "asked for it again (96)" in one_error_line(err)
    assert app.received(m.ItemInformation) == []


def test_raw_masks_secrets_in_the_bytes_shown(library, capsys):
    _, conn = library
    code, out, err = run_cli(capsys, *conn, "raw", f"6300020250101    120000          AOMAIN|AAP100|AC|AD{PIN}|")
    assert code == 0, err
    assert "AD****" in out
    assert PIN not in out + err


def test_raw_circulation_frame_whose_answer_is_lost_exits_4(library, capsys):
    app, conn = library
    code, out, err = run_cli(capsys, *conn, "raw", "11NN20250101    120000                  AOMAIN|AAP100|ABI-DROP|AC|")
    assert code == 4
    assert "sent:     b'11NN" in out
    assert "outcome of the Checkout (11) frame unknown" in one_error_line(err)
    assert len(app.received(m.Checkout)) == 1


# --- exit codes for what goes wrong before an answer ----------------------------------------


def test_no_login_when_the_ils_requires_one_exits_3_with_a_hint(library, capsys):
    app, conn = library
    i = conn.index("--user")
    code, out, err = run_cli(capsys, *conn[:i], *conn[i + 4:], "item", "I-DUNE")
    assert code == 3
    assert out == ""
    assert "no --user was given" in one_error_line(err)
    assert app.received(m.Login) == []


def test_connection_refused_exits_3(capsys):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, out, err = run_cli(capsys, "--host", "127.0.0.1", "--port", str(port), "--timeout", "2", "status")
    assert code == 3
    assert out == ""
    assert one_error_line(err) == f"sip2: cannot connect to 127.0.0.1:{port}: Connection refused"


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["checkout", "P100"],
        ["checkout", "P100", "I-DUNE", "--nb-due-date", "2025-03-01"],
        ["checkout", "P100", "I-DUNE", "--no-block", "--nb-due-date", "1st of March"],
        ["--ca-file", __file__, "status"],
        ["--port", "70000", "status"],
        ["--timeout", "0", "status"],
        ["patron", "P100", "--items", "everything"],
        ["raw", "XX0000"],
        ["patron", "P100", "--pin", "Xq|7Z"],
        ["--encoding", "ascii", "patron", "P100", "--pin", "Xq€7Z"],
        ["--password-file", "/nonexistent/sip2-password", "status"],
    ],
)
def test_usage_errors_exit_2_and_send_nothing(library, capsys, argv):
    app, conn = library
    code, out, err = run_cli(capsys, *conn, *argv)
    assert code == 2
    assert out == ""
    line = one_error_line(err)
    assert "Xq" not in line and "7Z" not in line  # a rejected PIN is not echoed either
    assert app.seen == []


def test_missing_host_and_login_without_user_are_usage_errors(capsys):
    code, _, err = run_cli(capsys, "item", "I-DUNE")
    assert code == 2 and "--host is required" in one_error_line(err)
    code, _, err = run_cli(capsys, "--host", "127.0.0.1", "login")
    assert code == 2 and "login needs --user" in one_error_line(err)


def test_password_from_environment_and_from_a_file(library, capsys, monkeypatch, tmp_path):
    app, conn = library
    i = conn.index("--password")
    argv = conn[:i] + conn[i + 2:]
    monkeypatch.setenv("SIP2_PASSWORD", PASSWORD)
    code, out, err = run_cli(capsys, *argv, "login")
    assert code == 0, err
    assert "login OK" in out
    password_file = tmp_path / "sip2-password"
    password_file.write_text(PASSWORD + "\n")
    monkeypatch.setenv("SIP2_PASSWORD", "not-this-one")  # the file wins over the environment
    code, _, err = run_cli(capsys, *argv, "--password-file", str(password_file), "login")
    assert code == 0, err
    assert [r.login_password for r in app.received(m.Login)] == [PASSWORD, PASSWORD]


def test_help_exits_0(capsys):
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0
    assert "exit codes:" in out and "--pin -" in out


# --- TLS ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def tls_server(ca: trustme.CA) -> Iterator[tuple[ScriptedLibrary, SIP2Server]]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    app = ScriptedLibrary()
    with SIP2Server(app, ssl_context=context) as server:
        yield app, server


@pytest.fixture
def tls_library(tls_server) -> tuple[ScriptedLibrary, list[str]]:
    app, server = tls_server
    with app.lock:
        app.seen.clear()
    host, port = server.address
    return app, ["--host", host, "--port", str(port), "--user", USER, "--password", PASSWORD, "--timeout", "2"]


def test_tls_login_with_the_right_ca(tls_library, ca, tmp_path, capsys):
    app, conn = tls_library
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    code, out, err = run_cli(capsys, *conn, "--tls", "--ca-file", str(ca_file), "login")
    assert code == 0, err
    assert "login OK" in out and "TCP + TLS connect" in out
    assert len(app.received(m.Login)) == 1


def test_tls_with_the_wrong_ca_exits_3_naming_the_certificate(tls_library, tmp_path, capsys):
    app, conn = tls_library
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    code, out, err = run_cli(capsys, *conn, "--tls", "--ca-file", str(other_ca), "status")
    assert code == 3
    assert out == ""
    line = one_error_line(err)
    assert "certificate" in line and str(other_ca) in line
    assert app.seen == []
    # --no-verify is the (loud) way around it, for diagnosis
    code, out, err = run_cli(capsys, *conn, "--tls", "--no-verify", "status")
    assert code == 0, err


def test_tls_client_certificate(ca, tmp_path, capsys):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca.configure_trust(context)
    context.verify_mode = ssl.CERT_REQUIRED
    client_cert = ca.issue_cert("kiosk-7")
    cert_file, key_file, ca_file = tmp_path / "kiosk.pem", tmp_path / "kiosk.key", tmp_path / "ca.pem"
    client_cert.cert_chain_pems[0].write_to_path(str(cert_file))
    client_cert.private_key_pem.write_to_path(str(key_file))
    ca.cert_pem.write_to_path(str(ca_file))
    app = ScriptedLibrary()
    with SIP2Server(app, ssl_context=context) as server:
        host, port = server.address
        base = ["--host", host, "--port", str(port), "--user", USER, "--password", PASSWORD, "--timeout", "2",
                "--tls", "--ca-file", str(ca_file)]
        code, out, err = run_cli(capsys, *base, "--cert", str(cert_file), "--key", str(key_file), "login")
        assert code == 0, err
        code, out, err = run_cli(capsys, *base, "login")  # the ILS wants a client certificate
        assert code == 3
        assert out == ""
        one_error_line(err)


# --- against the simulated ILS (hardware_mocks/ils) ------------------------------------------

SIM_PATRON, SIM_PIN = "21234000000026", "2222"  # "valid, nothing on loan" in sample_library.json
SIM_FINED = "21234000000075"  # "fines 25.00 over the 10.00 limit"
SIM_ITEM = "31234000000040"  # Dune, available


@pytest.fixture(scope="module")
def simulated_ils() -> Iterator[list[str]]:
    # Imported here so that a broken simulator fails these tests only, with its own error.
    from hardware_mocks.ils.app import IlsApp
    from hardware_mocks.ils.library import Library

    library = Library.open()
    with SIP2Server(IlsApp(library, accounts={USER: PASSWORD})) as server:
        host, port = server.address
        yield ["--host", host, "--port", str(port), "--user", USER, "--password", PASSWORD,
               "--location", "MAIN", "--timeout", "2"]
    library.close()


def test_simulated_ils_checkout_item_checkin_round(simulated_ils, capsys):
    code, out, err = run_cli(capsys, *simulated_ils, "checkout", SIM_PATRON, SIM_ITEM, "--pin", SIM_PIN)
    assert code == 0, err
    assert "Checkout Response (12): OK, due" in out and "title (AJ) Dune" in " ".join(out.split())
    code, out, err = run_cli(capsys, *simulated_ils, "item", SIM_ITEM)
    assert code == 0, err
    assert "Item Information Response (18): charged (04)" in out
    code, out, err = run_cli(capsys, *simulated_ils, "checkin", SIM_ITEM)
    assert code == 0, err
    code, out, err = run_cli(capsys, *simulated_ils, "item", SIM_ITEM)
    assert "Item Information Response (18): available (03)" in out
    assert SIM_PIN not in out + err


def test_simulated_ils_refusals(simulated_ils, capsys):
    code, out, err = run_cli(capsys, *simulated_ils, "patron", SIM_FINED)
    assert code == 0, err
    lines = [" ".join(line.split()) for line in out.splitlines()]
    assert "excessive outstanding fines YES" in lines
    code, _, err = run_cli(capsys, *simulated_ils, "checkout", SIM_FINED, "31234000000024")
    assert code == 1
    assert "refused the checkout" in one_error_line(err)
    code, out, err = run_cli(capsys, *simulated_ils, "patron", SIM_PATRON, "--pin", "0000")
    assert code == 1
    assert "WRONG PIN" in out and "is wrong" in one_error_line(err)


# --- the installed console script -----------------------------------------------------------


def test_console_script_help():
    assert CONSOLE_SCRIPT.exists(), f"{CONSOLE_SCRIPT} missing: install the project (./dev setup)"
    result = subprocess.run([str(CONSOLE_SCRIPT), "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "usage: sip2" in result.stdout and "checkout" in result.stdout
