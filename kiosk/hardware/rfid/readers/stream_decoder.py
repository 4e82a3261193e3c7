"""Finding checksummed, length-prefixed frames in a serial byte stream, sans-IO: bytes in, frames out.

FEIG ISC and 3M 810 frames differ in their header, their checksum and where the command byte sits,
but a stream of either breaks the same ways (reads split frames anywhere, a USB-serial adapter sends
noise on plug-in, a reader sends a reply nobody waits for any more, a noisy cable hits a checksum) and
is recovered from the same way. Those rules live here once; each protocol module subclasses
:class:`StreamDecoder` with its framing hooks, and both the drivers and the pty simulations use it.
"""

from __future__ import annotations

import abc
import bisect
import heapq
from typing import ClassVar, Generic, Literal, TypeVar

FrameKind = Literal["request", "reply"]
FrameT = TypeVar("FrameT")


class StreamDecoder(abc.ABC, Generic[FrameT]):
    """Finds frames in a byte stream that arrives in arbitrary pieces, with garbage in between.

    The rules, chosen so a frame still arriving is never mistaken for garbage:

    * a byte that cannot start a frame is skipped; so is a header whose command byte is not
      :attr:`expect_command` (the driver sets it to the command it just sent);
    * a complete frame at the front with a bad checksum: if a well-formed frame starts later in the
      buffer, the front bytes were garbage and are skipped; otherwise the bad frame is dropped and
      reported as :attr:`error_type` carrying its raw bytes;
    * an incomplete frame at the front is waited for. Only when the caller says the line went quiet
      (``line_idle=True``) is the buffer searched for a complete frame behind it: a garbage header can
      announce bytes that will never come, but searching a frame that is still arriving could find a
      false frame in its payload.

    Every call consumes input or returns ``None``, so a loop over :meth:`next_frame` always ends.

    Each start position is judged once: whether a frame can start there and, once its bytes are all in,
    whether its checksum holds never changes, so the search for a later frame remembers what it found
    (by position in the stream, not in the buffer, which loses bytes at the front). Without that, a
    buffer of garbage that keeps announcing complete frames with bad checksums is searched end to end
    once per bad frame: the fuzzer found 470 bytes that took 130 ms, and 4 KB took seconds.
    Only the command byte is checked again each time, since :attr:`expect_command` changes per request.
    """

    #: The protocol's frame error, raised as ``error_type(message, raw)``; the serial link and the
    #: simulations catch it to count (and retry) garbled frames.
    error_type: ClassVar[type[Exception]]
    #: What the protocol calls its checksum ("CRC", "BCC"), for the error message.
    check_name: ClassVar[str]

    def __init__(self, kind: FrameKind, *, expect_command: int | None = None) -> None:
        self.kind: FrameKind = kind
        self.expect_command = expect_command
        self._buf = bytearray()
        #: Bytes thrown away as garbage (not counting frames reported as errors); for diagnostics.
        self.skipped = 0
        # What the search knows, by position in the stream. _base is where _buf[0] sits; every start
        # before _judged is judged: in _sound if a complete frame with a good checksum starts there
        # (sorted), in _arriving as (end, start) if its frame is still arriving, else nowhere.
        self._base = 0
        self._judged = 0
        self._sound: list[int] = []
        self._arriving: list[tuple[int, int]] = []

    # -- the protocol's framing ----------------------------------------------------------------------

    @abc.abstractmethod
    def _frame_size(self, buf: bytearray, offset: int) -> int | None:
        """Total size of the frame whose header is at ``offset``; 0 if no frame can start there; None if
        the header is not complete yet."""

    @abc.abstractmethod
    def _check_ok(self, buf: bytearray, offset: int, size: int) -> bool:
        """Does the complete frame at ``offset`` carry the right checksum?"""

    @abc.abstractmethod
    def _command_position(self, buf: bytearray, offset: int) -> int:
        """Where the command byte of the frame whose header is at ``offset`` sits."""

    @abc.abstractmethod
    def _decode(self, frame: bytes) -> FrameT:
        """One complete frame whose size and checksum were checked."""

    # -- the stream ----------------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        self._buf += data

    def clear(self) -> None:
        self._base += len(self._buf)
        self._buf.clear()
        self._judged = self._base
        self._sound.clear()
        self._arriving.clear()

    @property
    def buffered(self) -> int:
        return len(self._buf)

    @property
    def pending(self) -> bytes:
        """Bytes held back waiting for the rest of a frame (for an error report at a timeout)."""
        return bytes(self._buf)

    def next_frame(self, *, line_idle: bool = False) -> FrameT | None:
        buf = self._buf
        while buf:
            size = self._frame_size(buf, 0)
            if size == 0 or self._unexpected_command(0):
                self._skip(1)
                continue
            if size is None or size > len(buf):
                later = self._find_valid_frame(1) if line_idle else None
                if later is None:
                    return None
                self._skip(later)
                continue
            if self._check_ok(buf, 0, size):
                frame = bytes(buf[:size])
                self._drop(size)
                return self._decode(frame)
            later = self._find_valid_frame(1)
            if later is not None:
                self._skip(later)
                continue
            raw = bytes(buf[:size])
            self._drop(size)
            raise self.error_type(f"{self.check_name} mismatch", raw)
        return None

    def _unexpected_command(self, offset: int) -> bool:
        if self.expect_command is None:
            return False
        position = self._command_position(self._buf, offset)
        return position < len(self._buf) and self._buf[position] != self.expect_command

    def _skip(self, count: int) -> None:
        self._drop(count)
        self.skipped += count

    def _drop(self, count: int) -> None:
        del self._buf[:count]
        self._base += count

    def _find_valid_frame(self, start: int) -> int | None:
        """Buffer offset of the first complete, well-formed frame of the expected command at or after
        ``start``, or None."""
        self._judge()
        base = self._base
        sound = self._sound
        del sound[: bisect.bisect_left(sound, base)]
        for position in sound[bisect.bisect_left(sound, base + start) :]:
            if not self._unexpected_command(position - base):
                return position - base
        return None

    def _judge(self) -> None:
        """Judge the start positions not judged yet, and the frames that were arriving and now are in."""
        buf, base = self._buf, self._base
        end = base + len(buf)
        arriving = self._arriving
        while arriving and arriving[0][0] <= end:
            frame_end, position = heapq.heappop(arriving)
            if position >= base and self._check_ok(buf, position - base, frame_end - position):
                bisect.insort(self._sound, position)
        position = max(self._judged, base)
        while position < end:
            size = self._frame_size(buf, position - base)
            if size is None:
                # A header still arriving sits in the buffer's last few bytes, where no complete frame
                # can start either; judged when more bytes are in.
                break
            if size:
                if position + size > end:
                    heapq.heappush(arriving, (position + size, position))
                elif self._check_ok(buf, position - base, size):
                    bisect.insort(self._sound, position)
            position += 1
        self._judged = position
