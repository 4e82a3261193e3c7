"""``SetSecurity`` on a real reader: write AFI/EAS for every tag of an item, read back, report.

The core turns security off only after the ILS confirmed a loan, and shows "done" only on a
``SecuritySet(ok=True)``; so this answers ok only when every tag was verified in the wanted state,
and names the tags that were not (a part lifted off the pad half-way), for "put it back" prompts.
"""

from __future__ import annotations

import logging

from kiosk.circulation.commands import SetSecurity
from kiosk.circulation.events import SecuritySet
from kiosk.hardware.rfid.readers.base import ReaderError, ReaderUnavailable, TagReader
from kiosk.hardware.rfid.security import SecurityScheme, SecurityState, set_security

log = logging.getLogger(__name__)


class TagSecurity:
    """Security writes through ``reader``. Pass the same
    :class:`~kiosk.hardware.rfid.readers.shared.SharedReader` the tag watcher polls, so writes and
    inventories take turns on the one serial line.

    ``attempts`` is per tag and per command (write + read-back cycles); the core decides how often
    to send the command again before it asks for help (``circulation.security_attempts``).
    """

    def __init__(self, reader: TagReader, scheme: SecurityScheme, *, attempts: int = 2) -> None:
        self.reader = reader
        self.scheme = scheme
        self.attempts = attempts

    def perform(self, command: SetSecurity) -> SecuritySet:
        state = SecurityState.ON_LOAN if command.on_loan else SecurityState.IN_LIBRARY
        failed: list[bytes] = []
        problems: list[str] = []
        for index, uid in enumerate(command.uids):
            try:
                set_security(self.reader, uid, state, self.scheme, attempts=self.attempts)
            except ReaderUnavailable as exc:
                failed.extend(command.uids[index:])  # the reader is gone: nothing after this was written
                problems.append(str(exc))
                break
            except ReaderError as exc:
                failed.append(uid)
                problems.append(str(exc))
        if problems:
            log.info("security %s: %s", state.value, "; ".join(problems))
        return SecuritySet(command.ref, ok=not failed, failed_uids=tuple(failed), detail="; ".join(problems))
