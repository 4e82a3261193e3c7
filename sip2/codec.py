"""Bytes <-> messages. No I/O: the session and the transports sit on top of this.

* The checksum is computed over the **encoded bytes** (summing characters breaks on the first
  non-ASCII title, reference §4 #1).
* Decoding is tolerant by default: empty, duplicated, unknown and unconvertible variable fields
  are kept in ``extra``; missing optional fields are None. ``strict=True`` turns every such
  deviation into a :class:`~sip2.errors.SIP2DecodeError`.
* Every malformed input raises :class:`~sip2.errors.SIP2DecodeError` (carrying the raw bytes),
  never another exception.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from sip2.compiled import Irregular
from sip2.errors import ChecksumError, SIP2DecodeError, SIP2EncodeError, UnknownCommandError
from sip2.fields import SECRET_FIELDS
from sip2.layout import VAR_DECODERS, VAR_ENCODERS, VAR_LIST, VAR_TEXT
from sip2.messages import MESSAGE_TYPES, Message, RequestACSResend, RequestSCResend

ENCODINGS = ("cp850", "latin-1", "utf-8", "ascii")
CR = b"\r"
CRLF = b"\r\n"
_HEX_DIGITS = b"0123456789ABCDEFabcdef"
_RESEND_CODES = frozenset({RequestACSResend.code, RequestSCResend.code})


def checksum(data: bytes) -> str:
    """The AZ value for ``data`` (everything from the command code through ``AZ``)."""
    return f"{-sum(data) & 0xFFFF:04X}"


def checksum_ok(data_through_az: bytes, value: bytes) -> bool:
    try:
        return (sum(data_through_az) + int(value, 16)) & 0xFFFF == 0
    except ValueError:
        return False


class Frame(NamedTuple):
    """A decoded frame: the message plus its error-detection trailer, if it had one."""

    message: Message
    sequence: int | None  # AY, 0-9, when error detection was used
    had_checksum: bool
    raw: bytes


def encode(
    msg: Message,
    *,
    encoding: str = "cp850",
    sequence: int | None = None,
    error_detection: bool | None = None,
    terminator: bytes = CR,
    errors: str = "strict",
) -> bytes:
    """Encode one message as a frame.

    ``sequence`` (0-9) appends ``AY<n>AZ<checksum>``. For 96/97, which carry no sequence
    number, ``error_detection=True`` appends the bare ``AZ<checksum>`` (``97AZFEF5``).
    ``errors="replace"`` sends ``?`` for text the encoding cannot carry, as SIPServer does for
    titles; a self-check keeps the default, so a PIN or barcode is never silently altered.
    """
    body = encode_text(msg)
    try:
        # Every supported encoding is a superset of ASCII, and ASCII is the common case: its C
        # fast path is several times quicker than the cp850 charmap.
        data = body.encode("ascii")
    except UnicodeEncodeError:
        try:
            data = body.encode(encoding, errors)
        except UnicodeEncodeError:
            raise SIP2EncodeError(_unencodable(msg, encoding)) from None
    if msg.code in _RESEND_CODES:
        if error_detection or sequence is not None:
            data += b"AZ"
            data += checksum(data).encode("ascii")
    elif sequence is not None:
        if not 0 <= sequence <= 9:
            raise SIP2EncodeError(f"sequence number must be 0-9, got {sequence}")
        data += b"AY%dAZ" % sequence
        data += checksum(data).encode("ascii")
    return data + terminator


def encode_text(msg: Message) -> str:
    """The message as text, without trailer or terminator."""
    try:
        return msg._fast_encode(msg)
    except (Irregular, ValueError, TypeError, AttributeError):
        return _encode_text_generic(msg)


def _encode_text_generic(msg: Message) -> str:
    layout = msg._layout
    parts: list[str] = [layout.code]
    name = type(msg).__name__
    for attr, kind, _start, _end in layout.fixed:
        value = getattr(msg, attr)
        try:
            text = kind.encode(value)
        except (ValueError, TypeError, AttributeError) as exc:
            raise SIP2EncodeError(f"{name}.{attr}: {exc}") from None
        if len(text) != kind.length:
            raise SIP2EncodeError(f"{name}.{attr}: encodes to {len(text)} characters, not {kind.length}")
        parts.append(text)
    for field_id, attr, kind, required in layout.variables:
        value = getattr(msg, attr)
        if kind == VAR_LIST:
            for item in value:
                parts.append(f"{field_id}{_checked(name, attr, item)}|")
        elif value is None:
            if required:
                parts.append(f"{field_id}|")
        elif kind == VAR_TEXT:
            parts.append(f"{field_id}{_checked(name, attr, value, field_id in SECRET_FIELDS)}|")
        else:
            parts.append(f"{field_id}{_checked(name, attr, VAR_ENCODERS[kind](value))}|")
    for field_id, value in msg.extra:
        if len(field_id) != 2 or field_id in ("AY", "AZ"):
            raise SIP2EncodeError(f"{name}.extra: {field_id!r} is not a usable field id")
        parts.append(f"{_checked(name, 'extra', field_id)}{_checked(name, 'extra', value)}|")
    return "".join(parts)


def _checked(name: str, attr: str, value: Any, secret: bool = False) -> str:
    if not isinstance(value, str):
        raise SIP2EncodeError(f"{name}.{attr}: expected text, got {type(value).__name__}")
    if "|" in value or "\r" in value:
        # Refuse rather than rewrite: a barcode or PIN with a delimiter in it is an
        # injection attempt or a scanner misconfiguration, never something to send.
        shown = "(secret, not shown)" if secret else repr(value)
        raise SIP2EncodeError(f"{name}.{attr}: value contains a field delimiter or CR: {shown}")
    return value


def _unencodable(msg: Message, encoding: str) -> str:
    """Which field cannot be sent in ``encoding``, without ever showing a secret's characters."""
    name = type(msg).__name__
    for field_id, attr, _kind, _required in msg._layout.variables:
        value = getattr(msg, attr)
        for item in value if isinstance(value, tuple) else (value,):
            if not isinstance(item, str):
                continue
            try:
                item.encode(encoding)
            except UnicodeEncodeError as exc:
                if field_id in SECRET_FIELDS:
                    return f"{name}.{attr}: a character cannot be sent in {encoding} (secret, not shown)"
                return f"{name}.{attr}: {item[exc.start:exc.end]!r} cannot be sent in {encoding}"
    return f"{name}: text that cannot be sent in {encoding}"


def strip_terminator(data: bytes) -> bytes:
    """Accept CR, CRLF (Cen-Tec terminals, Koha's emulator) and a stray LF."""
    return data.rstrip(b"\r\n")


def decode(data: bytes, *, encoding: str = "cp850", strict: bool = False) -> Message:
    """Decode one frame (with or without its terminator) to a message."""
    return decode_frame(data, encoding=encoding, strict=strict).message


def decode_frame(data: bytes, *, encoding: str = "cp850", strict: bool = False) -> Frame:
    raw = data
    try:
        body = strip_terminator(data)
        sequence: int | None = None
        had_checksum = False
        n = len(body)
        # Error-detection trailer: ...AY<n>AZ<xxxx> (SIPServer insists AY is 9 from the end),
        # or a bare AZ<xxxx> on 96/97.
        # A frame without a trailer ends in "|" (not a hex digit), so a value that happens
        # to end in "AY1AZ12" is never mistaken for one.
        if n >= 9 and body[n - 9 : n - 7] == b"AY" and body[n - 6 : n - 4] == b"AZ" and _is_hex(body[n - 4 :]):
            digit = body[n - 7]
            if not 0x30 <= digit <= 0x39:
                raise SIP2DecodeError("sequence number AY is not a digit", raw)
            _verify(body, raw)
            sequence = digit - 0x30
            had_checksum = True
            body = body[: n - 9]
        elif n >= 6 and body[n - 6 : n - 4] == b"AZ" and body[:2] in (b"96", b"97") and _is_hex(body[n - 4 :]):
            _verify(body, raw)
            had_checksum = True
            body = body[: n - 6]
        try:
            text = body.decode("ascii")  # the fast path; every supported encoding extends ASCII
        except UnicodeDecodeError:
            text = body.decode(encoding, errors="replace")
        return Frame(_decode_text(text, raw, strict), sequence, had_checksum, raw)
    except SIP2DecodeError:
        raise
    except Exception as exc:  # pragma: no cover - a bug; still surface it as the typed error
        raise SIP2DecodeError(f"undecodable frame ({type(exc).__name__}: {exc})", raw) from exc


def _is_hex(value: bytes) -> bool:
    return not value.translate(None, _HEX_DIGITS)


def _verify(body: bytes, raw: bytes) -> None:
    value = body[-4:]
    if not checksum_ok(body[:-4], value):
        raise ChecksumError(f"checksum {value.decode('ascii')} does not match the frame", raw)


def _decode_text(text: str, raw: bytes, strict: bool) -> Message:
    cls = MESSAGE_TYPES.get(text[:2])
    if cls is None:
        raise UnknownCommandError(f"unknown command code {text[:2]!r}", raw)
    try:
        return cls._fast_decode(text)
    except (Irregular, KeyError, ValueError, IndexError, TypeError):
        return _decode_text_generic(cls, text, raw, strict)


def _decode_text_generic(cls: type[Message], text: str, raw: bytes, strict: bool) -> Message:
    layout = cls._layout
    if len(text) < layout.fixed_end:
        raise SIP2DecodeError(
            f"{cls.__name__}: {len(text)} characters, fixed part needs {layout.fixed_end}", raw
        )
    values: dict[str, Any] = {}
    for attr, kind, start, end in layout.fixed:
        try:
            values[attr] = kind.decode(text[start:end], strict)
        except ValueError as exc:
            raise SIP2DecodeError(f"{cls.__name__}.{attr}: {exc}", raw) from None
    rest = text[layout.fixed_end :]
    if rest:
        extra: list[tuple[str, str]] = []
        lists: dict[str, list[str]] = {}
        by_id = layout.by_id
        pieces = rest.split("|")
        if pieces[-1] == "":
            pieces.pop()
        elif strict:
            raise SIP2DecodeError(f"{cls.__name__}: last field is not terminated by '|'", raw)
        for piece in pieces:
            field_id = piece[:2]
            entry = by_id.get(field_id)
            if entry is None:
                if strict:
                    what = "an empty field" if not piece else f"unknown field {field_id!r}"
                    raise SIP2DecodeError(f"{cls.__name__}: {what}", raw)
                if piece:
                    extra.append((field_id, piece[2:]))
                continue
            attr, kind = entry
            value = piece[2:]
            if kind == VAR_LIST:
                lists.setdefault(attr, []).append(value)
                continue
            if attr in values:
                if strict:
                    raise SIP2DecodeError(f"{cls.__name__}: field {field_id} repeated", raw)
                extra.append((field_id, value))
                continue
            if kind != VAR_TEXT:
                try:
                    values[attr] = VAR_DECODERS[kind](value)
                except ValueError as exc:
                    if strict:
                        raise SIP2DecodeError(f"{cls.__name__}.{attr}: {exc}", raw) from None
                    extra.append((field_id, value))
                continue
            values[attr] = value
        for attr, items in lists.items():
            values[attr] = tuple(items)
        if extra:
            values["extra"] = tuple(extra)
    for attr in layout.empty_by_default:
        if attr not in values:
            values[attr] = None
    if strict:
        missing = [fid for fid in layout.required_ids if layout.by_id[fid][0] not in values]
        if missing:
            names = ", ".join(sorted(missing))
            raise SIP2DecodeError(f"{cls.__name__}: missing required field(s) {names}", raw)
    return cls(**values)

