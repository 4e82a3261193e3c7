"""Servers for the client tests: a scripted ACS on the server toolkit, and a raw byte peer."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from sip2 import messages as m
from sip2.client import ClientConfig
from sip2.server import ConnectionContext, Router, SIP2Server


@dataclass
class ScriptedILS:
    """A minimal ACS: accepts user ``kiosk``/``secret`` and records every request it handles."""

    router: Router = field(default_factory=Router)
    seen: list[m.Request] = field(default_factory=list)
    logins: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        r = self.router

        @r.route(m.Login)
        def login(req: m.Login, ctx: ConnectionContext) -> m.Response:
            with self.lock:
                self.logins += 1
            ctx.logged_in = (req.login_user_id, req.login_password) == ("kiosk", "secret")
            return m.LoginResponse(ok=ctx.logged_in)

        @r.route(m.SCStatus)
        def status(req: m.SCStatus, ctx: ConnectionContext) -> m.Response:
            return m.ACSStatus(institution_id="LIB", timeout_period=600, retries_allowed=3)

    def handle(self, request: m.Request, ctx: ConnectionContext):
        with self.lock:
            self.seen.append(request)
        return self.router.handle(request, ctx)

    def count(self, cls: type[m.Request]) -> int:
        with self.lock:
            return sum(isinstance(r, cls) for r in self.seen)


@pytest.fixture
def ils() -> Iterator[tuple[ScriptedILS, SIP2Server]]:
    app = ScriptedILS()
    server = SIP2Server(app).start()
    try:
        yield app, server
    finally:
        server.stop()


def client_config(server: SIP2Server, **overrides) -> ClientConfig:
    host, port = server.address
    base = dict(host=host, port=port, username="kiosk", password="secret", location="kiosk1",
                institution_id="LIB", timeout=2.0, connect_timeout=2.0)
    base.update(overrides)
    return ClientConfig(**base)


class RawPeer:
    """A TCP peer that answers each received frame with whatever ``script(frame, n)`` returns.

    ``None`` closes the connection. Used where the toolkit would be too well-behaved: corrupted
    responses, wrong sequence numbers, answers that never come.
    """

    def __init__(self, script: Callable[[bytes, int], bytes | None]) -> None:
        self.script = script
        self.frames: list[bytes] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address = self._listener.getsockname()[:2]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with conn:
                buf = b""
                while True:
                    try:
                        chunk = conn.recv(4096)
                    except OSError:
                        break
                    if not chunk:
                        break
                    buf += chunk
                    closed = False
                    while b"\r" in buf:
                        frame, buf = buf.split(b"\r", 1)
                        self.frames.append(frame + b"\r")
                        answer = self.script(frame + b"\r", len(self.frames))
                        if answer is None:
                            closed = True
                            break
                        conn.sendall(answer)
                    if closed:
                        break

    def close(self) -> None:
        self._listener.close()


@pytest.fixture
def raw_peer() -> Iterator[Callable[[Callable[[bytes, int], bytes | None]], RawPeer]]:
    peers: list[RawPeer] = []

    def make(script: Callable[[bytes, int], bytes | None]) -> RawPeer:
        peer = RawPeer(script)
        peers.append(peer)
        return peer

    yield make
    for peer in peers:
        peer.close()
