"""ISO 28560-2: data elements as relative OIDs, ISO/IEC 15962 "no directory" encoding.

One model behind the US profile (NISO RP-6), China (GB/T 35660), Finland and Russia (GOST R ISO
28560-2): only the chosen elements and the owner ISIL prefix differ, not the bytes' grammar.

    precursor  bit 7 offset flag | bits 6-4 compaction | bits 3-0 relative OID (0xF: OID - 15 follows)
    [OID - 15] [offset: pad bytes after the data] length  data  [pad]        ... 0x00 = end of data

The offset lets an element end on a block boundary so its blocks can be locked (PII, owner ISIL).
Real tags use any compaction for any element (dp2 #309: octet-string PII), so the decoder accepts
every scheme everywhere. Values come back as ``str`` for text compactions and as ``bytes`` where
the data is binary (application-defined data other than an ISIL, octets of the binary elements
content parameter, type of usage, media format, supply chain stage); the encoder takes the same
types, so decode(encode(tag)) == tag.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from .compaction import EXPANDERS, Compaction, best_text_compaction, compact_text, is_isil
from .tagdata import TagData, TagEncodeError, TagFormatError, usage_type_from_code

__all__ = [
    "BINARY_OIDS",
    "ISIL_OIDS",
    "MODEL",
    "OID_NAMES",
    "DataElement",
    "Iso28560_2Tag",
    "Oid",
    "build",
    "content_parameter",
    "content_parameter_oids",
    "decode",
    "encode",
    "parse",
]

MODEL = "iso28560-2"


class Oid:
    """Relative OIDs of the ISO 28560-1 data elements used here by number."""

    PRIMARY_ITEM_IDENTIFIER = 1
    CONTENT_PARAMETER = 2
    OWNER_INSTITUTION = 3
    SET_INFORMATION = 4
    TYPE_OF_USAGE = 5
    SHELF_LOCATION = 6
    ILL_BORROWING_INSTITUTION = 11
    TITLE = 17


OID_NAMES: dict[int, str] = {
    1: "primary_item_identifier",
    2: "content_parameter",
    3: "owner_institution",
    4: "set_information",
    5: "type_of_usage",
    6: "shelf_location",
    7: "onix_media_format",
    8: "marc_media_format",
    9: "supplier_identifier",
    10: "order_number",
    11: "ill_borrowing_institution",
    12: "ill_borrowing_transaction_number",
    13: "gs1_product_identifier",
    14: "alternative_unique_item_identifier",
    15: "local_data_a",
    16: "local_data_b",
    17: "title",
    18: "product_identifier_local",
    19: "media_format",
    20: "supply_chain_stage",
    21: "supplier_invoice_number",
    22: "alternative_item_identifier",
    23: "alternative_owner_institution",
    24: "subsidiary_of_an_owner_institution",
    25: "alternative_ill_borrowing_institution",
    26: "local_data_c",
}

ISIL_OIDS = frozenset({Oid.OWNER_INSTITUTION, Oid.ILL_BORROWING_INSTITUTION})
BINARY_OIDS = frozenset({Oid.CONTENT_PARAMETER, Oid.TYPE_OF_USAGE, 19, 20})
_MAX_OID = 127
_EXTENDED_OID = 0x0F
_END_OF_DATA = 0


@dataclass(frozen=True, slots=True)
class DataElement:
    """One data element. ``compaction`` is what the decoder found, or what the encoder must use
    (None: the smallest that fits); it is not part of equality, the value is."""

    oid: int
    value: str | bytes
    compaction: Compaction | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Iso28560_2Tag:
    """The data elements of a tag, in tag order (PII first, content parameter second if present)."""

    elements: tuple[DataElement, ...]

    def value(self, oid: int) -> str | bytes | None:
        for element in self.elements:
            if element.oid == oid:
                return element.value
        return None

    @property
    def item_id(self) -> str | None:
        value = self.value(Oid.PRIMARY_ITEM_IDENTIFIER)
        return value if isinstance(value, str) else None

    def to_tagdata(self, raw: bytes) -> TagData:
        return _tagdata(raw, [(element.oid, element.value, element.compaction) for element in self.elements])


def _tagdata(raw: bytes, elements: list[tuple[int, str | bytes, Compaction | None]]) -> TagData:
    """The kiosk's summary from (OID, value, compaction) triples; decode() comes here without the rich model."""
    item_id: str | bytes | None = None
    owner: str | None = None
    parts: int | None = None
    part: int | None = None
    usage: int | None = None
    extras: list[tuple[str, str]] = []
    for oid, value, _ in elements:
        if oid == Oid.PRIMARY_ITEM_IDENTIFIER:
            item_id = value
        elif oid == Oid.CONTENT_PARAMETER:
            continue
        elif oid == Oid.OWNER_INSTITUTION and isinstance(value, str):
            owner = value
        elif oid == Oid.SET_INFORMATION:
            parts, part = _set_information(value, raw)
        else:
            if oid == Oid.TYPE_OF_USAGE:
                usage = _usage_main_category(value, raw)
            extras.append((OID_NAMES.get(oid) or f"oid_{oid}", value if isinstance(value, str) else value.hex()))
    # No checksum guards 28560-2 data: a PII with control characters is junk, not a barcode.
    if not isinstance(item_id, str) or not item_id.isprintable():
        raise TagFormatError("ISO 28560-2 data without a printable primary item identifier", raw)
    return TagData(
        MODEL,
        item_id,
        parts,
        part,
        owner,
        None if usage is None else usage_type_from_code(usage),
        raw,
        tuple(extras),
    )


def _set_information(value: str | bytes, raw: bytes) -> tuple[int, int]:
    """Set information is digits "TTOO": total parts, then this part's ordinal, equal widths."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) % 2 == 0:
        half = len(value) // 2
        return int(value[:half]), int(value[half:])
    raise TagFormatError(f"set information {value!r} is not an even number of digits", raw)


def _usage_main_category(value: str | bytes, raw: bytes) -> int:
    """Type of usage is a byte, main category in the high hex digit. Tags written by dp2 carry it as
    the text of two hex digits ("10", "80") in integer compaction; accept both forms."""
    if isinstance(value, bytes):
        if len(value) == 1:
            return value[0] >> 4
    elif len(value) in (1, 2) and all(char in "0123456789abcdefABCDEF" for char in value):
        return int(value, 16) >> 4 if len(value) == 2 else int(value, 16)
    raise TagFormatError(f"type of usage {value!r} is neither one byte nor two hex digits", raw)


def content_parameter(oids: Iterable[int]) -> bytes:
    """Bitmap of the elements present: first bit OID 3, second OID 4, ... (PII and itself excluded)."""
    present = sorted({oid for oid in oids if oid > Oid.CONTENT_PARAMETER})
    if not present:
        return b"\x00"
    bitmap = 0
    width = (present[-1] - 3) // 8 + 1
    for oid in present:
        bitmap |= 1 << (width * 8 - 1 - (oid - 3))
    return bitmap.to_bytes(width, "big")


def content_parameter_oids(bitmap: bytes) -> tuple[int, ...]:
    number = int.from_bytes(bitmap, "big")
    width = len(bitmap) * 8
    return tuple(3 + bit for bit in range(width) if number >> (width - 1 - bit) & 1)


# ---------------------------------------------------------------- decoding


_SCHEMES = tuple(Compaction)  # indexing beats calling the enum in the per-element loop


def _read_elements(memory: bytes) -> list[tuple[int, str | bytes, Compaction]]:
    """(OID, value, compaction) per element up to the end-of-data mark; TagFormatError on anything else."""
    # Module constants bound to locals: this loop runs for every element of every tag polled.
    isil_oids, binary_oids, expanders, schemes = ISIL_OIDS, BINARY_OIDS, EXPANDERS, _SCHEMES
    end = len(memory)
    position = 0
    elements: list[tuple[int, str | bytes, Compaction]] = []
    seen: set[int] = set()
    try:
        while position < end:
            precursor = memory[position]
            if precursor == 0:  # end of data
                break
            oid = precursor & 0x0F
            start = position
            position += 1
            if oid == 0x0F:  # extended: the next byte holds OID - 15
                oid += memory[position]
                position += 1
                if oid > _MAX_OID:
                    raise TagFormatError(f"element at byte {start}: relative OID {oid} over 127", memory)
            elif oid == 0:
                raise TagFormatError(f"element at byte {start}: precursor 0x{precursor:02X} has OID 0", memory)
            pad = 0
            if precursor & 0x80:
                pad = memory[position]
                position += 1
            length = memory[position]
            position += 1
            data = memory[position : position + length]
            position += length + pad
            if length == 0 or position > end:
                raise TagFormatError(f"element at byte {start}: length {length}+{pad} does not fit", memory)
            if oid in seen:
                raise TagFormatError(f"element at byte {start}: OID {oid} repeated", memory)
            seen.add(oid)
            code = (precursor >> 4) & 0x07
            # Application-defined data other than an ISIL, and octets of binary elements, stay bytes.
            if (code == 0 and oid not in isil_oids) or (code == 6 and oid in binary_oids):
                value: str | bytes = data
            else:
                try:
                    value = expanders[code](data)
                except ValueError as error:
                    raise TagFormatError(f"element at byte {start} (OID {oid}): {error}", memory) from error
            elements.append((oid, value, schemes[code]))
    except IndexError as error:
        raise TagFormatError(f"data set cut off at byte {position}", memory) from error
    if not elements:
        raise TagFormatError("no ISO 28560-2 data elements", memory)
    return elements


def parse(memory: bytes) -> Iso28560_2Tag:
    """Decode user memory (from block 0) into data elements; TagFormatError if it is not 28560-2 data."""
    memory = bytes(memory)
    return Iso28560_2Tag(tuple(DataElement(oid, value, scheme) for oid, value, scheme in _read_elements(memory)))


def decode(memory: bytes) -> TagData:
    """Decode user memory into the kiosk's TagData; TagFormatError if it is not 28560-2 data."""
    memory = bytes(memory)
    return _tagdata(memory, _read_elements(memory))


# ---------------------------------------------------------------- encoding


def _compact(element: DataElement) -> tuple[Compaction, bytes]:
    oid, value, scheme = element.oid, element.value, element.compaction
    if isinstance(value, bytes):
        if oid in ISIL_OIDS:
            raise TagEncodeError(f"OID {oid} holds an ISIL: give it as text")
        if scheme is None:
            # The content parameter is application-defined (Annex D); other binary elements are octets;
            # bytes for a text element can only come back as bytes through application-defined data.
            binary_octets = oid in BINARY_OIDS and oid != Oid.CONTENT_PARAMETER
            scheme = Compaction.OCTET if binary_octets else Compaction.APPLICATION_DEFINED
        if scheme is Compaction.OCTET and oid not in BINARY_OIDS:
            raise TagEncodeError(f"OID {oid} octets read back as text: give text, or application-defined")
        if scheme not in (Compaction.OCTET, Compaction.APPLICATION_DEFINED):
            raise TagEncodeError(f"binary value for OID {oid} needs octet or application-defined compaction")
        if not value:
            raise TagEncodeError(f"OID {oid}: empty value")
        return scheme, value
    if not isinstance(value, str):
        raise TagEncodeError(f"OID {oid}: value must be str or bytes, not {type(value).__name__}")
    if scheme is None:
        if oid in ISIL_OIDS and is_isil(value):
            scheme = Compaction.APPLICATION_DEFINED
        else:
            allowed = tuple(
                candidate for candidate in Compaction
                if candidate is not Compaction.APPLICATION_DEFINED
                and not (candidate is Compaction.OCTET and oid in BINARY_OIDS)
            )
            try:
                scheme = best_text_compaction(value, allowed)
            except ValueError as error:
                raise TagEncodeError(f"OID {oid}: {error}") from error
    elif scheme is Compaction.APPLICATION_DEFINED and oid not in ISIL_OIDS:
        raise TagEncodeError(f"OID {oid}: application-defined text is only defined for ISIL elements")
    elif scheme is Compaction.OCTET and oid in BINARY_OIDS:
        raise TagEncodeError(f"OID {oid} octets read back as bytes: give bytes")
    try:
        return scheme, compact_text(value, scheme)
    except ValueError as error:
        raise TagEncodeError(f"OID {oid}: {error}") from error


@dataclass(slots=True)
class _Placed:
    """An element on its way to the tag; ``pad`` None means no offset byte."""

    oid: int
    scheme: Compaction
    data: bytes
    pad: int | None = None

    def header(self) -> bytes:
        oid = self.oid
        header = bytearray([(self.scheme << 4) | (oid if oid < _EXTENDED_OID else _EXTENDED_OID)])
        if oid >= _EXTENDED_OID:
            header.append(oid - _EXTENDED_OID)
        if self.pad is not None:
            header[0] |= 0x80
            header.append(self.pad)
        header.append(len(self.data))
        return bytes(header)


def encode(
    tag: Iso28560_2Tag,
    *,
    lock_oids: Collection[int] = (),
    block_size: int = 4,
    memory_size: int | None = None,
) -> bytes:
    """Bytes to write from block 0, ending with the 0x00 end-of-data mark where room is left, zero-padded
    to whole blocks (or to ``memory_size``).

    Elements in ``lock_oids`` are laid out on whole blocks so the caller can lock those blocks: a run
    of them starts on a block boundary (the element before gets pad bytes via its offset) and ends on
    one (its last element gets them). This is how ISO 28560-2 Annex D places PII and owner ISIL.
    """
    elements = tag.elements
    if not elements or elements[0].oid != Oid.PRIMARY_ITEM_IDENTIFIER:
        raise TagEncodeError("the primary item identifier must come first")
    pii = elements[0].value
    if not isinstance(pii, str) or not pii.isprintable():
        raise TagEncodeError(f"primary item identifier {pii!r} must be printable text")
    oids = [element.oid for element in elements]
    if len(set(oids)) != len(oids):
        raise TagEncodeError(f"repeated OIDs in {oids}")
    if Oid.CONTENT_PARAMETER in oids[2:]:
        raise TagEncodeError("the content parameter must come second")
    if block_size < 1:
        raise TagEncodeError(f"block size {block_size}")
    for oid in oids:
        if not 1 <= oid <= _MAX_OID:
            raise TagEncodeError(f"relative OID {oid} outside 1..127")
    placed = [_Placed(element.oid, *_compact(element)) for element in elements]
    for part in placed:
        if len(part.data) > 255:
            raise TagEncodeError(f"OID {part.oid}: {len(part.data)} bytes compacted, at most 255 fit")
    locked = [oid in lock_oids for oid in oids]
    position = 0
    for index, part in enumerate(placed):
        if locked[index] and index and not locked[index - 1] and position % block_size:
            gap = -position % block_size  # the previous element's offset byte takes one of these bytes
            placed[index - 1].pad = gap - 1
            position += gap
        position += len(part.header()) + len(part.data)
        last_of_run = index + 1 == len(placed) or not locked[index + 1]
        if locked[index] and last_of_run and position % block_size:
            gap = -position % block_size
            part.pad = gap - 1
            position += gap
    out = bytearray()
    for part in placed:
        if part.pad is not None and part.pad > 255:
            raise TagEncodeError(f"block size {block_size} needs {part.pad} pad bytes, at most 255 fit")
        out += part.header()
        out += part.data
        out += bytes(part.pad or 0)
    if memory_size is None:
        out.append(_END_OF_DATA)
        out += bytes(-len(out) % block_size)
    else:
        if len(out) > memory_size:
            raise TagEncodeError(f"{len(out)} bytes of data do not fit {memory_size} bytes of tag memory")
        out += bytes(memory_size - len(out))
    return bytes(out)


def build(
    item_id: str,
    *,
    owner_library: str | None = None,
    parts_in_set: int | None = None,
    part_number: int | None = None,
    type_of_usage: int | None = None,
    others: Iterable[tuple[int, str | bytes]] = (),
    with_content_parameter: bool = True,
) -> Iso28560_2Tag:
    """Assemble a tag the usual way: PII, content parameter, type of usage, set information, other
    elements as given, owner ISIL last (so PII and owner can each be locked on their own blocks).

    ``type_of_usage`` is the full byte (0x10 circulating, 0x80 patron card, ...).
    """
    rest: list[DataElement] = []
    if type_of_usage is not None:
        if not 0 <= type_of_usage <= 255:
            raise TagEncodeError(f"type of usage {type_of_usage} is not a byte")
        rest.append(DataElement(Oid.TYPE_OF_USAGE, bytes([type_of_usage])))
    if (parts_in_set is None) != (part_number is None):
        raise TagEncodeError("set information needs both parts in set and part number")
    if parts_in_set is not None and part_number is not None:
        if parts_in_set < 0 or part_number < 0:
            raise TagEncodeError("set information cannot be negative")
        width = max(2, len(str(parts_in_set)), len(str(part_number)))
        rest.append(DataElement(Oid.SET_INFORMATION, f"{parts_in_set:0{width}d}{part_number:0{width}d}"))
    rest.extend(DataElement(oid, value) for oid, value in others)
    if owner_library is not None:
        rest.append(DataElement(Oid.OWNER_INSTITUTION, owner_library))
    head = [DataElement(Oid.PRIMARY_ITEM_IDENTIFIER, item_id)]
    if with_content_parameter and rest:
        head.append(DataElement(Oid.CONTENT_PARAMETER, content_parameter(element.oid for element in rest)))
    return Iso28560_2Tag(tuple(head + rest))
