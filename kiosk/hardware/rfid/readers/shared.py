"""A reader shared by threads: the tag watcher polls while a session writes security.

A reader answers one frame at a time on one serial line (or one PC/SC card handle), so each call
holds the device for its whole exchange and the callers take turns. Wrap a driver once, hand the
wrapper to everyone.
"""

from __future__ import annotations

import threading

from kiosk.hardware.rfid.readers.base import SystemInfo, TagInfo, TagReader


class SharedReader(TagReader):
    """One reader for two threads: the watcher polls while the session writes security.

    A FEIG reader answers one frame at a time on one serial line, so each call holds the port for its
    whole exchange; the watcher's inventories and the checkout's AFI/EAS writes take turns.
    """

    def __init__(self, reader: TagReader) -> None:
        self._reader = reader
        self._lock = threading.RLock()
        self.name = reader.name
        self.capabilities = reader.capabilities

    def open(self) -> None:
        with self._lock:
            self._reader.open()

    def close(self) -> None:
        with self._lock:
            self._reader.close()

    def inventory(self) -> list[TagInfo]:
        with self._lock:
            return self._reader.inventory()

    def system_info(self, uid: bytes) -> SystemInfo:
        with self._lock:
            return self._reader.system_info(uid)

    def read_blocks(self, uid: bytes, first: int, count: int) -> bytes:
        with self._lock:
            return self._reader.read_blocks(uid, first, count)

    def write_blocks(self, uid: bytes, first: int, data: bytes) -> None:
        with self._lock:
            self._reader.write_blocks(uid, first, data)

    def write_afi(self, uid: bytes, afi: int) -> None:
        with self._lock:
            self._reader.write_afi(uid, afi)

    def set_eas(self, uid: bytes, enabled: bool) -> None:
        with self._lock:
            self._reader.set_eas(uid, enabled)

    def eas_enabled(self, uid: bytes) -> bool:
        with self._lock:
            return self._reader.eas_enabled(uid)

