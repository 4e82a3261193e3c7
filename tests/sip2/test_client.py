"""The blocking client over real sockets: sessions, TLS, reconnects, lost responses, 96/97."""

from __future__ import annotations

import logging
import threading
import time

import pytest
import trustme
from conftest import ScriptedILS, client_config

from sip2 import messages as m
from sip2.client import SIP2Client, SIP2Pool, TLSConfig
from sip2.codec import decode, encode
from sip2.errors import (
    LoginFailed,
    OutcomeUnknown,
    SIP2ConnectionError,
    SIP2DecodeError,
    SIP2Timeout,
    TLSVerificationError,
)
from sip2.fields import PatronStatus
from sip2.server import ConnectionContext, SIP2Server


def _circulation(app: ScriptedILS) -> None:
    r = app.router

    @r.route(m.PatronInformation)
    def info(req: m.PatronInformation, ctx: ConnectionContext) -> m.Response:
        return m.PatronInformationResponse(
            institution_id="LIB", patron_id=req.patron_id, personal_name="Ann Reader",
            valid_patron=True, valid_patron_password=req.patron_password == "1234",
            charged_items_count=1, charged_items=("31234000000012",),
        )

    @r.route(m.Checkout)
    def checkout(req: m.Checkout, ctx: ConnectionContext) -> m.Response:
        ok = req.item_id != "refused"
        return m.CheckoutResponse(
            ok=ok, institution_id="LIB", patron_id=req.patron_id, item_id=req.item_id,
            title="A Book", due_date="20261218    120000" if ok else "",
            screen_messages=() if ok else ("Item is on hold for another patron",),
        )

    @r.route(m.Checkin)
    def checkin(req: m.Checkin, ctx: ConnectionContext) -> m.Response:
        return m.CheckinResponse(ok=True, resensitize=True, institution_id="LIB", item_id=req.item_id,
                                 permanent_location="Main", sort_bin="HOLDS", alert_type="01")

    @r.route(m.Renew)
    def renew(req: m.Renew, ctx: ConnectionContext) -> m.Response:
        return m.RenewResponse(ok=True, renewal_ok=True, institution_id="LIB", patron_id=req.patron_id,
                               item_id=req.item_id or "", title="A Book", due_date="20270108    120000")

    @r.route(m.EndPatronSession)
    def end(req: m.EndPatronSession, ctx: ConnectionContext) -> m.Response:
        return m.EndSessionResponse(end_session=True, institution_id="LIB", patron_id=req.patron_id)

    @r.route(m.ItemInformation)
    def item(req: m.ItemInformation, ctx: ConnectionContext) -> m.Response:
        return m.ItemInformationResponse(circulation_status=4, item_id=req.item_id, title="A Book")


def test_a_full_patron_session(ils) -> None:
    app, server = ils
    _circulation(app)
    with SIP2Client(client_config(server)) as client:
        assert client.acs_status is not None and client.acs_status.institution_id == "LIB"
        info = client.patron_information("21234000000017", pin="1234")
        assert info.personal_name == "Ann Reader" and info.valid_patron_password is True
        assert info.patron_status == PatronStatus()
        out = client.checkout("21234000000017", "31234000000012", pin="1234")
        assert out.ok and out.due_date.startswith("20261218")
        refused = client.checkout("21234000000017", "refused")
        assert not refused.ok and refused.screen_messages == ("Item is on hold for another patron",)
        assert client.renew("21234000000017", "31234000000012").renewal_ok
        back = client.checkin("31234000000012")
        assert back.sort_bin == "HOLDS" and back.alert_type == "01"
        assert client.end_patron_session("21234000000017").end_session
    checkout = next(r for r in app.seen if isinstance(r, m.Checkout))
    assert checkout.transaction_date is not None  # stamped by the client
    assert checkout.nb_due_date is None and checkout.no_block is False


def test_login_refused_is_a_typed_error(ils) -> None:
    _, server = ils
    with pytest.raises(LoginFailed, match="refused SIP2 login for user 'kiosk'"):
        SIP2Client(client_config(server, password="wrong")).connect()


def test_connection_refused_is_a_typed_error() -> None:
    with pytest.raises(SIP2ConnectionError, match="cannot connect"):
        SIP2Client(client_config_for(("127.0.0.1", _closed_port()))).connect()


def client_config_for(address):
    from sip2.client import ClientConfig

    return ClientConfig(host=address[0], port=address[1], username="kiosk", password="secret", timeout=1)


def _closed_port() -> int:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_tls_with_a_ca_made_here(tmp_path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    server_ctx = __import__("ssl").create_default_context(__import__("ssl").Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    app = ScriptedILS()
    _circulation(app)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    with SIP2Server(app, ssl_context=server_ctx) as server:
        with SIP2Client(client_config(server, tls=TLSConfig(ca_file=str(ca_file)))) as client:
            assert client.item_information("31234000000012").circulation_status == 4
        other_ca = trustme.CA()
        other_file = tmp_path / "other.pem"
        other_ca.cert_pem.write_to_path(str(other_file))
        with pytest.raises(TLSVerificationError, match="did not verify"):
            SIP2Client(client_config(server, tls=TLSConfig(ca_file=str(other_file)))).connect()


def test_reconnects_transparently_after_the_ils_dropped_an_idle_session(ils) -> None:
    app, server = ils
    _circulation(app)
    server.idle_timeout = 0.3  # like SIPServer's listener timeout, silently closing
    with SIP2Client(client_config(server, heartbeat_interval=1000)) as client:
        time.sleep(0.8)
        response = client.checkout("p", "i")  # not safe to repeat, yet must go through
        assert response.ok
        assert client.reconnects == 1
    assert app.logins == 2
    assert app.count(m.Checkout) == 1


def test_a_lost_checkout_response_is_outcome_unknown_and_never_resent(ils) -> None:
    app, server = ils
    applied: list[str] = []

    @app.router.route(m.Checkout)
    def checkout_then_die(req: m.Checkout, ctx: ConnectionContext):
        applied.append(req.item_id)
        return None  # applied, then the connection dies before the answer

    with SIP2Client(client_config(server)) as client:
        with pytest.raises(OutcomeUnknown) as lost:
            client.checkout("p", "31234000000012")
        assert isinstance(lost.value.request, m.Checkout)
        assert lost.value.request.item_id == "31234000000012"
        assert lost.value.request.transaction_date is not None
    assert applied == ["31234000000012"]


@pytest.mark.parametrize("method", ["renew", "renew_all", "fee_paid", "hold", "checkin", "item_status_update"])
def test_no_circulation_request_is_ever_repeated(ils, method: str) -> None:
    app, server = ils
    app.router._fallback = lambda req, ctx: None  # every non-login request kills the connection
    calls = {
        "renew": lambda c: c.renew("p", "i"),
        "renew_all": lambda c: c.renew_all("p"),
        "fee_paid": lambda c: c.fee_paid("p", "1.00"),
        "hold": lambda c: c.hold("p", "i"),
        "checkin": lambda c: c.checkin("i"),
        "item_status_update": lambda c: c.item_status_update("i", "props"),
    }
    with SIP2Client(client_config(server)) as client, pytest.raises(OutcomeUnknown):
        calls[method](client)
    non_status = [r for r in app.seen if not isinstance(r, m.Login | m.SCStatus)]
    assert len(non_status) == 1


def test_a_safe_request_is_retried_on_a_new_connection(ils) -> None:
    app, server = ils
    _circulation(app)
    attempts = []
    original = app.router._routes[m.PatronInformation]

    def flaky(req, ctx):
        attempts.append(req)
        return None if len(attempts) == 1 else original(req, ctx)

    app.router.route(m.PatronInformation)(flaky)
    with SIP2Client(client_config(server)) as client:
        assert client.patron_information("p").personal_name == "Ann Reader"
    assert len(attempts) == 2 and app.logins == 2


def test_timeout_on_a_stalled_ils(ils) -> None:
    app, server = ils
    release = threading.Event()

    @app.router.route(m.Checkout)
    def stall(req, ctx):
        release.wait(5)
        return None

    @app.router.route(m.ItemInformation)
    def stall_info(req, ctx):
        release.wait(5)
        return None

    try:
        with SIP2Client(client_config(server, timeout=0.3, retries=1)) as client:
            with pytest.raises(OutcomeUnknown) as lost:
                client.checkout("p", "i")
            assert isinstance(lost.value.cause, SIP2Timeout)
            with pytest.raises(SIP2Timeout):
                client.item_information("i")
    finally:
        release.set()
    assert app.count(m.ItemInformation) == 2  # safe: retried once on a new connection
    assert app.count(m.Checkout) == 1


def test_the_heartbeat_keeps_the_session_alive(ils) -> None:
    app, server = ils
    server.idle_timeout = 0.6
    with SIP2Client(client_config(server, heartbeat_interval=0.2)) as client:
        time.sleep(1.5)
        assert client.sc_status().institution_id == "LIB"
        assert client.reconnects == 0
    assert app.logins == 1
    assert app.count(m.SCStatus) >= 4


def test_heartbeat_interval_follows_the_ils_timeout(ils) -> None:
    _, server = ils
    with SIP2Client(client_config(server)) as client:
        assert client.heartbeat_interval() == 30.0  # 98 timeout period 600 tenths -> half of 60 s


def _answer(frame: bytes, response: m.Response, *, corrupt: bool = False) -> bytes:
    request_seq = int(frame[-8:-7])
    data = encode(response, sequence=request_seq)
    if corrupt:
        data = data.replace(b"Book", b"Bock")  # the checksum no longer matches
    return data


def test_a_corrupted_response_is_fetched_again_with_97(raw_peer) -> None:
    book = m.CheckoutResponse(ok=True, institution_id="LIB", patron_id="p", item_id="i", title="A Book",
                              due_date="x")
    last = {}

    def script(frame: bytes, n: int) -> bytes | None:
        msg = decode(frame)
        if isinstance(msg, m.Login):
            return _answer(frame, m.LoginResponse(ok=True))
        if isinstance(msg, m.Checkout):
            last["frame"] = frame
            return _answer(frame, book, corrupt=True)
        if isinstance(msg, m.RequestACSResend):
            return _answer(last["frame"], book)
        return None

    peer = raw_peer(script)
    config = client_config_for(peer.address)
    with SIP2Client(_no_status(config)) as client:
        assert client.checkout("p", "i").title == "A Book"
    assert [f[:2] for f in peer.frames] == [b"93", b"11", b"97"]
    assert peer.frames[2] == b"97AZFEF5\r"


def test_a_96_makes_the_client_send_the_same_request_again(raw_peer) -> None:
    def script(frame: bytes, n: int) -> bytes | None:
        msg = decode(frame)
        if isinstance(msg, m.Login):
            return _answer(frame, m.LoginResponse(ok=True))
        if isinstance(msg, m.Checkout) and n == 2:
            return b"96AZFEF6\r"
        if isinstance(msg, m.Checkout):
            return _answer(frame, m.CheckoutResponse(ok=True, institution_id="LIB", patron_id="p", item_id="i",
                                                     title="t", due_date="d"))
        return None

    peer = raw_peer(script)
    with SIP2Client(_no_status(client_config_for(peer.address))) as client:
        assert client.checkout("p", "i").ok
    assert peer.frames[1] == peer.frames[2]  # byte-identical resend, same sequence number


def test_endless_96_gives_up_with_outcome_unknown(raw_peer) -> None:
    def script(frame: bytes, n: int) -> bytes | None:
        if frame.startswith(b"93"):
            return _answer(frame, m.LoginResponse(ok=True))
        return b"96AZFEF6\r"

    peer = raw_peer(script)
    with SIP2Client(_no_status(client_config_for(peer.address))) as client, pytest.raises(OutcomeUnknown):
        client.checkout("p", "i")
    assert len(peer.frames) == 1 + 4  # the request and three resends


def test_a_response_with_the_wrong_sequence_number_is_rejected(raw_peer) -> None:
    def script(frame: bytes, n: int) -> bytes | None:
        if frame.startswith(b"93"):
            return _answer(frame, m.LoginResponse(ok=True))
        return encode(m.ItemInformationResponse(item_id="i", title="t"), sequence=7)

    peer = raw_peer(script)
    with SIP2Client(_no_status(client_config_for(peer.address))) as client:
        with pytest.raises(SIP2DecodeError, match="sequence 7 does not match"):
            client.item_information("i")
        with pytest.raises(OutcomeUnknown):
            client.checkout("p", "i")


def _no_status(config):
    import dataclasses

    return dataclasses.replace(config, status_after_login=False)


def test_a_pool_serves_parallel_requests(ils) -> None:
    app, server = ils
    _circulation(app)
    results: list[int] = []
    with SIP2Pool(client_config(server), size=3) as pool:
        def work(n: int) -> None:
            with pool.client(timeout=5) as client:
                results.append(client.item_information(str(n)).circulation_status or 0)
                time.sleep(0.1)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert results == [4] * 6
    assert app.logins == 3


def test_wire_log_masks_pin_and_password(ils, caplog) -> None:
    app, server = ils
    _circulation(app)
    caplog.set_level(logging.DEBUG, logger="sip2")
    with SIP2Client(client_config(server)) as client:
        client.patron_information("21234000000017", pin="987654")
    wire = "\n".join(r.getMessage() for r in caplog.records)
    assert "AA****0017" in wire  # frames really were logged, the patron id masked to its last four
    assert "21234000000017" not in wire and "Ann Reader" not in wire and "AE****" in wire
    assert "987654" not in wire and "secret" not in wire
    assert "AD****" in wire and "CO****" in wire


def test_a_title_the_wire_encoding_cannot_carry_still_gets_an_answer(ils) -> None:
    app, server = ils
    server.encoding = "ascii"

    @app.router.route(m.ItemInformation)
    def item(req, ctx):
        return m.ItemInformationResponse(circulation_status=3, item_id=req.item_id, title="Łódź")

    with SIP2Client(client_config(server, encoding="ascii")) as client:
        assert client.item_information("1").title == "??d?"
