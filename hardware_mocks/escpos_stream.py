"""ESC/POS commands out of a printer's input byte stream, sans-IO: bytes in, commands out.

The simulated printer's half of the wire, written from the Epson ESC/POS command reference rather
than from python-escpos, so a wrong byte in what the kiosk sends shows up as an unknown or misread
command instead of being understood by the same code that produced it.

Commands are variable-length and carry no framing: the parser knows each command's length (fixed,
counted from its parameters, or NUL-terminated). A command that is not complete yet is waited for,
however long: a printer has no inter-byte timeout, a raster image may arrive as slowly as the host
sends it. Bytes 0x20-0xFF outside a command are text in the current code page.
"""

from __future__ import annotations

from dataclasses import dataclass

ESC, GS, FS, DLE = 0x1B, 0x1D, 0x1C, 0x10
LF, CR, HT, FF, CAN = 0x0A, 0x0D, 0x09, 0x0C, 0x18

#: Larger raster or graphics payloads are taken as garbage, not waited for (a real printer would
#: print noise; waiting for 4 GB would hang the simulation).
MAX_PAYLOAD = 1 << 21


class EscposStreamError(ValueError):
    """Bytes that cannot be a command (an absurd image size); ``raw`` holds what was skipped."""

    def __init__(self, message: str, raw: bytes) -> None:
        super().__init__(message)
        self.raw = raw


@dataclass(frozen=True, slots=True)
class Command:
    """One command: ``name`` as the reference writes it ("ESC a", "GS v 0", "LF", "text"),
    ``args`` its parameter bytes, ``data`` its payload (text bytes, raster data)."""

    name: str
    args: bytes = b""
    data: bytes = b""

    @property
    def known(self) -> bool:
        return not self.name.startswith("unknown")


# Fixed-length commands: (prefix, command byte) -> (name, parameter bytes).
_FIXED: dict[tuple[int, int], tuple[str, int]] = {
    (ESC, ord("@")): ("ESC @", 0),
    (ESC, ord("a")): ("ESC a", 1),
    (ESC, ord("E")): ("ESC E", 1),
    (ESC, ord("-")): ("ESC -", 1),
    (ESC, ord("M")): ("ESC M", 1),
    (ESC, ord("!")): ("ESC !", 1),
    (ESC, ord("t")): ("ESC t", 1),
    (ESC, ord("d")): ("ESC d", 1),
    (ESC, ord("J")): ("ESC J", 1),
    (ESC, ord("e")): ("ESC e", 1),
    (ESC, ord("2")): ("ESC 2", 0),
    (ESC, ord("3")): ("ESC 3", 1),
    (ESC, ord("{")): ("ESC {", 1),
    (ESC, ord("G")): ("ESC G", 1),
    (ESC, ord("R")): ("ESC R", 1),
    (ESC, ord("V")): ("ESC V", 1),
    (ESC, ord("U")): ("ESC U", 1),
    (ESC, ord(" ")): ("ESC SP", 1),
    (ESC, ord("$")): ("ESC $", 2),
    (ESC, ord("\\")): ("ESC \\", 2),
    (ESC, ord("=")): ("ESC =", 1),
    (ESC, ord("p")): ("ESC p", 3),
    (ESC, ord("c")): ("ESC c", 2),
    (ESC, ord("i")): ("ESC i", 0),
    (ESC, ord("m")): ("ESC m", 0),
    (GS, ord("!")): ("GS !", 1),
    (GS, ord("B")): ("GS B", 1),
    (GS, ord("b")): ("GS b", 1),
    (GS, ord("|")): ("GS |", 1),
    (GS, ord("h")): ("GS h", 1),
    (GS, ord("w")): ("GS w", 1),
    (GS, ord("H")): ("GS H", 1),
    (GS, ord("f")): ("GS f", 1),
    (GS, ord("a")): ("GS a", 1),
    (GS, ord("r")): ("GS r", 1),
    (GS, ord("I")): ("GS I", 1),
    (GS, ord("L")): ("GS L", 2),
    (GS, ord("W")): ("GS W", 2),
    (GS, ord("P")): ("GS P", 2),
    (FS, ord(".")): ("FS .", 0),
    (FS, ord("&")): ("FS &", 0),
    (FS, ord("!")): ("FS !", 1),
    (FS, ord("-")): ("FS -", 1),
    (FS, ord("C")): ("FS C", 1),
    (FS, ord("p")): ("FS p", 2),
    (DLE, 0x04): ("DLE EOT", 1),
    (DLE, 0x05): ("DLE ENQ", 1),
}

_SINGLE = {LF: "LF", CR: "CR", HT: "HT", FF: "FF", CAN: "CAN"}


class EscposStream:
    """The decoder :class:`hardware_mocks.pty_device.PtyDevice` drives (``feed`` / ``next_frame``)."""

    error_type = EscposStreamError

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> None:
        self._buf += data

    def clear(self) -> None:
        self._buf.clear()

    @property
    def buffered(self) -> int:
        """What :class:`PtyDevice` would drop when the line stalls: nothing (no inter-byte timeout)."""
        return 0

    @property
    def pending(self) -> bytes:
        """Bytes of a command still incomplete."""
        return bytes(self._buf)

    def next_frame(self, *, line_idle: bool = False) -> Command | None:
        """The next complete command, or None until more bytes come."""
        buf = self._buf
        if not buf:
            return None
        first = buf[0]
        if first >= 0x20:
            end = 1
            while end < len(buf) and buf[end] >= 0x20:
                end += 1
            return self._take(end, Command("text", data=bytes(buf[:end])))
        if first in _SINGLE:
            return self._take(1, Command(_SINGLE[first]))
        if first not in (ESC, GS, FS, DLE):
            return self._take(1, Command(f"unknown control 0x{first:02X}", data=bytes(buf[:1])))
        if len(buf) < 2:
            return None
        return self._command(first, buf[1])

    def _take(self, size: int, command: Command) -> Command:
        del self._buf[:size]
        return command

    def _command(self, prefix: int, code: int) -> Command | None:
        buf = self._buf
        fixed = _FIXED.get((prefix, code))
        if fixed is not None:
            name, count = fixed
            if len(buf) < 2 + count:
                return None
            return self._take(2 + count, Command(name, args=bytes(buf[2 : 2 + count])))
        if (prefix, code) == (GS, ord("V")):
            if len(buf) < 3:
                return None
            size = 4 if buf[2] in (65, 66, 97, 98, 103, 104) else 3
            if len(buf) < size:
                return None
            return self._take(size, Command("GS V", args=bytes(buf[2:size])))
        if (prefix, code) == (GS, ord("v")):
            return self._raster()
        if (prefix, code) == (GS, ord("(")):
            return self._counted("GS (", header=5, low=3)
        if (prefix, code) == (GS, ord("k")):
            return self._barcode()
        if (prefix, code) == (ESC, ord("*")):
            return self._column_image()
        if (prefix, code) == (DLE, 0x14):
            if len(buf) < 3:
                return None
            size = 10 if buf[2] == 8 else 5
            if len(buf) < size:
                return None
            return self._take(size, Command("DLE DC4", args=bytes(buf[2:size])))
        names = {ESC: "ESC", GS: "GS", FS: "FS", DLE: "DLE"}
        return self._take(2, Command(f"unknown {names[prefix]} 0x{code:02X}", data=bytes(buf[:2])))

    def _raster(self) -> Command | None:
        buf = self._buf
        if len(buf) < 8:
            return None
        if buf[2] not in (0x30, 0):  # GS v 0 only
            return self._take(3, Command(f"unknown GS v 0x{buf[2]:02X}", data=bytes(buf[:3])))
        width_bytes = buf[4] | buf[5] << 8
        height = buf[6] | buf[7] << 8
        size = width_bytes * height
        if size > MAX_PAYLOAD:
            raw = bytes(buf[:8])
            del buf[:8]
            raise EscposStreamError(f"GS v 0 of {width_bytes}x{height} bytes is not a receipt image", raw)
        if len(buf) < 8 + size:
            return None
        return self._take(8 + size, Command("GS v 0", args=bytes(buf[3:8]), data=bytes(buf[8 : 8 + size])))

    def _counted(self, name: str, *, header: int, low: int) -> Command | None:
        """``GS ( fn pL pH`` followed by pL + 256 pH bytes."""
        buf = self._buf
        if len(buf) < header:
            return None
        size = buf[low] | buf[low + 1] << 8
        if len(buf) < header + size:
            return None
        fn = chr(buf[2])
        return self._take(
            header + size,
            Command(f"{name}{fn}", args=bytes(buf[2:header]), data=bytes(buf[header : header + size])),
        )

    def _barcode(self) -> Command | None:
        buf = self._buf
        if len(buf) < 3:
            return None
        kind = buf[2]
        if kind <= 6:  # NUL-terminated data
            end = buf.find(0, 3)
            if end < 0:
                return (
                    None
                    if len(buf) < 3 + 256
                    else self._take(3, Command("unknown GS k", data=bytes(buf[:3])))
                )
            return self._take(end + 1, Command("GS k", args=bytes((kind,)), data=bytes(buf[3:end])))
        if len(buf) < 4:
            return None
        size = buf[3]
        if len(buf) < 4 + size:
            return None
        return self._take(4 + size, Command("GS k", args=bytes((kind,)), data=bytes(buf[4 : 4 + size])))

    def _column_image(self) -> Command | None:
        buf = self._buf
        if len(buf) < 5:
            return None
        mode, width = buf[2], buf[3] | buf[4] << 8
        size = width * (3 if mode in (32, 33) else 1)
        if len(buf) < 5 + size:
            return None
        return self._take(5 + size, Command("ESC *", args=bytes(buf[2:5]), data=bytes(buf[5 : 5 + size])))
