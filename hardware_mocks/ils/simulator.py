"""The simulated ILS as one object: library + SIP2 application + fault controls + a real TCP
(or TLS) server on loopback. Tests and the demo start it in-process; ``kiosk ils-sim`` runs it
on its own.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from datetime import datetime
from typing import Any

from hardware_mocks.ils.app import IlsApp
from hardware_mocks.ils.faults import Faults
from hardware_mocks.ils.library import Behaviour, Library
from sip2.dialects import get_dialect
from sip2.server import SIP2Server


class _SimServer(SIP2Server):
    """A SIP2Server whose idle timeout a test can change while it runs: the toolkit reads
    ``idle_timeout`` once per new connection, so the fault setting overrides it there."""

    def __init__(self, *args: Any, faults: Faults, **kwargs: Any) -> None:
        self._faults = faults
        self._base_idle_timeout: float | None = None
        super().__init__(*args, **kwargs)

    @property  # type: ignore[override]
    def idle_timeout(self) -> float | None:
        override = self._faults.idle_timeout
        return self._base_idle_timeout if override is None else override

    @idle_timeout.setter
    def idle_timeout(self, seconds: float | None) -> None:
        self._base_idle_timeout = seconds


class IlsSimulator:
    """Serve a :class:`Library` over SIP2. Use as a context manager, or ``start()``/``stop()``.

    ``dialect`` picks the encoding, terminator and circulation behaviour a real ILS of that kind
    has (:mod:`sip2.dialects`); ``encoding`` and ``behaviour`` override them. Port 0 picks a free
    port (see :attr:`address`); :meth:`restart` comes back on the same port, so a client can be
    shown an ILS that went away and returned.
    """

    def __init__(
        self,
        library: Library | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        dialect: str = "generic",
        encoding: str | None = None,
        behaviour: Behaviour | None = None,
        accounts: dict[str, str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        idle_timeout: float | None = None,
        require_login: bool = True,
        faults: Faults | None = None,
    ) -> None:
        profile = get_dialect(dialect)
        self.dialect = profile.name
        self.encoding = encoding or profile.encoding
        self.terminator = profile.terminator
        behaviour = behaviour or Behaviour.for_dialect(dialect)
        if library is None:
            library = Library.open(behaviour=behaviour)
        else:
            library.behaviour = behaviour
        self.library = library
        self.faults = faults or Faults()
        self.app = IlsApp(library, self.faults, accounts=accounts)
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.idle_timeout = idle_timeout
        self.require_login = require_login
        self._server: _SimServer | None = None

    @property
    def address(self) -> tuple[str, int]:
        if self._server is None:
            raise RuntimeError("the ILS simulator is not running")
        return self._server.address

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> IlsSimulator:
        if self._server is not None:
            return self
        server = _SimServer(
            self.app,
            self.host,
            self.port,
            faults=self.faults,
            encoding=self.encoding,
            terminator=self.terminator,
            ssl_context=self.ssl_context,
            idle_timeout=self.idle_timeout,
            require_login=self.require_login,
        )
        self.port = server.address[1]  # a restart comes back on the same port
        self._server = server.start()
        return self

    def stop(self) -> None:
        """Stop listening and close every connection (stalled ones included)."""
        server, self._server = self._server, None
        if server is not None:
            self.faults.release()
            server.stop()

    def restart(self) -> IlsSimulator:
        self.stop()
        return self.start()

    def drop_connections(self) -> int:
        """Close every open connection now (the ILS restarted its SIP2 service)."""
        return self._server.drop_connections() if self._server is not None else 0

    def reset(
        self,
        *,
        dialect: str | None = None,
        encoding: str | None = None,
        behaviour: Behaviour | None = None,
        data: dict[str, Any] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> Library:
        """A fresh copy of the sample library, no faults, no open connections; optionally another
        dialect or encoding (for connections opened from now on). Cheaper than a new server:
        stopping one waits for its accept loop to notice (up to half a second)."""
        self.faults.reset()
        self.drop_connections()
        if dialect is not None:
            profile = get_dialect(dialect)
            self.dialect = profile.name
            self.encoding = profile.encoding
            self.terminator = profile.terminator
        if encoding is not None:
            self.encoding = encoding
        if self._server is not None:
            self._server.encoding = self.encoding
            self._server.terminator = self.terminator
        self.library = Library.open(
            data=data, behaviour=behaviour or Behaviour.for_dialect(self.dialect), clock=clock
        )
        self.app.library = self.library
        return self.library

    def set_behaviour(self, dialect: str, **overrides: Any) -> None:
        """Switch circulation behaviour at runtime (repeated checkout, nb dates, not-on-loan)."""
        self.library.behaviour = Behaviour.for_dialect(dialect, **overrides)

    def reset_faults(self) -> None:
        self.faults.reset()

    def __enter__(self) -> IlsSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
