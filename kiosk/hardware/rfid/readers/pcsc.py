"""PC/SC contactless readers (single-item pad) through pcscd, with pyscard's low-level ``scard`` API.

The low-level API is used rather than pyscard's object layer because the typed errors need the raw
PC/SC result codes: "card gone" (:class:`TagNotInField`, ask the patron to put the item back) must
stay distinguishable from "pcscd or the reader gone" (:class:`ReaderUnavailable`, call staff).

Data blocks travel as PC/SC part 3 storage-card APDUs (FF CA / FF B0 / FF D6), which every
ISO 15693-capable PC/SC reader implements. AFI, EAS and system information have no part-3 APDU, so
raw ISO 15693 frames (:mod:`.iso15693`) travel through a :class:`FrameTransport`: the standard
transparent exchange by default, a vendor escape where a reader needs one.

PC/SC reports one card per slot: this driver never claims MULTI_TAG_INVENTORY.
"""

from __future__ import annotations

import abc
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal, Protocol

from smartcard import scard

from kiosk.hardware.rfid.readers import iso15693 as iso
from kiosk.hardware.rfid.readers import pcsc_apdu as apdu
from kiosk.hardware.rfid.readers.base import (
    ReaderCapability,
    ReaderError,
    ReaderUnavailable,
    SystemInfo,
    TagInfo,
    TagNotInField,
    TagOperationFailed,
    TagReader,
)
from kiosk.hardware.rfid.readers.pcsc_apdu import CardKind

log = logging.getLogger(__name__)


def _code(hresult: int) -> int:
    return hresult & 0xFFFFFFFF


# pcscd itself is gone or the reader vanished: reopening (after re-plug / restart) is the cure.
_SERVICE_ERRORS = {
    _code(c)
    for c in (
        scard.SCARD_E_NO_SERVICE,
        scard.SCARD_E_SERVICE_STOPPED,
        scard.SCARD_E_INVALID_HANDLE,
        scard.SCARD_E_UNKNOWN_READER,
        scard.SCARD_E_READER_UNAVAILABLE,
        scard.SCARD_E_NO_READERS_AVAILABLE,
        scard.SCARD_F_COMM_ERROR,
        scard.SCARD_F_INTERNAL_ERROR,
        scard.SCARD_E_INVALID_PARAMETER,
    )
}
# The card left, was reset by someone else, or stopped answering mid-APDU.
_CARD_ERRORS = {
    _code(c)
    for c in (
        scard.SCARD_E_NO_SMARTCARD,
        scard.SCARD_W_REMOVED_CARD,
        scard.SCARD_W_RESET_CARD,
        scard.SCARD_W_UNPOWERED_CARD,
        scard.SCARD_W_UNRESPONSIVE_CARD,
        scard.SCARD_E_NOT_TRANSACTED,
        scard.SCARD_E_PROTO_MISMATCH,
    )
}


def _message(hresult: int) -> str:
    return f"{scard.SCardGetErrorMessage(hresult).strip()} (0x{_code(hresult):08X})"


class ApduChannel(Protocol):
    """Sends one APDU to the card on the pad and returns the whole response, status word included."""

    def transmit(self, command: bytes) -> bytes: ...


class FrameTransport(abc.ABC):
    """How a reader carries raw ISO 15693 frames to the tag: the vendor-dependent part of PC/SC."""

    name: str = "transport"

    @abc.abstractmethod
    def exchange(self, channel: ApduChannel, frame: bytes, *, write_alike: bool) -> bytes | None:
        """The tag's raw answer, or ``None`` when the tag stayed silent."""


@dataclass
class TransparentExchange(FrameTransport):
    """PC/SC 2.02 part 3 transparent session: start, [switch to ISO 15693 layer 3], exchange, end.

    ``write_timeout_us`` is sent as the timer object (5F46) with write-alike commands: an ACS
    ACR1552U is reported to time out (C0 03 01 64 01) on writes that did succeed without it.
    """

    switch_protocol: bool = True
    write_timeout_us: int = 250_000
    name: str = "PC/SC part 3 transparent exchange"

    def exchange(self, channel: ApduChannel, frame: bytes, *, write_alike: bool) -> bytes | None:
        apdu.parse_session_response(channel.transmit(apdu.start_session_apdu()), "start transparent session")
        done = False
        try:
            if self.switch_protocol:
                apdu.parse_session_response(channel.transmit(apdu.switch_to_iso15693_apdu()), "switch protocol")
            timeout = self.write_timeout_us if write_alike else None
            answer = apdu.parse_transparent_response(
                channel.transmit(apdu.transparent_exchange_apdu(frame, timeout))
            )
            done = True
        finally:
            try:
                apdu.parse_session_response(channel.transmit(apdu.end_session_apdu()), "end transparent session")
            except ReaderError:
                if done:
                    raise
        return answer


@dataclass
class AcsDirectTransmit(FrameTransport):
    """ACS "direct transmit" escape ``FF 00 00 00 Lc <frame>``; SW 63 00 means the tag was silent."""

    name: str = "ACS direct transmit"

    def exchange(self, channel: ApduChannel, frame: bytes, *, write_alike: bool) -> bytes | None:
        return apdu.parse_direct_transmit(channel.transmit(apdu.direct_transmit_apdu(frame)))


@dataclass(frozen=True, slots=True)
class CardEvent:
    """A card placed on or taken off the pad."""

    kind: Literal["inserted", "removed"]
    reader: str
    atr: bytes = b""
    card_kind: CardKind | None = None


@dataclass(eq=False)
class _Card:
    """The card connected now; its identity is read once per placement."""

    handle: int
    protocol: int
    atr: bytes
    kind: CardKind
    uid: bytes = b""
    system_info: SystemInfo | None = None


_CAPABILITIES = (
    ReaderCapability.READ_BLOCKS
    | ReaderCapability.WRITE_BLOCKS
    | ReaderCapability.AFI
    | ReaderCapability.EAS
    | ReaderCapability.SYSTEM_INFO
    | ReaderCapability.PATRON_CARDS
)


class PcscReader(TagReader):
    """One PC/SC contactless slot, picked by a substring of its pcscd name (case-insensitive).

    Methods are serialised by a lock; :meth:`card_events` uses a context of its own so it can run on
    another thread while the kiosk reads and writes tags.
    """

    capabilities = _CAPABILITIES

    def __init__(self, reader: str = "", *, transport: FrameTransport | None = None, name: str = "") -> None:
        self.reader_substring = reader
        self.transport = transport or TransparentExchange()
        self.name = name or f"PC/SC reader '{reader}'"
        self.reader_name: str | None = None
        self._lock = threading.RLock()
        self._context: int | None = None
        self._card: _Card | None = None
        self._wanted_open = False
        self._uid_lsb_first: bool | None = None  # learned from the first unambiguous UID

    # --- lifecycle --------------------------------------------------------------------------

    def open(self) -> None:
        with self._lock:
            self._wanted_open = True
            self._release()
            hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
            if hresult != scard.SCARD_S_SUCCESS:
                raise ReaderUnavailable(f"cannot reach pcscd, is it running? {_message(hresult)}", device=self.name)
            self._context = context
            try:
                self.reader_name = self._pick_reader(self._list_readers())
            except ReaderError:
                self._release()
                raise

    def close(self) -> None:
        with self._lock:
            self._wanted_open = False
            self._release()

    def _release(self) -> None:
        self._drop_card()
        if self._context is not None:
            try:
                scard.SCardReleaseContext(self._context)
            except Exception:  # pcscd already gone: nothing left to release
                log.debug("release context failed", exc_info=True)
            self._context = None

    def _drop_card(self) -> None:
        if self._card is not None:
            try:
                scard.SCardDisconnect(self._card.handle, scard.SCARD_LEAVE_CARD)
            except Exception:
                log.debug("disconnect failed", exc_info=True)
            self._card = None

    def _list_readers(self) -> list[str]:
        assert self._context is not None
        hresult, readers = scard.SCardListReaders(self._context, [])
        if _code(hresult) == _code(scard.SCARD_E_NO_READERS_AVAILABLE):
            return []
        if hresult != scard.SCARD_S_SUCCESS:
            self._release()
            raise ReaderUnavailable(f"cannot list readers: {_message(hresult)}", device=self.name)
        return list(readers)

    def _pick_reader(self, readers: list[str]) -> str:
        wanted = self.reader_substring.casefold()
        matches = [r for r in readers if wanted in r.casefold()]
        if not matches:
            seen = ", ".join(repr(r) for r in readers) or "none"
            raise ReaderUnavailable(
                f"no PC/SC reader name contains {self.reader_substring!r} (readers: {seen}); unplugged?",
                device=self.name,
            )
        exact = [r for r in matches if r.casefold() == wanted]
        if len(matches) > 1 and not exact:
            log.warning("%s: %d readers match, using %r: %s", self.name, len(matches), matches[0], matches)
        return (exact or matches)[0]

    def _ensure_open(self) -> None:
        if self._context is None:
            if not self._wanted_open:
                raise ReaderUnavailable("reader is not open", device=self.name)
            self.open()

    # --- errors -----------------------------------------------------------------------------

    def _fail(self, hresult: int, what: str) -> ReaderError:
        """The typed error for a failed PC/SC call; forgets the card (and the context if pcscd went)."""
        self._drop_card()
        code = _code(hresult)
        if code in _CARD_ERRORS and self._reader_still_there():
            return TagNotInField(f"card left the field during {what}: {_message(hresult)}", device=self.name)
        self._release()
        return ReaderUnavailable(f"{what} failed: {_message(hresult)}", device=self.name)

    def _reader_still_there(self) -> bool:
        if self._context is None:
            return False
        hresult, readers = scard.SCardListReaders(self._context, [])
        return hresult == scard.SCARD_S_SUCCESS and self.reader_name in readers

    @contextmanager
    def _named(self) -> Iterator[None]:
        """Name the reader in codec errors, and forget the card after any failure.

        Forgetting costs one reconnect and FF CA on the next call, and guarantees that a garbled
        answer cannot leave a wrong UID or geometry cached for the rest of the placement.
        """
        try:
            yield
        except ReaderError as exc:
            self._drop_card()
            if not exc.device:
                exc.device = self.name
                exc.args = (f"{self.name}: {exc.args[0]}", *exc.args[1:])
            raise

    # --- the card on the pad ----------------------------------------------------------------

    def _transmit(self, card: _Card, command: bytes) -> bytes:
        hresult, response = scard.SCardTransmit(card.handle, card.protocol, list(command))
        if hresult != scard.SCARD_S_SUCCESS:
            raise self._fail(hresult, f"APDU {command[:2].hex().upper()}")
        if len(response) < 2:
            # No status word at all: the driver lost the card mid-APDU (vpcd does this on a dropped
            # connection) before pcscd noticed the removal. Nothing a card can say looks like this.
            self._drop_card()
            raise TagNotInField(f"no answer to APDU {command[:2].hex().upper()}: card left the field?")
        return bytes(response)

    def _current_card(self) -> _Card:
        """The connected card, reconnecting when the last one was taken away or swapped."""
        had_context = self._context is not None
        try:
            return self._connect_card()
        except ReaderUnavailable:
            if not had_context or not self._wanted_open:
                raise
        # pcscd may have restarted since the last call, leaving our context stale: one fresh open
        # decides. Only connecting and FF CA happened so far, so repeating them is harmless.
        return self._connect_card()

    def _connect_card(self) -> _Card:
        self._ensure_open()
        if self._card is not None:
            hresult, *_ = scard.SCardStatus(self._card.handle)
            if hresult == scard.SCARD_S_SUCCESS:
                return self._card
            self._drop_card()
        assert self._context is not None
        hresult, handle, protocol = scard.SCardConnect(
            self._context,
            self.reader_name,
            scard.SCARD_SHARE_SHARED,
            scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1,
        )
        if hresult != scard.SCARD_S_SUCCESS:
            if _code(hresult) in _CARD_ERRORS and self._reader_still_there():
                raise TagNotInField("no card on the pad", device=self.name)
            raise self._fail(hresult, "connect")
        hresult, _reader, _state, _protocol, atr = scard.SCardStatus(handle)
        if hresult != scard.SCARD_S_SUCCESS:
            scard.SCardDisconnect(handle, scard.SCARD_LEAVE_CARD)
            raise self._fail(hresult, "card status")
        card = _Card(handle, protocol, bytes(atr), apdu.classify_atr(bytes(atr)))
        self._card = card
        try:
            card.uid = self._read_uid(card)
        except BaseException:
            self._drop_card()
            raise
        return card

    def _read_uid(self, card: _Card) -> bytes:
        data, sw = apdu.split_sw(self._transmit(card, apdu.get_uid_apdu()))
        if sw != apdu.SW_OK:
            raise apdu.StatusWordError("get UID", sw)
        if card.kind is not CardKind.ISO15693:
            return data
        uid = apdu.normalise_uid(data)
        if uid is not None:
            self._uid_lsb_first = data[-1] == 0xE0
            return uid
        if self._uid_lsb_first is not None:
            return data[::-1] if self._uid_lsb_first else data
        # E0 at both ends: ask the tag, whose system information carries the UID in air order.
        answer = self.transport.exchange(self._channel(card), iso.get_system_info().encode(), write_alike=False)
        if answer is None:
            raise TagNotInField("tag did not answer Get System Information", device=self.name)
        card.system_info = iso.parse_system_info(answer)
        return card.system_info.uid

    def _channel(self, card: _Card) -> ApduChannel:
        reader = self

        class _Channel:
            def transmit(self, command: bytes) -> bytes:
                return reader._transmit(card, command)

        return _Channel()

    def _tag(self, uid: bytes) -> _Card:
        card = self._current_card()
        if card.kind is not CardKind.ISO15693:
            # Its UID may be a patron's card number ([rfid] patron_card_uid): errors reach logs, it does not.
            asked = "" if uid == card.uid else f"; tag {uid.hex().upper()} is not there"
            raise TagNotInField(f"the card on the pad is {card.kind.value}, not an ISO 15693 tag{asked}",
                                device=self.name)
        if card.uid != uid:
            raise TagNotInField(
                f"tag {uid.hex().upper()} is not on the pad ({card.kind.value} {card.uid.hex().upper()} is)",
                device=self.name,
            )
        return card

    def _exchange(self, card: _Card, request: iso.Request) -> bytes | None:
        return self.transport.exchange(self._channel(card), request.encode(), write_alike=request.write_alike)

    def _exchange_answered(self, card: _Card, request: iso.Request, what: str) -> bytes:
        answer = self._exchange(card, request)
        if answer is None:
            raise TagNotInField(f"tag did not answer {what}", device=self.name)
        return answer

    def _tag_answers(self, card: _Card) -> bool:
        """Whether the addressed tag is still in the field (silence has two meanings for EAS)."""
        return self._exchange(card, iso.get_system_info(card.uid)) is not None

    def _system_info(self, card: _Card) -> SystemInfo:
        if card.system_info is None or card.system_info.uid != card.uid:
            answer = self._exchange_answered(card, iso.get_system_info(card.uid), "Get System Information")
            info = iso.parse_system_info(answer)
            if info.uid != card.uid:
                raise apdu.MalformedResponse(f"system information names UID {info.uid.hex().upper()}")
            card.system_info = info
        return card.system_info

    def _geometry(self, card: _Card, first: int, count: int) -> int:
        info = self._system_info(card)
        if not info.block_size or not info.block_count:
            raise TagOperationFailed("tag did not report its memory size")
        if first < 0 or count < 1 or first + count > info.block_count:
            raise TagOperationFailed(
                f"blocks {first}..{first + count - 1} outside the tag's {info.block_count} blocks"
            )
        return info.block_size

    # --- TagReader --------------------------------------------------------------------------

    def inventory(self) -> list[TagInfo]:
        with self._lock, self._named():
            try:
                card = self._current_card()
            except TagNotInField:
                return []
            return [TagInfo(card.uid, None, card.kind.value)]

    def system_info(self, uid: bytes) -> SystemInfo:
        with self._lock, self._named():
            card = self._tag(uid)
            card.system_info = None  # asked explicitly: re-read (AFI may have changed)
            return self._system_info(card)

    def read_blocks(self, uid: bytes, first: int, count: int) -> bytes:
        with self._lock, self._named():
            card = self._tag(uid)
            size = self._geometry(card, first, count)
            out = bytearray()
            for block in range(first, first + count):
                data, sw = apdu.split_sw(self._transmit(card, apdu.read_binary_apdu(block, size)))
                if sw != apdu.SW_OK:
                    raise apdu.StatusWordError(f"read block {block}", sw)
                if len(data) != size:
                    raise apdu.MalformedResponse(f"block {block}: {len(data)} bytes, expected {size}")
                out += data
            return bytes(out)

    def write_blocks(self, uid: bytes, first: int, data: bytes) -> None:
        with self._lock, self._named():
            card = self._tag(uid)
            size = self._system_info(card).block_size or 0
            if not data or not size or len(data) % size:
                raise TagOperationFailed(f"{len(data)} bytes is not a whole number of {size}-byte blocks")
            self._geometry(card, first, len(data) // size)
            for i in range(len(data) // size):
                chunk = data[i * size : (i + 1) * size]
                _, sw = apdu.split_sw(self._transmit(card, apdu.update_binary_apdu(first + i, chunk)))
                if sw != apdu.SW_OK:
                    raise apdu.StatusWordError(f"write block {first + i}", sw)

    def write_afi(self, uid: bytes, afi: int) -> None:
        with self._lock, self._named():
            card = self._tag(uid)
            iso.parse_write_response(self._exchange_answered(card, iso.write_afi(uid, afi), "Write AFI"))
            card.system_info = None

    def set_eas(self, uid: bytes, enabled: bool) -> None:
        with self._lock, self._named():
            card = self._tag(uid)
            request = iso.nxp_set_eas(uid) if enabled else iso.nxp_reset_eas(uid)
            answer = self._exchange(card, request)
            if answer is None:
                if self._tag_answers(card):
                    raise TagOperationFailed("tag ignored NXP SET/RESET EAS: not an NXP ICODE tag?")
                raise TagNotInField("tag did not answer SET/RESET EAS", device=self.name)
            iso.parse_write_response(answer)

    def eas_enabled(self, uid: bytes) -> bool:
        with self._lock, self._named():
            card = self._tag(uid)
            answer = self._exchange(card, iso.nxp_eas_alarm(uid))
            if answer is not None:
                iso.parse_eas_alarm(answer)
                return True
            if self._tag_answers(card):
                return False
            raise TagNotInField("tag did not answer EAS ALARM nor Get System Information", device=self.name)

    # --- beyond TagReader: patron cards and pad events -------------------------------------

    def transmit_apdu(self, command: bytes) -> tuple[bytes, int]:
        """Send any APDU to whatever card lies on the pad (patron-card data); returns (data, SW)."""
        with self._lock, self._named():
            return apdu.split_sw(self._transmit(self._current_card(), command))

    def card_events(self, stop: threading.Event | None = None, poll_ms: int = 200) -> Iterator[CardEvent]:
        """Insert/remove events for this slot, starting with "inserted" if a card lies there already.

        Blocks between events; checks ``stop`` every ``poll_ms``. A removal and a new placement
        between two polls still give both events (pcscd's per-reader event counter tells).
        Raises :class:`ReaderUnavailable` when pcscd or the reader goes away.
        """
        with self._lock:
            self._ensure_open()
            reader_name = self.reader_name
        hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if hresult != scard.SCARD_S_SUCCESS:
            raise ReaderUnavailable(f"cannot reach pcscd: {_message(hresult)}", device=self.name)
        try:
            states = [(reader_name, scard.SCARD_STATE_UNAWARE)]
            present = False
            counter: int | None = None
            while stop is None or not stop.is_set():
                hresult, new_states = scard.SCardGetStatusChange(context, poll_ms, states)
                if _code(hresult) == _code(scard.SCARD_E_TIMEOUT):
                    continue
                if hresult != scard.SCARD_S_SUCCESS:
                    raise ReaderUnavailable(f"watching for cards failed: {_message(hresult)}", device=self.name)
                _name, event_state, atr = new_states[0]
                if event_state & (scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_UNAVAILABLE):
                    raise ReaderUnavailable("reader disappeared while watching for cards", device=self.name)
                now_present = bool(event_state & scard.SCARD_STATE_PRESENT)
                now_counter = (event_state >> 16) & 0xFFFF
                swapped = present and now_present and counter is not None and now_counter - counter >= 2
                if present and (not now_present or swapped):
                    yield CardEvent("removed", reader_name)
                if now_present and (not present or swapped):
                    yield CardEvent("inserted", reader_name, bytes(atr), apdu.classify_atr(bytes(atr)))
                present, counter = now_present, now_counter
                states = [(reader_name, event_state & ~scard.SCARD_STATE_CHANGED)]
        finally:
            scard.SCardReleaseContext(context)
