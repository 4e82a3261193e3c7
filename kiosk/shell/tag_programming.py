"""``WriteTag`` on a real reader: staff tag programming, when a collection is converted to RFID.

One command programs one tag of one item: encode the site's data model, write the tag's whole user
memory, read it back, decode it the way the pad will, and only then turn security on ("in library":
the item is on the shelf). ``TagWritten(ok=True)`` means the kiosk's own decoder reads back exactly
the item, set information and owner meant; anything less is a failure whose ``detail`` staff see
("Writing failed (...): retry, or place another tag").

The whole user memory is written, zero-filled after the data: whatever a tag held before (another
library's model, an earlier item) must not survive behind the new data, where a decoder that tries
several models could find it.

Block size and count come from Get System Information, never assumed: ICODE SLIX tags have 4-byte
blocks, others 8. After any write the tag watcher is told to forget its cached decode (``forget``,
normally :meth:`~kiosk.hardware.rfid.watcher.TagWatcher.forget`), or the pad would keep showing
what the tag held before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from kiosk.circulation.commands import WriteTag
from kiosk.circulation.events import TagWritten
from kiosk.hardware.rfid.models import TagData, TagEncodeError, UsageType, decode_tag, iso28560_2, iso28560_3
from kiosk.hardware.rfid.readers.base import ReaderError, TagNotInField, TagReader
from kiosk.hardware.rfid.security import SecurityScheme, SecurityState, SecurityWriteIncomplete, set_security

log = logging.getLogger(__name__)

#: Data models staff can write. RFID501 (3M) is read on old stock but not written on new tags.
MODELS = (iso28560_3.MODEL, iso28560_2.MODEL)
_PII_ROOM = 16  # bytes of item identifier an ISO 28560-3 basic block holds


def tag_memory(
    model: str,
    item_id: str,
    parts_in_set: int,
    part_number: int,
    owner_library: str | None,
    *,
    block_size: int,
    block_count: int,
) -> bytes:
    """The tag's whole user memory for one part of an item in ``model``. Pure; raises TagEncodeError
    when the values cannot be written in the model or do not fit the tag."""
    if not 1 <= part_number <= parts_in_set:
        raise TagEncodeError(f"part {part_number} of {parts_in_set}")
    if block_size < 1 or block_count < 1:
        raise TagEncodeError(f"the tag reports {block_count} blocks of {block_size} bytes")
    size = block_size * block_count
    if model == iso28560_3.MODEL:
        data = _iso28560_3(item_id, parts_in_set, part_number, owner_library, size)
    elif model == iso28560_2.MODEL:
        is_set = parts_in_set > 1
        tag = iso28560_2.build(
            item_id,
            owner_library=owner_library,
            parts_in_set=parts_in_set if is_set else None,
            part_number=part_number if is_set else None,
            type_of_usage=int(UsageType.CIRCULATING_ITEM) << 4,  # the full byte: category in the high digit
        )
        data = iso28560_2.encode(tag, block_size=block_size)
    else:
        raise TagEncodeError(f"data model {model!r} cannot be written (one of {', '.join(MODELS)})")
    if len(data) > size:
        raise TagEncodeError(f"{len(data)} bytes of data do not fit the tag's {size} bytes")
    return data + bytes(size - len(data))


def _iso28560_3(item_id: str, parts: int, part: int, owner: str | None, size: int) -> bytes:
    country, library = iso28560_3.owner_fields(owner) if owner else ("", "")
    long_id = len(item_id.encode("latin-1", errors="replace")) > _PII_ROOM
    extension = (iso28560_3.library_extension_block(item_id),) if long_id else ()
    tag = iso28560_3.Iso28560_3Tag(
        item_id, usage_type=int(UsageType.CIRCULATING_ITEM), parts_in_set=parts, part_number=part,
        country=country, library=library, extension_blocks=extension,
    )
    data = iso28560_3.encode(tag)
    if len(data) > size and not long_id and size >= iso28560_3.TRUNCATED_BLOCK_SIZE:
        # A tag too small for the 34-byte block (a 32-byte Tag-it) takes the standard's truncated one.
        data = iso28560_3.encode(iso28560_3.Iso28560_3Tag(
            item_id, usage_type=int(UsageType.CIRCULATING_ITEM), parts_in_set=parts, part_number=part,
            country=country, library=library, truncated=True,
        ))
    return data


def mismatch(decoded: object, model: str, command: WriteTag, owner_library: str | None) -> str:
    """Why what was read back is not what was meant ("" when it is)."""
    if not isinstance(decoded, TagData):
        return f"read back as unreadable ({getattr(decoded, 'reason', decoded)})"
    got = (decoded.model, decoded.item_id, decoded.parts_in_set or 1, decoded.part_number or 1,
           decoded.owner_library or None)
    wanted = (model, command.item_id, command.parts_in_set, command.part_number, owner_library or None)
    if got != wanted:
        return f"read back as {got}, not {wanted}"
    return ""


class TagProgrammer:
    """Programs tags through ``reader`` (the :class:`~kiosk.hardware.rfid.readers.shared.SharedReader`
    the watcher polls, so they take turns on the line) in the site's data ``model`` with its
    ``owner_library`` ISIL, and sets security with ``scheme``.

    ``forget`` is called with the UID after every write that may have changed the tag; wire it to
    the tag watcher's :meth:`~kiosk.hardware.rfid.watcher.TagWatcher.forget` (it may be set after
    construction, since the watcher is usually built after the runner that owns this programmer).
    """

    def __init__(
        self,
        reader: TagReader,
        scheme: SecurityScheme,
        *,
        owner_library: str | None,
        model: str = iso28560_3.MODEL,
        forget: Callable[[bytes], None] | None = None,
        attempts: int = 2,
    ) -> None:
        if model not in MODELS:
            raise ValueError(f"tag data model must be one of {MODELS}, got {model!r}")
        if model == iso28560_3.MODEL and owner_library:
            try:
                iso28560_3.owner_fields(owner_library)
            except TagEncodeError as exc:
                raise ValueError(str(exc)) from exc
        self.reader = reader
        self.scheme = scheme
        self.owner_library = owner_library
        self.model = model
        self.forget = forget
        self.attempts = attempts

    def perform(self, command: WriteTag) -> TagWritten:
        uid = command.uid
        try:
            info = self.reader.system_info(uid)
            if not info.block_size or not info.block_count:
                return self._failed(command, "the tag does not report its memory size")
            memory = tag_memory(
                self.model, command.item_id, command.parts_in_set, command.part_number, self.owner_library,
                block_size=info.block_size, block_count=info.block_count,
            )
        except TagEncodeError as exc:
            return self._failed(command, f"cannot encode: {exc}")
        except ReaderError as exc:
            return self._failed(command, _words(exc))
        try:
            self.reader.write_blocks(uid, 0, memory)
            read = self.reader.read_blocks(uid, 0, info.block_count)
            if read[: len(memory)] != memory:
                return self._failed(command, "read-back differs from what was written")
            problem = mismatch(decode_tag(read, info.dsfid), self.model, command, self.owner_library)
            if problem:
                return self._failed(command, problem)
            set_security(self.reader, uid, SecurityState.IN_LIBRARY, self.scheme, attempts=self.attempts)
        except ReaderError as exc:
            return self._failed(command, _words(exc))
        finally:
            self._forget(uid)  # the tag may hold new data even when a later step failed
        parts = f" part {command.part_number}/{command.parts_in_set}" if command.parts_in_set > 1 else ""
        return TagWritten(command.ref, True, f"{command.item_id}{parts}: {self.model}, verified, security on")

    def _forget(self, uid: bytes) -> None:
        if self.forget is None:
            return
        try:
            self.forget(uid)
        except Exception:  # the write stands; a stale pad view is the lesser harm than losing the answer
            log.exception("telling the tag watcher to forget %s failed", uid.hex())

    @staticmethod
    def _failed(command: WriteTag, detail: str) -> TagWritten:
        log.info("programming %s as %s failed: %s", command.uid.hex().upper(), command.item_id, detail)
        return TagWritten(command.ref, False, detail)


def _words(exc: ReaderError) -> str:
    """Short words for staff: the ones that tell them what to do first."""
    if isinstance(exc, TagNotInField) or (isinstance(exc, SecurityWriteIncomplete) and exc.left_field):
        return "the tag left the field"
    return str(exc)
