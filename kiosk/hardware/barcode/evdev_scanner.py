"""USB HID keyboard-wedge scanners through python-evdev, grabbed so their keys never reach the UI.

The scanner is a keyboard; without an exclusive grab (EVIOCGRAB) every scan would also be typed
into the focused Kivy widget or the console. python-evdev is Linux-only and sdist-only (it needs gcc
and kernel headers), so it is an optional extra (``pip install 'library-kiosk[evdev]'``, or Debian's
``python3-evdev``) imported only when this driver is built. Decoding keys to text is in `keymap`.

Choose the device by a stable path (``/dev/input/by-id/usb-...-event-kbd``) or by a substring of
its name as the kernel reports it; the service user needs the ``input`` group.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

from kiosk.hardware.barcode.base import ThreadedScanner
from kiosk.hardware.barcode.events import (
    AS_SENT,
    EventSink,
    ScanFormat,
    ScannerDependencyMissing,
    ScannerUnavailable,
    WallClock,
    utc_now,
)
from kiosk.hardware.barcode.keymap import (
    DEFAULT_TERMINATORS,
    EV_KEY,
    US_LAYOUT,
    KeyboardLayout,
    KeyEventDecoder,
)

EVDEV_HINT = (
    "install the kiosk's 'evdev' extra (pip install 'library-kiosk[evdev]', needs gcc and linux-libc-dev) "
    "or Debian's python3-evdev; evdev exists on Linux only"
)


def import_evdev() -> ModuleType:
    """The evdev module, or `ScannerDependencyMissing` naming the package."""
    try:
        import evdev
    except ImportError as exc:
        raise ScannerDependencyMissing("evdev", EVDEV_HINT) from exc
    return evdev


class EvdevScanner(ThreadedScanner[Any]):
    """A keyboard-wedge scanner read from ``/dev/input`` with an exclusive grab."""

    def __init__(
        self,
        device: str,
        *,
        layout: KeyboardLayout = US_LAYOUT,
        terminators: Iterable[str] = DEFAULT_TERMINATORS,
        grab: bool = True,
        scan_format: ScanFormat = AS_SENT,
        idle_timeout: float = 0.5,
        open_device: Callable[[str], Any] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: WallClock = utc_now,
    ) -> None:
        super().__init__(source=device)
        self._evdev = import_evdev()
        self.device = device
        self.layout = layout
        self.terminators = frozenset(terminators)
        KeyEventDecoder(layout=layout, terminators=self.terminators)  # reject bad terminator names now
        self.grab = grab
        self.scan_format = scan_format
        self.idle_timeout = idle_timeout
        # The one seam: evdev.InputDevice normally; anything with its read/grab surface otherwise.
        self._open_device = open_device or self._evdev.InputDevice
        self._monotonic = monotonic
        self._wall_clock = wall_clock

    def find_device_path(self) -> str:
        """The event node for ``device``: a path as given, else the first node whose name contains it."""
        if self.device.startswith("/"):
            if not os.path.exists(self.device):
                raise ScannerUnavailable(self.device, "no such input device")
            return self.device
        wanted = self.device.casefold()
        for path in sorted(self._evdev.list_devices()):
            try:
                candidate = self._open_device(path)
            except OSError:
                continue  # another node vanished or is not readable: not ours
            try:
                if wanted in candidate.name.casefold() and EV_KEY in candidate.capabilities():
                    return path
            finally:
                candidate.close()
        raise ScannerUnavailable(
            self.device, "no readable input device with that name (is the user in 'input'?)"
        )

    def _open(self) -> Any:
        path = self.find_device_path()
        try:
            device = self._open_device(path)
        except OSError as exc:
            raise ScannerUnavailable(self.device, f"cannot open {path}: {exc}") from exc
        if self.grab:
            try:
                device.grab()
            except OSError as exc:
                device.close()
                raise ScannerUnavailable(
                    self.device, f"cannot grab {path} (grabbed by another program?): {exc}"
                ) from exc
        return device

    def _read_loop(self, device: Any, deliver: EventSink, stopping: threading.Event) -> None:
        decoder = KeyEventDecoder(layout=self.layout, terminators=self.terminators)
        last_key_at = self._monotonic()
        while not stopping.is_set():
            try:
                readable, _, _ = select.select([device.fd], [], [], self.POLL_INTERVAL)
                events = list(device.read()) if readable else []
            except BlockingIOError:  # woken with nothing to read after all
                readable, events = [], []
            except OSError as exc:  # ENODEV when unplugged
                if stopping.is_set():
                    return
                raise ScannerUnavailable(self.device, f"lost: {exc}") from exc
            if readable and not events and not stopping.is_set():
                # Readable yet nothing read is end-of-file: the node is gone (and select would spin).
                raise ScannerUnavailable(self.device, "lost: the input device returned end-of-file")
            now = self._monotonic()
            for event in events:
                if event.type != EV_KEY:
                    continue
                last_key_at = now
                result = decoder.feed(event.code, event.value)
                if result is not None:
                    deliver(self.scan_format.to_event(result, self.source, self._wall_clock()))
            if now - last_key_at > self.idle_timeout:
                garbled = decoder.discard(f"no terminator key within {self.idle_timeout} s")
                if garbled is not None:
                    deliver(self.scan_format.to_event(garbled, self.source, self._wall_clock()))

    def _release(self, device: Any) -> None:
        if self.grab:
            with contextlib.suppress(OSError):  # a vanished device took its grab with it
                device.ungrab()
        device.close()
