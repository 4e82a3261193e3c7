"""The SIP2 conversation without I/O, one object per connection (model: h11).

:class:`ClientSession` knows what a self-check may send next, numbers requests (AY 0-9), checks
that each response answers the request in flight, asks for a resend (97) when a response
arrives corrupted, resends the request when the ILS asks (96), and knows which requests are safe
to repeat. :class:`ServerSession` is the ACS side: it remembers the last response for 97,
answers corrupted requests with 96 and numbers replies like the request it answers.

Both take bytes in and give bytes out; the caller owns the socket, the clock and the threads.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from sip2.codec import CR, Frame, decode_frame, encode
from sip2.errors import ChecksumError, ProtocolStateError, SIP2DecodeError
from sip2.messages import (
    RESPONSE_FOR,
    SAFE_TO_REPEAT,
    Login,
    LoginResponse,
    Request,
    RequestACSResend,
    RequestSCResend,
    Response,
)

#: A frame longer than this without a terminator is garbage, not a slow server.
MAX_FRAME_BYTES = 64 * 1024


class FrameBuffer:
    """Splits a byte stream into frames at CR; tolerates CRLF and bounds memory."""

    def __init__(self, max_frame: int = MAX_FRAME_BYTES) -> None:
        self._buf = bytearray()
        self._max = max_frame

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        frames: list[bytes] = []
        while True:
            end = self._buf.find(b"\r")
            if end < 0:
                break
            frame = bytes(self._buf[: end + 1])
            del self._buf[: end + 1]
            if self._buf[:1] == b"\n":  # the LF of a CRLF terminator
                del self._buf[:1]
            frame = frame.lstrip(b"\n")
            if frame.strip(b"\r"):
                frames.append(frame)
        if len(self._buf) > self._max:
            junk = bytes(self._buf)
            self._buf.clear()
            raise SIP2DecodeError(f"no terminator within {self._max} bytes", junk)
        return frames

    @property
    def pending(self) -> bytes:
        return bytes(self._buf)


class ClientState(Enum):
    LOGGED_OUT = "logged out"
    IDLE = "idle"  # logged in (or login not used), no request in flight
    AWAITING = "awaiting response"


@dataclass(frozen=True, slots=True)
class ResponseReceived:
    """The answer to the request in flight."""

    response: Response
    frame: Frame


@dataclass(frozen=True, slots=True)
class SendAgain:
    """Write ``data`` to the socket: a 97 (our copy was corrupted) or our request again (96)."""

    data: bytes
    reason: str


Event = ResponseReceived | SendAgain


class ClientSession:
    """The self-check side of one SIP2 connection.

    ``error_detection`` adds AY/AZ to every request; a response is checked whenever it carries
    a checksum. ``max_resends`` bounds both 96 and 97 loops, since a server that keeps asking
    for the same frame will never accept it.
    """

    def __init__(
        self,
        *,
        encoding: str = "cp850",
        error_detection: bool = True,
        terminator: bytes = CR,
        strict: bool = False,
        max_resends: int = 3,
    ) -> None:
        self.encoding = encoding
        self.error_detection = error_detection
        self.terminator = terminator
        self.strict = strict
        self.max_resends = max_resends
        self.state = ClientState.LOGGED_OUT
        self._sequence = 0
        self._request: Request | None = None
        self._request_bytes = b""
        self._resends = 0
        self._buffer = FrameBuffer()

    # -- sending --------------------------------------------------------------------------

    def send(self, request: Request) -> bytes:
        """Bytes to write for ``request``. One request at a time: SIP2 strictly alternates."""
        if self.state is ClientState.AWAITING:
            raise ProtocolStateError(
                f"cannot send {type(request).__name__}: {type(self._request).__name__} awaits its response"
            )
        if isinstance(request, RequestACSResend):
            raise ProtocolStateError("97 is sent by the session itself when a response is corrupted")
        sequence = self._sequence if self.error_detection else None
        data = encode(request, encoding=self.encoding, sequence=sequence, terminator=self.terminator)
        self._request = request
        self._request_bytes = data
        self._resends = 0
        self.state = ClientState.AWAITING
        return data

    @property
    def request_in_flight(self) -> Request | None:
        return self._request if self.state is ClientState.AWAITING else None

    @property
    def safe_to_repeat(self) -> bool:
        """Whether the request in flight may be sent again on a new connection."""
        return self._request is not None and self._request.code in SAFE_TO_REPEAT

    # -- receiving ------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> list[Event]:
        """Feed bytes from the socket; returns what happened, in order."""
        events: list[Event] = []
        for raw in self._buffer.feed(data):
            event = self._receive_frame(raw)
            if event is not None:
                events.append(event)
        return events

    def _receive_frame(self, raw: bytes) -> Event | None:
        request = self._request
        if self.state is not ClientState.AWAITING or request is None:
            raise SIP2DecodeError("unsolicited frame from the ILS", raw)
        try:
            frame = decode_frame(raw, encoding=self.encoding, strict=self.strict)
        except ChecksumError:
            return self._resend(
                encode(RequestACSResend(), error_detection=True, terminator=self.terminator),
                "response checksum did not match; asked the ILS to resend (97)",
                raw,
            )
        msg = frame.message
        if isinstance(msg, RequestSCResend):
            return self._resend(self._request_bytes, "the ILS asked for a resend (96)", raw)
        expected = RESPONSE_FOR.get(request.code)
        if expected is not None and not isinstance(msg, expected):
            raise SIP2DecodeError(
                f"expected {expected.__name__} for {type(request).__name__}, got {type(msg).__name__}", raw
            )
        if (
            self.error_detection
            and frame.sequence is not None
            and frame.sequence != self._sequence
        ):
            raise SIP2DecodeError(
                f"response sequence {frame.sequence} does not match request sequence {self._sequence}", raw
            )
        self._complete(request, msg)
        assert isinstance(msg, Response)
        return ResponseReceived(msg, frame)

    def _resend(self, data: bytes, reason: str, raw: bytes) -> SendAgain:
        self._resends += 1
        if self._resends > self.max_resends:
            raise SIP2DecodeError(f"gave up after {self.max_resends} resends: {reason}", raw)
        return SendAgain(data, reason)

    def _complete(self, request: Request, response: object) -> None:
        if self.error_detection:
            self._sequence = (self._sequence + 1) % 10
        self._request = None
        if isinstance(request, Login):
            ok = isinstance(response, LoginResponse) and response.ok
            self.state = ClientState.IDLE if ok else ClientState.LOGGED_OUT
        else:
            self.state = ClientState.IDLE

    def mark_logged_in(self) -> None:
        """For ACSs configured without login (the first request is not a 93)."""
        if self.state is ClientState.LOGGED_OUT:
            self.state = ClientState.IDLE

    def connection_lost(self) -> Request | None:
        """Reset for a new connection; returns the request whose response was lost, if any."""
        lost = self.request_in_flight
        self.state = ClientState.LOGGED_OUT
        self._request = None
        self._buffer = FrameBuffer()
        return lost


# --- server side -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestReceived:
    request: Request
    frame: Frame


@dataclass(frozen=True, slots=True)
class Reply:
    """Bytes the server must write without consulting the application (96 or a 97 resend)."""

    data: bytes
    reason: str


@dataclass(frozen=True, slots=True)
class BadFrame:
    """Undecodable input; ``reply`` is the 96 to send, the error says what was wrong."""

    error: SIP2DecodeError
    reply: bytes


ServerEvent = RequestReceived | Reply | BadFrame


class ServerSession:
    """The ACS side of one connection: framing, 96/97 and reply numbering."""

    def __init__(self, *, encoding: str = "cp850", terminator: bytes = CR, strict: bool = False) -> None:
        self.encoding = encoding
        self.terminator = terminator
        self.strict = strict
        self._buffer = FrameBuffer()
        self._last_response = b""
        self._resend_96 = encode(RequestSCResend(), error_detection=True, terminator=terminator)

    def receive_data(self, data: bytes) -> list[ServerEvent]:
        try:
            raws = self._buffer.feed(data)
        except SIP2DecodeError as exc:
            return [BadFrame(exc, self._resend_96)]
        events: list[ServerEvent] = []
        for raw in raws:
            try:
                frame = decode_frame(raw, encoding=self.encoding, strict=self.strict)
            except SIP2DecodeError as exc:
                events.append(BadFrame(exc, self._resend_96))
                continue
            if isinstance(frame.message, RequestACSResend):
                events.append(Reply(self._last_response or self._resend_96, "resend of the last response"))
            elif isinstance(frame.message, Request):
                events.append(RequestReceived(frame.message, frame))
            else:
                events.append(BadFrame(SIP2DecodeError("a response sent to the ACS", raw), self._resend_96))
        return events

    def respond(self, response: Response, to: Frame) -> bytes:
        """Encode ``response`` numbered like the request (error detection auto-detected per message)."""
        data = encode(
            response,
            encoding=self.encoding,
            sequence=to.sequence if to.had_checksum else None,
            terminator=self.terminator,
            errors="replace",  # a title in the wrong code page must not cost the patron the answer
        )
        self._last_response = data
        return data

    def remember(self, data: bytes) -> None:
        """Record raw bytes sent outside :meth:`respond`, so a 97 repeats them."""
        self._last_response = data
