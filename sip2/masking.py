"""Frame logging that cannot leak a PIN or a password.

Masking works on the frame's fields, not on a regular expression over the whole line, so a
title that happens to contain "AD" is left alone and a PIN is masked wherever it sits.
"""

from __future__ import annotations

from sip2.fields import SECRET_FIELDS
from sip2.messages import MESSAGE_TYPES

MASK = "****"


def masked_text(text: str) -> str:
    """``text`` (one frame, decoded) with the values of AD, CO and AC replaced by ``****``."""
    cls = MESSAGE_TYPES.get(text[:2])
    start = cls._layout.fixed_end if cls is not None else 2
    head, rest = text[:start], text[start:]
    if not rest:
        return text
    pieces = rest.split("|")
    for i, piece in enumerate(pieces):
        if piece[:2] in SECRET_FIELDS and len(piece) > 2:
            pieces[i] = piece[:2] + MASK
    return head + "|".join(pieces)


def masked_frame(raw: bytes, encoding: str = "cp850") -> str:
    """A printable, masked rendering of raw frame bytes for logs (CR shown as ``\\r``)."""
    text = raw.decode(encoding, errors="replace")
    core = text.rstrip("\r\n")
    return masked_text(core) + text[len(core):].replace("\r", "\\r").replace("\n", "\\n")
