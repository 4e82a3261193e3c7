"""The one interface every scanner driver offers, and the reader thread the device drivers share.

Interface (`Scanner`): ``start(on_event)`` opens the device and delivers `ScannerEvent`s to the
callback; ``stop()`` releases the device; ``start()`` again re-opens it (that is how a scanner that
was unplugged comes back without restarting the process); ``close()`` is final. Events are pushed to
a callback rather than pulled from an iterator because the runner already has one event queue: its
``put`` is the callback.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from typing import Generic, TypeVar

from kiosk.hardware.barcode.events import EventSink, ScannerError, ScannerEvent, ScannerUnavailable

log = logging.getLogger(__name__)

Handle = TypeVar("Handle")


class Scanner(ABC):
    """A barcode scanner. ``source`` names the device in events and logs."""

    source: str

    @abstractmethod
    def start(self, on_event: EventSink) -> None:
        """Open the device and deliver events to ``on_event``; raises `ScannerUnavailable`."""

    @abstractmethod
    def stop(self) -> None:
        """Stop delivering events and release the device. Safe to call when not started."""

    def close(self) -> None:
        """Stop for good; ``start()`` afterwards raises `ScannerError`."""
        self.stop()
        self._closed = True

    @property
    def closed(self) -> bool:
        return getattr(self, "_closed", False)

    def _refuse_if_closed(self) -> None:
        if self.closed:
            raise ScannerError(f"scanner {self.source} is closed")

    def __enter__(self) -> Scanner:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class ThreadedScanner(Scanner, Generic[Handle]):
    """A device read by one background thread. Subclasses open, read and release the device.

    ``_read_loop`` must return within about ``POLL_INTERVAL`` of ``_stopping`` being set, and raise
    `ScannerUnavailable` when the device goes away; this class delivers that as an event, releases
    the device and lets ``start()`` be called again.
    """

    POLL_INTERVAL = 0.1
    JOIN_TIMEOUT = 2.0

    def __init__(self, source: str) -> None:
        self.source = source
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    @property
    def running(self) -> bool:
        """True while reading; False as soon as the device is lost, so a handler may ``start()`` again."""
        return self._thread is not None and self._thread.is_alive() and not self._stopping.is_set()

    def start(self, on_event: EventSink) -> None:
        with self._lock:
            self._refuse_if_closed()
            if self.running:
                raise ScannerError(f"scanner {self.source} is already started")
            handle = self._open()
            self._stopping = threading.Event()
            self._thread = threading.Thread(
                target=self._run,
                args=(handle, on_event, self._stopping),
                name=f"scanner {self.source}",
                daemon=True,
            )
            self._thread.start()

    def stop(self) -> None:
        with self._lock:
            thread = self._thread
            self._stopping.set()
            if thread is not None and thread is not threading.current_thread():
                thread.join(self.JOIN_TIMEOUT)
                if thread.is_alive():
                    log.error(
                        "scanner %s: reader thread did not stop within %.1f s", self.source, self.JOIN_TIMEOUT
                    )
            self._thread = None

    def _run(self, handle: Handle, on_event: EventSink, stopping: threading.Event) -> None:
        def deliver(event: ScannerEvent) -> None:
            # A bug in the consumer must not kill the reader: the kiosk keeps scanning.
            try:
                on_event(event)
            except Exception:
                # The type only: a scan may be a patron card, whose number stays out of the log.
                log.exception("scanner %s: event handler failed on %s", self.source, type(event).__name__)

        lost: ScannerUnavailable | None = None
        try:
            self._read_loop(handle, deliver, stopping)
        except ScannerUnavailable as exc:
            lost = exc
        except Exception as exc:  # an unexpected driver failure still reaches the runner as "unavailable"
            log.exception("scanner %s: reader failed", self.source)
            lost = ScannerUnavailable(self.source, f"reader failed: {exc!r}")
        finally:
            try:
                self._release(handle)
            except Exception:
                log.exception("scanner %s: releasing the device failed", self.source)
        if lost is not None and not stopping.is_set():
            log.warning("%s", lost)
            # Released and marked stopped before the event goes out: the handler may start() again.
            stopping.set()
            deliver(lost)

    @abstractmethod
    def _open(self) -> Handle:
        """Open the device; raise `ScannerUnavailable` naming it when that is not possible."""

    @abstractmethod
    def _read_loop(self, handle: Handle, deliver: EventSink, stopping: threading.Event) -> None:
        """Read until ``stopping`` is set (return) or the device is lost (raise `ScannerUnavailable`)."""

    @abstractmethod
    def _release(self, handle: Handle) -> None:
        """Close the device; called once per successful ``_open``, from the reader thread."""


__all__ = ["Scanner", "ThreadedScanner"]
