"""The one interface every RFID reader driver implements.

Readers move bytes; they know nothing about library data models (those live in
``kiosk.hardware.rfid.models``), in the way nfcpy keeps ``clf/`` drivers apart from ``tag/`` types.
Everything here speaks ISO 15693 terms because every library tag is an ISO 15693 tag; a reader
that can do less (PC/SC sees one card at a time) says so through :attr:`TagReader.capabilities`
instead of pretending.

UIDs are always 8 bytes in the canonical order, most significant byte first (``E0`` first, then
the manufacturer code): drivers normalise whatever order their wire uses, so a UID compares equal
whichever reader saw it.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from enum import Flag, auto


class ReaderError(Exception):
    """Base of every typed reader failure; ``device`` names the reader for IT's messages."""

    def __init__(self, message: str, *, device: str = "") -> None:
        super().__init__(f"{device}: {message}" if device else message)
        self.device = device


class ReaderUnavailable(ReaderError):
    """The reader is absent, unplugged, or stopped answering; reopening may cure it."""


class TagNotInField(ReaderError):
    """The addressed tag did not answer: it left the field, possibly half-way through a write."""


class TagOperationFailed(ReaderError):
    """The tag or reader answered with an error (locked block, unsupported command, bad frame...)."""

    def __init__(self, message: str, *, device: str = "", code: int | None = None) -> None:
        super().__init__(message, device=device)
        self.code = code


class ReaderCapability(Flag):
    """What a reader can do; callers degrade gracefully instead of catching NotImplementedError."""

    NONE = 0
    MULTI_TAG_INVENTORY = auto()  # sees a whole stack, not just one card
    READ_BLOCKS = auto()
    WRITE_BLOCKS = auto()
    AFI = auto()
    EAS = auto()
    SYSTEM_INFO = auto()
    PATRON_CARDS = auto()  # also reads ISO 14443 patron cards


@dataclass(frozen=True, slots=True)
class TagInfo:
    """One tag seen by an inventory."""

    uid: bytes  # 8 bytes, canonical order (E0 first)
    dsfid: int | None = None
    tag_type: str = "iso15693"

    @property
    def uid_hex(self) -> str:
        return self.uid.hex().upper()


@dataclass(frozen=True, slots=True)
class SystemInfo:
    """ISO 15693 Get System Information, parsed. Block size and count come from here: never assume 4."""

    uid: bytes
    dsfid: int | None
    afi: int | None
    block_count: int | None
    block_size: int | None
    ic_reference: int | None = None


class TagReader(abc.ABC):
    """An RFID reader. Methods block; the runner calls them on a worker thread.

    Every failure is a :class:`ReaderError` subclass, so the kiosk can tell "put the item back"
    (:class:`TagNotInField`) from "call staff" (:class:`ReaderUnavailable`).
    """

    #: Human-readable device name, used in every error and in ``kiosk doctor``.
    name: str = "reader"
    capabilities: ReaderCapability = ReaderCapability.NONE

    @abc.abstractmethod
    def open(self) -> None:
        """Connect to the device; raises :class:`ReaderUnavailable`. Safe to call again after a failure."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the device; never raises."""

    @abc.abstractmethod
    def inventory(self) -> list[TagInfo]:
        """Every tag in the field now (one at most on a single-card reader)."""

    @abc.abstractmethod
    def system_info(self, uid: bytes) -> SystemInfo: ...

    @abc.abstractmethod
    def read_blocks(self, uid: bytes, first: int, count: int) -> bytes: ...

    @abc.abstractmethod
    def write_blocks(self, uid: bytes, first: int, data: bytes) -> None:
        """Write whole blocks; ``len(data)`` must be a multiple of the tag's block size."""

    @abc.abstractmethod
    def write_afi(self, uid: bytes, afi: int) -> None: ...

    @abc.abstractmethod
    def set_eas(self, uid: bytes, enabled: bool) -> None:
        """NXP ICODE custom SET EAS (0xA2) / RESET EAS (0xA3)."""

    @abc.abstractmethod
    def eas_enabled(self, uid: bytes) -> bool:
        """Read the EAS bit back (NXP EAS ALARM 0xA5: the tag answers only when EAS is set)."""

    def read_afi(self, uid: bytes) -> int | None:
        return self.system_info(uid).afi

    def read_memory(self, uid: bytes) -> bytes:
        """All user memory, sized from Get System Information."""
        info = self.system_info(uid)
        if not info.block_count or not info.block_size:
            raise TagOperationFailed("tag did not report its memory size", device=self.name)
        return self.read_blocks(uid, 0, info.block_count)

    def __enter__(self) -> TagReader:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
