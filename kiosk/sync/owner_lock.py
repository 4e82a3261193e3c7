"""Which process owns the transactions it has in flight: an flock per role, next to the journal.

A ``sending`` row may be on the wire right now (its process is alive and waiting for the ILS) or
left over from a crash. Only the second may be settled by asking the ILS, and only by one process
at a time. The kernel drops an flock when its process dies, SIGKILL and power loss included, so
"I can take the owner's lock" proves the owner is gone, and holding it keeps a restarting owner
from starting new work until the orphans are settled.

Roles, not pids: ``kiosk sync`` holds ``<journal>.sync.lock`` for its whole life, the kiosk UI
``<journal>.kiosk.lock``; systemd runs one of each.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path


class OwnerLock:
    """An exclusive, non-blocking flock on ``<journal path>.<role>.lock``."""

    def __init__(self, journal_path: str | os.PathLike[str], role: str) -> None:
        if not role.isidentifier():
            raise ValueError(f"owner role must be a plain word, got {role!r}")
        self.role = role
        self.path = Path(f"{os.fspath(journal_path)}.{role}.lock")
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> bool:
        """Take the lock; False if a live process (or another handle in this one) has it."""
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o660)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except OSError:
            os.close(fd)
            raise
        self._fd = fd
        return True

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor drops the flock

    @contextlib.contextmanager
    def taken(self) -> Iterator[bool]:
        """``with lock.taken() as mine:`` holds the lock for the block if it could be taken."""
        mine = self.acquire()
        try:
            yield mine
        finally:
            if mine:
                self.release()
