"""One small HTTP server for IT: ``/metrics`` (Prometheus text) and ``/healthz`` (JSON).

stdlib ``wsgiref`` on a thread, with prometheus-client's own WSGI app for ``/metrics`` (it does
content negotiation, gzip and ``name[]=`` filtering): no web framework for two routes. Requests are
served one thread each, so a slow scraper never holds up another; access lines go to the debug log,
not stderr (a scrape every 15 s would otherwise drown the journal).

``/healthz`` answers 200 while the kiosk serves patrons (``status`` "ok" or "degraded") and 503 while
it is out of service, so a plain HTTP probe (Prometheus's blackbox exporter, a load balancer, a
shell loop with curl) can tell the difference without parsing the body.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app

from kiosk.ops.metrics import KioskMetrics
from kiosk.ops.settings import split_listen

log = logging.getLogger("kiosk.ops.server")

StartResponse = Callable[..., Any]
Environ = dict[str, Any]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _Server6(_Server):
    address_family = socket.AF_INET6


def ops_app(metrics: KioskMetrics) -> Callable[[Environ, StartResponse], Iterable[bytes]]:
    """The WSGI application: /metrics, /healthz, and a one-line index at /."""
    prometheus = make_wsgi_app(metrics.registry)

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/metrics":
            return prometheus(environ, start_response)  # type: ignore[no-any-return]
        if path == "/healthz":
            report = metrics.health_report()
            body = json.dumps(report, ensure_ascii=False, sort_keys=True).encode("utf-8")
            status = "503 Service Unavailable" if report["status"] == "out_of_service" else "200 OK"
            start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                                    ("Cache-Control", "no-store")])
            return [body]
        if path == "/":
            body = b"library kiosk: /metrics (Prometheus), /healthz (JSON)\n"
            start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
            return [body]
        start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"not found\n"]

    return app


class OpsServer:
    """Serves :func:`ops_app` on ``listen`` ("host:port"; port 0 picks a free one) until closed."""

    def __init__(self, listen: str, metrics: KioskMetrics) -> None:
        self.listen = listen
        self.metrics = metrics
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        if self._server is None:
            raise RuntimeError("the ops server is not running")
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> OpsServer:
        """Bind and serve; raises OSError when the address cannot be bound (in use, not ours)."""
        host, port = split_listen(self.listen)
        server_class = _Server6 if ":" in host else _Server
        self._server = make_server(host, port, ops_app(self.metrics), server_class=server_class,
                                   handler_class=_QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="kiosk-ops-http", daemon=True)
        self._thread.start()
        log.info("metrics and health on http://%s/metrics and /healthz", self.listen)
        return self

    def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def __enter__(self) -> OpsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
