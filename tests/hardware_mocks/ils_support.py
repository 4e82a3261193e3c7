"""Shared by the ILS simulator tests: a bare SIP2 conversation over a real socket.

Deliberately not the project's client: these tests check the server, so the client side is the
codec alone (sip2.codec.encode/decode) and a socket, with every frame visible to the test.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager

from hardware_mocks.ils import IlsSimulator
from hardware_mocks.ils import scenarios as S
from sip2.codec import decode_frame, encode
from sip2.messages import Login, LoginResponse, Request, Response

TIMEOUT = 5.0


class Wire:
    """One SIP2 connection. ``request`` sends with AY/AZ (unless ``error_detection`` is off) and
    returns the decoded answer, checking that its sequence number echoes ours."""

    def __init__(
        self,
        address: tuple[str, int],
        *,
        encoding: str = "cp850",
        error_detection: bool = True,
        timeout: float = TIMEOUT,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        sock = socket.create_connection(address, timeout=timeout)
        if ssl_context is not None:
            sock = ssl_context.wrap_socket(sock, server_hostname="localhost")
        self.sock = sock
        self.encoding = encoding
        self.error_detection = error_detection
        self.sequence = 0
        self._buffer = b""
        self.last_raw = b""

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_frame(self) -> bytes:
        """The next CR-terminated frame, or b"" if the server closed the connection."""
        while b"\r" not in self._buffer:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                rest, self._buffer = self._buffer, b""
                return rest
            self._buffer += chunk
        frame, _, self._buffer = self._buffer.partition(b"\r")
        self.last_raw = frame + b"\r"
        return self.last_raw

    def send(self, msg: Request) -> bytes:
        sequence = self.sequence if self.error_detection else None
        data = encode(msg, encoding=self.encoding, sequence=sequence)
        self.sock.sendall(data)
        return data

    def request(self, msg: Request) -> Response:
        sequence = self.sequence
        self.send(msg)
        raw = self.read_frame()
        if not raw:
            raise ConnectionError(f"the server closed the connection instead of answering {msg.code}")
        frame = decode_frame(raw, encoding=self.encoding)
        if self.error_detection:
            assert frame.had_checksum, raw
            assert frame.sequence == sequence, raw
            self.sequence = (self.sequence + 1) % 10
        response = frame.message
        assert isinstance(response, Response), raw
        return response

    def login(self, user: str = S.LOGIN_USER, password: str = S.LOGIN_PASSWORD) -> LoginResponse:
        response = self.request(Login(login_user_id=user, login_password=password, location_code="kiosk1"))
        assert isinstance(response, LoginResponse)
        return response

    def closed_by_server(self) -> bool:
        """True when the server has closed its side (EOF on read)."""
        return self.read_frame() == b""

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Wire:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def logged_in(sim: IlsSimulator, **kwargs: object) -> Iterator[Wire]:
    """A connection to ``sim`` that has logged in with the default account."""
    with Wire(sim.address, encoding=sim.encoding, **kwargs) as wire:  # type: ignore[arg-type]
        assert wire.login().ok
        yield wire


@contextmanager
def running_simulator(**kwargs: object) -> Iterator[IlsSimulator]:
    """One server per test module: stopping a socketserver waits for its poll (0.5 s), so the
    tests reset the library between tests instead of restarting the server."""
    sim = IlsSimulator(**kwargs)  # type: ignore[arg-type]
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()
