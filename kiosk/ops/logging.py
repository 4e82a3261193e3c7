"""One journal line per event, ``key=value``, with patron ids masked and secrets scrubbed.

Why key=value (logfmt) and not JSON: IT reads ``journalctl -u kiosk-ui`` by eye far more often than
a machine parses it, and ``journalctl ... | grep event=checkout`` works either way. Why one line:
journald stores each line as its own entry, so a traceback or a value with a newline is escaped
onto the event's line instead of scattering it.

Under systemd (``$JOURNAL_STREAM`` set) every line starts with a ``<N>`` syslog priority, which
journald turns into the entry's priority (``journalctl -p warning`` then works) and no timestamp
is written (journald adds its own); elsewhere lines carry an ISO timestamp.

Privacy is enforced here, on every record of every logger, not left to each call site:

* fields of :func:`event` named like a patron id (``patron``, ``patron_id``, ``card``) are masked
  to their last four characters (``****0018``), as on receipts;
* fields named like a secret (``pin``, ``password``, ``token``...) are replaced by ``****``;
* message text is scrubbed: SIP2 fields AD (PIN), CO (login password), AC (terminal password) are
  masked wherever a frame appears, as are AA (patron id), AE (patron name), BE (e-mail) and
  BF (phone); ``password=...``/``pin: ...`` style pairs lose their value.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any

from kiosk.circulation.session_text import masked

if TYPE_CHECKING:
    from kiosk.ops.settings import LoggingSettings

MASK = "****"

#: Field names whose values are never written (compared lower-case; suffixes catch
#: ``sip2_password``, ``staff_pin``, ``api_token``...).
SECRET_NAMES = frozenset({"pin", "password", "passwd", "pwd", "secret", "token", "authorization", "api_key",
                          "apikey", "credentials", "webhook_url", "cookie"})
_SECRET_SUFFIXES = ("_pin", "_password", "_passwd", "_secret", "_token", "_key_pass")
#: Field names whose values are patron ids: masked to the last four characters.
PATRON_NAMES = frozenset({"patron", "patron_id", "card", "card_id"})

# SIP2 fields that must not reach a log whole: secrets (masked) and patron data (masked / dropped).
_SIP2_SECRET = re.compile(r"(?<=\|)(AD|CO|AC)[^|\r\n]*")
_SIP2_PATRON_ID = re.compile(r"(?<=\|)AA([^|\r\n]*)")
_SIP2_PERSONAL = re.compile(r"(?<=\|)(AE|BE|BF|BD)[^|\r\n]*")
_SECRET_PAIR = re.compile(
    r"(?i)\b(pin|password|passwd|pwd|secret|token|api_key|authorization)(\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|[^\s,;&]+)"
)


def is_secret(name: str) -> bool:
    lowered = name.lower()
    return lowered in SECRET_NAMES or lowered.endswith(_SECRET_SUFFIXES)


def scrub(text: str) -> str:
    """``text`` with SIP2 secrets and patron data masked and ``secret=value`` pairs emptied."""
    if "|" in text:
        text = _SIP2_SECRET.sub(lambda m: m.group(1) + MASK, text)
        text = _SIP2_PATRON_ID.sub(lambda m: "AA" + masked(m.group(1)), text)
        text = _SIP2_PERSONAL.sub(lambda m: m.group(1) + MASK, text)
    return _SECRET_PAIR.sub(lambda m: m.group(1) + m.group(2) + MASK, text)


def safe_value(name: str, value: object) -> object:
    """What a field may show in the log: secrets never, patron ids masked."""
    if is_secret(name):
        return MASK
    if name.lower() in PATRON_NAMES and value is not None:
        return masked(str(value))
    return value


def event(logger: logging.Logger, name: str, level: int = logging.INFO, **fields: object) -> None:
    """Log one event as ``event=name key=value...`` (fields keep their order)."""
    logger.log(level, name, extra={"kv": fields})


_BARE = re.compile(r"[^\s\"=\\]+")


def format_value(value: object) -> str:
    """logfmt: bare when it can be, else a JSON string (escapes quotes, backslashes and newlines)."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = ""
    elif isinstance(value, float):
        text = f"{value:g}"
    else:
        text = str(value)
    return text if _BARE.fullmatch(text) else json.dumps(text, ensure_ascii=False)


_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}


class KeyValueFormatter(logging.Formatter):
    """``level=info logger=kiosk.sync event=... k=v`` or ``... msg="..."``; always one line."""

    def __init__(self, *, journald: bool) -> None:
        super().__init__()
        self.journald = journald

    def format(self, record: logging.LogRecord) -> str:
        pairs: list[tuple[str, object]] = []
        if not self.journald:
            pairs.append(("time", time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(record.created))))
        pairs += [("level", record.levelname.lower()), ("logger", record.name)]
        fields: Mapping[str, object] | None = getattr(record, "kv", None)
        if isinstance(fields, Mapping):
            pairs.append(("event", scrub(str(record.msg))))
            pairs += [(key, _scrubbed(safe_value(key, value))) for key, value in fields.items()]
        else:
            pairs.append(("msg", scrub(record.getMessage())))
        if record.exc_info:
            pairs.append(("exc", scrub(self.formatException(record.exc_info))))
        line = " ".join(f"{key}={format_value(value)}" for key, value in pairs)
        if self.journald:
            return f"<{_priority(record.levelno)}>{line}"
        return line


def _scrubbed(value: object) -> object:
    return scrub(value) if isinstance(value, str) else value


def _priority(levelno: int) -> int:
    for level in sorted(_PRIORITY, reverse=True):
        if levelno >= level:
            return _PRIORITY[level]
    return 7


class ScrubFilter(logging.Filter):
    """Scrubs the formatted message of every record that passes (for handlers other than ours,
    e.g. Kivy's console handler): the message is formatted, scrubbed, and its args dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not isinstance(getattr(record, "kv", None), Mapping):
            try:
                record.msg = scrub(record.getMessage())
            except Exception:  # a broken %-format: keep the record, drop what could not be formatted
                record.msg = scrub(str(record.msg))
            record.args = None
        return True


_MARK = "_kiosk_ops_handler"
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def setup_logging(
    settings: LoggingSettings | None = None,
    *,
    stream: IO[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> logging.Handler:
    """Send every logger's records through one key=value handler on stderr (replacing one set up
    before, so calling twice is harmless). Returns the handler."""
    env = os.environ if environ is None else environ
    level = LEVELS[settings.level] if settings is not None else logging.INFO
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(KeyValueFormatter(journald=bool(env.get("JOURNAL_STREAM"))))
    handler.addFilter(ScrubFilter())
    setattr(handler, _MARK, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _MARK, False) or _is_default(h)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # SIP2 frames carry patron names, titles and addresses: only when IT asks, for a diagnosis.
    frames = settings is not None and settings.wire_frames
    logging.getLogger("sip2.wire").setLevel(logging.DEBUG if frames else max(level, logging.INFO))
    return handler


def _is_default(handler: logging.Handler) -> bool:
    """basicConfig's handler (a plain StreamHandler on stderr): superseded by ours."""
    return type(handler) is logging.StreamHandler and getattr(handler, "stream", None) in (sys.stderr, sys.stdout)


def fields_of(record: logging.LogRecord) -> dict[str, Any]:
    """The structured fields of a record made with :func:`event` (for tests and other handlers)."""
    fields = getattr(record, "kv", None)
    return dict(fields) if isinstance(fields, Mapping) else {}
