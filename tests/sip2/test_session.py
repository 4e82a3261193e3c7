"""The sans-IO session: bytes in, events out, no sockets."""

from __future__ import annotations

import pytest

from sip2 import messages as m
from sip2.codec import encode
from sip2.errors import ProtocolStateError, SIP2DecodeError
from sip2.session import (
    BadFrame,
    ClientSession,
    ClientState,
    FrameBuffer,
    Reply,
    RequestReceived,
    ResponseReceived,
    SendAgain,
    ServerSession,
)


def test_login_then_requests_with_rolling_sequence_numbers() -> None:
    s = ClientSession()
    assert s.state is ClientState.LOGGED_OUT
    data = s.send(m.Login(login_user_id="u", login_password="p"))
    assert data.endswith(b"AY0AZ" + data[-5:-1] + b"\r")
    [event] = s.receive_data(encode(m.LoginResponse(ok=True), sequence=0))
    assert isinstance(event, ResponseReceived) and s.state is ClientState.IDLE
    for n in range(1, 12):
        out = s.send(m.SCStatus())
        assert out[-10:-7] == b"AY%d" % (n % 10)
        s.receive_data(encode(m.ACSStatus(institution_id="I"), sequence=n % 10))


def test_failed_login_leaves_the_session_logged_out() -> None:
    s = ClientSession(error_detection=False)
    s.send(m.Login(login_user_id="u", login_password="bad"))
    s.receive_data(b"940\r")
    assert s.state is ClientState.LOGGED_OUT


def test_one_request_at_a_time() -> None:
    s = ClientSession()
    s.send(m.SCStatus())
    with pytest.raises(ProtocolStateError, match="awaits its response"):
        s.send(m.SCStatus())


def test_responses_split_across_reads_and_crlf() -> None:
    s = ClientSession(error_detection=False)
    s.send(m.SCStatus())
    frame = encode(m.ACSStatus(institution_id="I"), terminator=b"\r\n")
    assert s.receive_data(frame[:10]) == []
    [event] = s.receive_data(frame[10:])
    assert isinstance(event, ResponseReceived)


def test_corrupted_response_asks_for_97_and_96_resends_the_request() -> None:
    s = ClientSession()
    request = s.send(m.ItemInformation(institution_id="I", item_id="1"))
    good = encode(m.ItemInformationResponse(item_id="1", title="Book"), sequence=0)
    bad = good.replace(b"Book", b"Bxok")
    [again] = s.receive_data(bad)
    assert isinstance(again, SendAgain) and again.data == b"97AZFEF5\r"
    [again] = s.receive_data(b"96AZFEF6\r")
    assert isinstance(again, SendAgain) and again.data == request
    [done] = s.receive_data(good)
    assert isinstance(done, ResponseReceived) and done.response.title == "Book"


def test_wrong_response_type_is_an_error() -> None:
    s = ClientSession(error_detection=False)
    s.send(m.Checkout(institution_id="I", patron_id="p", item_id="i"))
    with pytest.raises(SIP2DecodeError, match="expected CheckoutResponse"):
        s.receive_data(encode(m.CheckinResponse(institution_id="I", item_id="i")))


def test_unsolicited_frames_are_errors() -> None:
    s = ClientSession(error_detection=False)
    with pytest.raises(SIP2DecodeError, match="unsolicited"):
        s.receive_data(b"941\r")


def test_which_requests_are_safe_to_repeat() -> None:
    s = ClientSession(error_detection=False)
    s.send(m.Checkout(institution_id="I", patron_id="p", item_id="i"))
    assert not s.safe_to_repeat
    lost = s.connection_lost()
    assert isinstance(lost, m.Checkout) and s.state is ClientState.LOGGED_OUT
    s.mark_logged_in()
    s.send(m.ItemInformation(institution_id="I", item_id="i"))
    assert s.safe_to_repeat
    for code in ("11", "29", "37", "15", "65", "19", "09", "01"):
        assert code not in m.SAFE_TO_REPEAT


def test_server_session_resends_last_response_and_answers_garbage_with_96() -> None:
    s = ServerSession()
    [req] = s.receive_data(encode(m.SCStatus(), sequence=4))
    assert isinstance(req, RequestReceived)
    reply = s.respond(m.ACSStatus(institution_id="I"), req.frame)
    assert b"AY4AZ" in reply  # numbered like the request
    [resend] = s.receive_data(b"97AZFEF5\r")
    assert isinstance(resend, Reply) and resend.data == reply
    [bad] = s.receive_data(b"9900302.00AY1AZFFFF\r")
    assert isinstance(bad, BadFrame) and bad.reply == b"96AZFEF6\r"
    [plain] = s.receive_data(encode(m.SCStatus()))
    assert isinstance(plain, RequestReceived)
    assert b"AY" not in s.respond(m.ACSStatus(institution_id="I"), plain.frame)  # auto-detected per message


def test_frame_buffer_bounds_memory() -> None:
    buf = FrameBuffer(max_frame=100)
    with pytest.raises(SIP2DecodeError, match="no terminator"):
        buf.feed(b"9" * 200)
    assert buf.feed(b"941\r") == [b"941\r"]
