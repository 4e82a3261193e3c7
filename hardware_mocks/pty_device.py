"""A simulated serial device on a pseudo-terminal: request frames in from the master end, reply frames out.

The production driver opens the pty's slave path with pyserial exactly as it opens a USB-serial device;
this side reads the bytes the driver wrote, finds request frames with the protocol's own stream decoder
(the codec the driver uses), and writes the reply frames back from a thread of its own. So tests
exercise the real bytes on a real tty, and the simulation cannot drift from the wire format.

What every such device shares lives here: the pty and a stable symlink to it (re-plug makes a new pty;
``link_path`` follows it, like a udev ``/dev/serial/by-id`` link), the serve thread, unplug / re-plug,
and the line faults a test can stage whatever the protocol: a mute device, a reply delay, replies with
a broken checksum, and noise before a reply. A subclass says how requests are decoded and answered.
"""

from __future__ import annotations

import abc
import contextlib
import os
import select
import threading
import time
import tty
from collections import deque
from typing import Any, ClassVar, Generic, Self, TypeVar

from kiosk.hardware.rfid.readers.stream_decoder import StreamDecoder

RequestT = TypeVar("RequestT")

#: With a partial frame buffered, this long without a byte means it will not complete: a real device
#: drops such a frame (inter-byte timeout) and resyncs.
_STALL_TIMEOUT = 0.05


class PtyDevice(abc.ABC, Generic[RequestT]):
    """A simulated device answering request frames on a pty. Thread-safe: tests change its state (under
    ``_lock``) while the serve thread answers."""

    #: Name of the serve thread (shows in thread dumps).
    thread_name: ClassVar[str] = "pty-device"

    def __init__(self, *, link_path: str | None = None, reply_delay: float = 0.0) -> None:
        self.link_path = link_path
        #: Seconds to wait before each reply (RF time); 0 answers as fast as the host can read.
        self.reply_delay = reply_delay
        self.muted = False
        self._lock = threading.RLock()
        self._corrupt_replies = 0
        self._noise = b""
        self._master: int | None = None
        self._slave: int | None = None
        self._slave_path: str | None = None
        self._wake_r: int | None = None
        self._wake_w: int | None = None
        self._thread: threading.Thread | None = None
        #: Every request decoded, in order: tests assert on what the driver actually sent.
        self.requests: deque[RequestT] = deque(maxlen=10_000)
        self.frames_rejected = 0

    # -- what a subclass says -----------------------------------------------------------------------

    @abc.abstractmethod
    def _new_decoder(self) -> StreamDecoder[Any]:
        """A request decoder for a fresh serve thread."""

    @abc.abstractmethod
    def _reply_frame(self, request: RequestT) -> bytes | None:
        """The whole reply frame to ``request``, or None to stay silent; called holding ``_lock``."""

    def _unplugged(self) -> None:
        """Forget what the device loses with its power (called after an unplug, holding ``_lock``)."""

    # -- lifecycle ----------------------------------------------------------------------------------

    @property
    def path(self) -> str:
        """What the driver should open: the stable link if any, else the current pty slave."""
        if self.link_path:
            return self.link_path
        if self._slave_path is None:
            raise RuntimeError("simulator not started")
        return self._slave_path

    @property
    def slave_path(self) -> str | None:
        return self._slave_path

    @property
    def plugged_in(self) -> bool:
        return self._thread is not None

    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError("already running")
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo or line editing before the driver configures the port
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self._slave_path = os.ttyname(slave)
        if self.link_path:
            tmp = f"{self.link_path}.new"
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            os.symlink(self._slave_path, tmp)
            os.replace(tmp, self.link_path)
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._serve, name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def unplug(self) -> None:
        """Pull the USB plug: the serve thread stops and the pty master closes (driver reads get EIO)."""
        thread = self._thread
        if thread is None:
            return
        assert self._wake_w is not None
        os.write(self._wake_w, b"x")
        thread.join(timeout=5)
        self._thread = None
        for fd in (self._master, self._slave, self._wake_r, self._wake_w):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = self._wake_r = self._wake_w = None
        with self._lock:
            self._unplugged()

    def replug(self) -> str:
        """Plug back in (a new pty; the link, if any, follows it). The device's state stays as it was."""
        self.unplug()
        self.start()
        return self.path

    def stop(self) -> None:
        self.unplug()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.unplug()
        if self.link_path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.link_path)

    # -- line faults --------------------------------------------------------------------------------

    def corrupt_next_replies(self, count: int = 1) -> None:
        """The next ``count`` replies go out with a broken checksum (a noisy cable)."""
        with self._lock:
            self._corrupt_replies += count

    def noise_before_next_reply(self, noise: bytes) -> None:
        """Line noise the host reads just before the next reply (after it sent its request)."""
        with self._lock:
            self._noise += noise

    # -- serving ------------------------------------------------------------------------------------

    def _serve(self) -> None:
        master, wake = self._master, self._wake_r
        assert master is not None and wake is not None
        decoder = self._new_decoder()
        while True:
            ready, _, _ = select.select([master, wake], [], [], _STALL_TIMEOUT if decoder.buffered else None)
            if wake in ready:
                return
            line_idle = not ready
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except BlockingIOError:
                    continue
                except OSError:
                    return  # pty gone
                if not chunk:
                    return
                decoder.feed(chunk)
            while True:
                try:
                    request = decoder.next_frame(line_idle=line_idle)
                except decoder.error_type:
                    self.frames_rejected += 1  # a real device ignores a garbled request
                    continue
                if request is None:
                    if line_idle and decoder.buffered:
                        decoder.clear()  # a frame that stalled will not complete: drop it
                        self.frames_rejected += 1
                    break
                out = self._answer(request)
                if out is None:
                    continue
                if self.reply_delay:
                    time.sleep(self.reply_delay)
                try:
                    os.write(master, out)
                except OSError:
                    return

    def _answer(self, request: RequestT) -> bytes | None:
        with self._lock:
            self.requests.append(request)
            if self.muted:
                return None
            frame = self._reply_frame(request)
            if frame is None:
                return None
            if self._corrupt_replies:
                self._corrupt_replies -= 1
                frame = frame[:-1] + bytes((frame[-1] ^ 0x5A,))
            frame, self._noise = self._noise + frame, b""
            return frame
