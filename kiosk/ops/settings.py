"""[logging], [metrics], [alerts], [central_config], [doctor]: the operations sections.

Schema sections in the style of :mod:`kiosk.config` (frozen dataclasses of ``setting(...)`` fields),
declared next to the code that reads them but in a module of their own that imports nothing heavier
than the schema primitives, so ``kiosk config check`` loads neither prometheus-client nor requests.
:func:`check_ops` holds the checks between keys for ``kiosk.config.CROSS_CHECKS``.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from kiosk.config_schema import (
    Check,
    boolean,
    existing_file,
    integer,
    non_negative_number,
    one_of,
    positive_number,
    setting,
    sip2_text,
    some_of,
)

ALERT_KINDS = ("bin_full", "out_of_service", "paper_out", "offline", "exceptions")


def split_listen(value: str) -> tuple[str, int]:
    """``"127.0.0.1:9464"`` or ``"[::1]:9464"`` -> (host, port); ValueError when it is neither.
    Port 0 (any free port) passes here, for tests; the setting itself asks for 1-65535."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"not host:port: {value!r}")
    if host.startswith("["):
        if not host.endswith("]"):
            raise ValueError(f"not host:port: {value!r}")
        host = host[1:-1]
        ipaddress.IPv6Address(host)
    elif ":" in host:
        raise ValueError(f"an IPv6 address needs brackets: {value!r}")
    elif not re.fullmatch(r"[A-Za-z0-9.-]+", host):
        raise ValueError(f"not a host name or address: {host!r}")
    return host, int(port)


def _listen_ok(value: object) -> bool:
    if not isinstance(value, str):
        return False
    if value == "":
        return True
    try:
        _host, port = split_listen(value)
    except ValueError:
        return False
    return port != 0


def listen_address() -> Check:
    return Check('"host:port" such as "127.0.0.1:9464" or "[::1]:9464", or "" for off', _listen_ok)


def _url_ok(value: object, schemes: tuple[str, ...]) -> bool:
    if not isinstance(value, str):
        return False
    if value == "":
        return True
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in schemes and bool(parts.hostname) and not any(c.isspace() for c in value)


def url_check(*schemes: str) -> Check:
    listed = " or ".join(f"{s}://" for s in schemes)
    return Check(f'a URL starting with {listed}, or "" for none', lambda v: _url_ok(v, schemes))


_ADDRESS = re.compile(r"[^@\s\"'<>,;()\[\]\\]+@[^@\s\"'<>,;()\[\]\\]+\.[^@\s\"'<>,;()\[\]\\.]+")


def address_list() -> Check:
    return Check(
        'an array of e-mail addresses such as ["it@example.org"]',
        lambda v: isinstance(v, list) and all(isinstance(a, str) and _ADDRESS.fullmatch(a) for a in v),
        convert=tuple,
    )


def sha256_hex() -> Check:
    return Check(
        'a SHA-256 as 64 hex digits (sha256sum prints it), or "" for none',
        lambda v: isinstance(v, str) and (v == "" or re.fullmatch(r"[0-9a-fA-F]{64}", v) is not None),
        convert=lambda v: v.lower(),
    )


def _ed25519_ok(value: object) -> bool:
    if not isinstance(value, str):
        return False
    if value == "":
        return True
    try:
        return len(base64.b64decode(value, validate=True)) == 32
    except ValueError:
        return False


def ed25519_public_key() -> Check:
    return Check('an Ed25519 public key: 32 bytes in base64 (44 characters), or "" for none', _ed25519_ok)


@dataclass(frozen=True, kw_only=True)
class LoggingSettings:
    """[logging]: what goes to the journal."""

    level: str = setting("info", check=one_of("debug", "info", "warning", "error"), doc="least severe level logged")
    wire_frames: bool = setting(False, check=boolean(), doc="log every SIP2 frame (diagnosis only)")


@dataclass(frozen=True, kw_only=True)
class MetricsSettings:
    """[metrics]: the Prometheus endpoint and /healthz."""

    listen: str = setting("127.0.0.1:9464", check=listen_address(), doc="address of /metrics and /healthz")


@dataclass(frozen=True, kw_only=True)
class AlertSettings:
    """[alerts]: messages to staff and IT when the kiosk needs a person."""

    webhook_url: str = setting("", check=url_check("https", "http"), doc="chat webhook (JSON with a text field)",
                               secret=True)
    email_to: tuple[str, ...] = setting((), check=address_list(), doc="addresses alerts are mailed to (needs [smtp])")
    kinds: tuple[str, ...] = setting(ALERT_KINDS, check=some_of("alert kinds", ALERT_KINDS),
                                     doc="which alerts are sent")
    offline_minutes: float = setting(15.0, check=positive_number(), doc="offline this long before an alert")
    min_interval_minutes: float = setting(
        10.0, check=non_negative_number(), doc="at most one message per kind in this time"
    )
    repeat_minutes: float = setting(240.0, check=non_negative_number(), doc="remind while still active; 0: never")
    notify_resolved: bool = setting(True, check=boolean(), doc="also say when a problem is gone")
    check_seconds: float = setting(30.0, check=positive_number(), doc="how often the journal is looked at")
    timeout_seconds: float = setting(10.0, check=positive_number(), doc="webhook request timeout")


@dataclass(frozen=True, kw_only=True)
class CentralConfigSettings:
    """[central_config]: the branch's config bundle, pulled over HTTPS by ``kiosk config pull``."""

    url: str = setting("", check=url_check("https"), doc="bundle URL; empty: no central config")
    digest: str = setting("", check=sha256_hex(), doc="the bundle's pinned SHA-256")
    public_key: str = setting("", check=ed25519_public_key(), doc="Ed25519 key the bundle is signed with")
    signature_url: str = setting("", check=url_check("https"), doc="signature URL; empty: the bundle URL + .sig")
    tls_ca_file: str | None = setting(None, check=existing_file(), doc="CA bundle; unset: system CAs")
    timeout_seconds: float = setting(30.0, check=positive_number(), doc="download timeout")


@dataclass(frozen=True, kw_only=True)
class DoctorSettings:
    """[doctor]: thresholds and test data of ``kiosk doctor``."""

    timeout_seconds: float = setting(15.0, check=positive_number(), doc="longest one check may take")
    test_item: str = setting("", check=sip2_text(), doc="item barcode whose title tests the encoding")
    min_free_disk_mb: int = setting(500, check=integer(1, 10_000_000), doc="warn below this much free disk")
    max_journal_mb: int = setting(200, check=integer(1, 10_000_000), doc="warn when the journal file is larger")
    stale_queue_minutes: float = setting(
        30.0, check=positive_number(), doc="warn when an unsent transaction is older"
    )
    max_clock_skew_seconds: float = setting(
        60.0, check=positive_number(), doc="warn when the ILS clock differs more"
    )


def check_ops(settings: Any, origin: Any) -> Iterator[str]:
    """Cross-key checks of the operations sections (a ``kiosk.config.CrossCheck``)."""
    central: CentralConfigSettings = settings.central_config
    if central.url and not (central.digest or central.public_key):
        yield (
            f"{origin.label('central_config.url')}: central_config.url: expected central_config.digest or "
            "central_config.public_key as well (a bundle that cannot be verified is never applied)"
        )
    if central.signature_url and not central.public_key:
        yield (
            f"{origin.label('central_config.signature_url')}: central_config.signature_url: "
            "a signature needs central_config.public_key to check it with"
        )
    alerts: AlertSettings = settings.alerts
    if alerts.email_to and not settings.smtp.host:
        yield (
            f"{origin.label('alerts.email_to')}: alerts.email_to: e-mail alerts need a mail server: "
            "set smtp.host (and smtp.from_address)"
        )
