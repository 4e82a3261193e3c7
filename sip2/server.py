"""A small threaded SIP2 server: decodes requests and dispatches them to an application.

For simulators, test peers and mediators, not for serving a library's whole fleet. Each
connection gets a thread and a :class:`~sip2.session.ServerSession`; the application sees
typed requests and returns typed responses. It may also return raw ``bytes`` (sent as they
are, for fault injection) or ``None`` (close the connection without answering).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sip2.codec import CR
from sip2.errors import SIP2EncodeError
from sip2.masking import masked_frame
from sip2.messages import Login, Request, Response, SCStatus
from sip2.session import BadFrame, Reply, RequestReceived, ServerSession

log = logging.getLogger("sip2.server")


@dataclass
class ConnectionContext:
    """What an application knows about the connection a request came on."""

    peer: tuple[str, int]
    server: SIP2Server
    logged_in: bool = False
    login_user: str | None = None
    requests: int = 0
    data: dict[str, Any] = field(default_factory=dict)
    closed: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class Corrupted:
    """Fault injection: send ``response`` damaged by ``damage`` (applied to the encoded frame).

    A 97 that follows gets the undamaged frame, as from a real ILS whose answer was hit on the
    wire, so a client's recovery can be tested.
    """

    response: Response
    damage: Callable[[bytes], bytes]


HandlerResult = Response | Corrupted | bytes | None
_HandlerFn = Callable[..., HandlerResult]


class Application(Protocol):
    def handle(self, request: Request, ctx: ConnectionContext) -> HandlerResult: ...


class Router:
    """Dispatch by request class: ``router.route(Checkout)(fn)``; unrouted requests get ``fallback``."""

    def __init__(self, fallback: Callable[[Request, ConnectionContext], HandlerResult] | None = None) -> None:
        self._routes: dict[type[Request], Callable[[Any, ConnectionContext], HandlerResult]] = {}
        self._fallback = fallback

    def route(self, request_type: type[Request]) -> Callable[[_HandlerFn], _HandlerFn]:
        def register(fn: _HandlerFn) -> _HandlerFn:
            self._routes[request_type] = fn
            return fn

        return register

    def handle(self, request: Request, ctx: ConnectionContext) -> HandlerResult:
        fn = self._routes.get(type(request))
        if fn is not None:
            return fn(request, ctx)
        if self._fallback is not None:
            return self._fallback(request, ctx)
        return None


class _Handler(socketserver.BaseRequestHandler):
    server: _TCPServer

    def handle(self) -> None:
        owner = self.server.owner
        sock: socket.socket = self.request
        ctx = ConnectionContext(peer=self.client_address, server=owner)
        session = ServerSession(encoding=owner.encoding, terminator=owner.terminator, strict=owner.strict)
        owner._track(sock, add=True)
        try:
            sock.settimeout(owner.idle_timeout)
            while not ctx.closed.is_set():
                try:
                    data = sock.recv(65536)
                except (TimeoutError, OSError):
                    break  # idle timeout or reset: close silently, as SIPServer does
                if not data:
                    break
                for event in session.receive_data(data):
                    if not self._serve(event, sock, session, ctx, owner):
                        return
        finally:
            owner._track(sock, add=False)
            ctx.closed.set()

    @staticmethod
    def _serve(event: Any, sock: socket.socket, session: ServerSession, ctx: ConnectionContext,
               owner: SIP2Server) -> bool:
        if isinstance(event, BadFrame):
            log.warning("bad frame from %s: %s", ctx.peer, event.error.reason)
            sock.sendall(event.reply)
            return True
        if isinstance(event, Reply):
            sock.sendall(event.data)
            return True
        assert isinstance(event, RequestReceived)
        request = event.request
        ctx.requests += 1
        if log.isEnabledFor(logging.DEBUG):
            log.debug("<< %s", masked_frame(event.frame.raw, owner.encoding))
        early_status = owner.allow_status_before_login and isinstance(request, SCStatus)
        exempt = isinstance(request, Login) or early_status
        if owner.require_login and not ctx.logged_in and not exempt:
            log.info("closing %s: %s before login", ctx.peer, type(request).__name__)
            return False
        result = owner.app.handle(request, ctx)
        if result is None:
            return False
        try:
            if isinstance(result, bytes):
                session.remember(result)
                data = result
            elif isinstance(result, Corrupted):
                data = result.damage(session.respond(result.response, event.frame))
            else:
                data = session.respond(result, event.frame)
        except SIP2EncodeError as exc:
            log.error("cannot encode the answer to %s for %s: %s", type(request).__name__, ctx.peer, exc)
            return False
        if log.isEnabledFor(logging.DEBUG):
            log.debug(">> %s", masked_frame(data, owner.encoding))
        try:
            sock.sendall(data)
        except OSError:
            return False
        return True


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: SIP2Server

    def __init__(self, address: tuple[str, int], ssl_context: ssl.SSLContext | None) -> None:
        self._ssl_context = ssl_context
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        if self._ssl_context is not None:
            sock.settimeout(10)
            sock = self._ssl_context.wrap_socket(sock, server_side=True)
            sock.settimeout(None)
        return sock, addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.warning("connection from %s ended with an error", client_address, exc_info=True)


class SIP2Server:
    """Serve ``app`` on ``host:port`` (port 0 picks a free one; see :attr:`address`).

    ``require_login`` closes a connection whose first request is not a 93, like SIPServer and
    pysip2 do (reference §1.1); the application decides whether the login is accepted by
    setting ``ctx.logged_in``.
    """

    def __init__(
        self,
        app: Application,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        encoding: str = "cp850",
        terminator: bytes = CR,
        strict: bool = False,
        ssl_context: ssl.SSLContext | None = None,
        idle_timeout: float | None = None,
        require_login: bool = True,
        allow_status_before_login: bool = False,
    ) -> None:
        self.app = app
        self.encoding = encoding
        self.terminator = terminator
        self.strict = strict
        self.idle_timeout = idle_timeout
        self.require_login = require_login
        self.allow_status_before_login = allow_status_before_login
        self._tcp = _TCPServer((host, port), ssl_context)
        self._tcp.owner = self
        self._thread: threading.Thread | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._tcp.server_address[:2]
        return str(host), int(port)

    def start(self) -> SIP2Server:
        # A short poll interval makes stop() prompt (socketserver's default costs 0.5 s).
        self._thread = threading.Thread(
            target=self._tcp.serve_forever, kwargs={"poll_interval": 0.05}, name="sip2-server", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._tcp.serve_forever()

    def drop_connections(self) -> int:
        """Close every open connection at once (fault injection); returns how many."""
        with self._lock:
            socks = list(self._sockets)
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        return len(socks)

    def stop(self) -> None:
        self._tcp.shutdown()
        self._tcp.server_close()
        self.drop_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _track(self, sock: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._sockets.add(sock)
            else:
                self._sockets.discard(sock)

    def __enter__(self) -> SIP2Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
