"""One journal line per ILS transaction, from the runner's steps:
``event=checkout result=ok patron=****0018 item=31234000000016 ms=23``.

IT's first question after a patron's complaint is "what did the kiosk do with that item, when, and
what did the ILS say": this answers it from the journal of the service (``journalctl -u kiosk-ui |
grep item=...``) without a debug level. The patron id is masked by the log handler
(:mod:`kiosk.ops.logging`); PINs are never among the fields; the ILS's refusal text is kept out
(it can name the patron: "Mrs Müller has 3 overdue items"), only the failure kind is logged.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Iterable

from kiosk.circulation.events import IlsFailed
from kiosk.ops.logging import event
from kiosk.ops.metrics import MAX_PENDING, TRANSACTION_TYPES, result_of

log = logging.getLogger("kiosk.transactions")


class StepLog:
    """A runner ``on_step`` observer that logs each ILS command's outcome as one event line."""

    def __init__(self, logger: logging.Logger = log, clock: Callable[[], float] = time.monotonic) -> None:
        self._log = logger
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: collections.OrderedDict[str, tuple[str, str, str, float]] = collections.OrderedDict()

    def __call__(self, event_: object, state: object, commands: Iterable[object]) -> None:
        now = self._clock()
        result = result_of(event_)
        if result is not None:
            with self._lock:
                pending = self._pending.pop(getattr(event_, "ref", ""), None)
            if pending is not None:
                kind, patron, item, sent = pending
                fields: dict[str, object] = {"result": result}
                if patron:
                    fields["patron"] = patron
                if item:
                    fields["item"] = item
                fields["ms"] = round((now - sent) * 1000)
                if isinstance(event_, IlsFailed):
                    fields["failure"] = str(event_.failure.kind)
                level = logging.WARNING if result in ("unreachable", "unknown") else logging.INFO
                event(self._log, kind, level, **fields)
        for command in commands:
            kind = TRANSACTION_TYPES.get(type(command))
            ref = getattr(command, "ref", None)
            if kind is None or ref is None:
                continue
            with self._lock:
                self._pending[ref] = (kind, getattr(command, "patron_id", ""), getattr(command, "item_id", ""), now)
                while len(self._pending) > MAX_PENDING:
                    self._pending.popitem(last=False)
