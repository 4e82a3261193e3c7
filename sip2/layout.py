"""How a message class declares its wire layout, and the compiled form the codec runs on.

A message is a dataclass whose fields carry their wire description in ``metadata``: a fixed
field knows its kind and position, a variable field its two-letter id. The layout is compiled
once per class into flat tuples, so encoding and decoding are loops over data, not over
reflection; that is most of why the codec is fast.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sip2.fields import (
    SECRET_FIELDS,
    PatronStatus,
    Summary,
    SupportedMessages,
    decode_date,
    decode_summary,
    encode_date,
    encode_summary,
)


@dataclass(frozen=True, slots=True)
class FixedKind:
    """A kind of fixed-length field: its width and its two conversions."""

    name: str
    length: int
    decode: Callable[[str, bool], Any]  # (text, strict) -> value; raises ValueError
    encode: Callable[[Any], str]  # value -> text of exactly ``length`` characters


def _flag_decode(text: str, strict: bool) -> bool:
    if text == "Y":
        return True
    if text == "N" or not strict:
        return False
    raise ValueError(f"expected Y or N, got {text!r}")


def _flag_encode(value: bool) -> str:
    return "Y" if value else "N"


def _ynu_decode(text: str, strict: bool) -> bool | None:
    if text == "Y":
        return True
    if text == "N":
        return False
    if text == "U" or not strict:
        return None
    raise ValueError(f"expected Y, N or U, got {text!r}")


def _ynu_encode(value: bool | None) -> str:
    return "U" if value is None else ("Y" if value else "N")


def _bit_decode(text: str, strict: bool) -> bool:
    if text == "1":
        return True
    if text == "0":
        return False
    if not strict and text in ("Y", "N"):
        return text == "Y"
    raise ValueError(f"expected 1 or 0, got {text!r}")


def _bit_encode(value: bool) -> str:
    return "1" if value else "0"


def _date_decode(text: str, strict: bool) -> Any:
    return decode_date(text)


def _status_decode(text: str, strict: bool) -> PatronStatus:
    return PatronStatus.decode(text)


def _summary_decode(text: str, strict: bool) -> Summary | None:
    return decode_summary(text)


def _int_kind(width: int) -> FixedKind:
    blank = " " * width

    def decode(text: str, strict: bool) -> int | None:
        if text.isdigit() and text.isascii():
            return int(text)
        if text == blank:
            return None
        if strict:
            raise ValueError(f"expected {width} digits, got {text!r}")
        stripped = text.strip()
        return int(stripped) if stripped.isdigit() and stripped.isascii() else None

    def encode(value: int | None) -> str:
        if value is None:
            return blank
        if not 0 <= value < 10**width:
            raise ValueError(f"{value} does not fit in {width} digits")
        return f"{value:0{width}d}"

    return FixedKind(f"int{width}", width, decode, encode)


def _text_kind(width: int) -> FixedKind:
    def decode(text: str, strict: bool) -> str:
        return text

    def encode(value: str) -> str:
        if len(value) != width:
            raise ValueError(f"must be exactly {width} characters, got {value!r}")
        return value

    return FixedKind(f"text{width}", width, decode, encode)


FLAG = FixedKind("flag", 1, _flag_decode, _flag_encode)
YNU = FixedKind("ynu", 1, _ynu_decode, _ynu_encode)
BIT = FixedKind("bit", 1, _bit_decode, _bit_encode)
DATE = FixedKind("date", 18, _date_decode, encode_date)
STATUS = FixedKind("status", 14, _status_decode, PatronStatus.encode)
SUMMARY = FixedKind("summary", 10, _summary_decode, encode_summary)
INT1, INT2, INT3, INT4 = (_int_kind(n) for n in (1, 2, 3, 4))
TEXT1, TEXT2, TEXT3, TEXT4 = (_text_kind(n) for n in (1, 2, 3, 4))


# Variable-field kinds. Values stay strings unless a conversion adds meaning; a value that does
# not convert is kept in ``extra`` (tolerant mode) so nothing the server said is lost.
VAR_TEXT = "text"
VAR_LIST = "list"
VAR_YN = "yn"
VAR_BX = "bx"


def _yn_var_decode(text: str) -> bool:
    if text == "Y":
        return True
    if text == "N":
        return False
    raise ValueError(f"expected Y or N, got {text!r}")


VAR_DECODERS: dict[str, Callable[[str], Any]] = {
    VAR_YN: _yn_var_decode,
    VAR_BX: SupportedMessages.decode,
}
VAR_ENCODERS: dict[str, Callable[[Any], str]] = {
    VAR_YN: _flag_encode,
    VAR_BX: SupportedMessages.encode,
}


def fixed(kind: FixedKind, default: Any = None) -> Any:
    """Declare a fixed-position field (declaration order is wire order)."""
    return dataclasses.field(default=default, metadata={"fixed": kind})


def var(field_id: str, *, required: bool = False, kind: str = VAR_TEXT, default: Any = None) -> Any:
    """Declare a variable field. ``required`` ones are always sent (empty if unset) and, in
    strict decoding, must be present. A default of ``""`` on an optional field means "send it
    empty": many servers want ``AC|`` and ``AD|`` present even when blank (reference §4 #3)."""
    if required and default is None:
        default = ""
    # A secret's value stays out of the message's repr, so logging a message never shows it.
    return dataclasses.field(default=default, repr=field_id not in SECRET_FIELDS,
                             metadata={"var": field_id, "kind": kind, "required": required})


def repeated(field_id: str) -> Any:
    """Declare a repeatable variable field (AF, AG, AS..AV, BU, CD, BM, BN): a tuple of strings."""
    return dataclasses.field(default=(), metadata={"var": field_id, "kind": VAR_LIST, "required": False})


@dataclass(frozen=True, slots=True)
class Layout:
    """The compiled wire layout of one message class."""

    code: str
    fixed: tuple[tuple[str, FixedKind, int, int], ...]  # (attr, kind, start, end) in the text
    fixed_end: int
    variables: tuple[tuple[str, str, str, bool], ...]  # (field id, attr, kind, required), wire order
    by_id: dict[str, tuple[str, str]]  # field id -> (attr, kind)
    required_ids: frozenset[str]
    #: optional fields that default to "" (sent empty); absent on the wire means None
    empty_by_default: tuple[str, ...] = ()


def compile_layout(code: str, cls: type) -> Layout:
    fixed_fields: list[tuple[str, FixedKind, int, int]] = []
    variables: list[tuple[str, str, str, bool]] = []
    pos = 2
    for f in dataclasses.fields(cls):
        meta = f.metadata
        if "fixed" in meta:
            kind: FixedKind = meta["fixed"]
            fixed_fields.append((f.name, kind, pos, pos + kind.length))
            pos += kind.length
        elif "var" in meta:
            variables.append((meta["var"], f.name, meta["kind"], meta["required"]))
    ids = [v[0] for v in variables]
    if len(set(ids)) != len(ids):
        raise TypeError(f"{cls.__name__} declares a field id twice")
    return Layout(
        code=code,
        fixed=tuple(fixed_fields),
        fixed_end=pos,
        variables=tuple(variables),
        by_id={fid: (attr, kind) for fid, attr, kind, _ in variables},
        required_ids=frozenset(fid for fid, _, _, req in variables if req),
        empty_by_default=tuple(
            f.name for f in dataclasses.fields(cls)
            if "var" in f.metadata and not f.metadata["required"] and f.default == ""
        ),
    )
