"""Frame logging that cannot leak a PIN or a password, nor show who a patron is.

Masking works on the frame's fields, not on a regular expression over the whole line, so a
title that happens to contain "AD" is left alone and a PIN is masked wherever it sits.

Secrets (AD, CO, AC) are always masked whole. A wire log also masks what identifies a patron: the
patron id keeps its last four characters (as on receipts: enough to match a card in hand), and
the name, address, e-mail, phone and birth date are masked whole. The raw frame tool of the CLI,
which shows what its operator typed, masks only the secrets.
"""

from __future__ import annotations

from sip2.fields import SECRET_FIELDS
from sip2.messages import MESSAGE_TYPES

MASK = "****"
#: Fields that say who a patron is: AA patron id, AE personal name, BD home address, BE e-mail,
#: BF home phone, PB birth date (a Koha/Evergreen extension).
PERSONAL_FIELDS = frozenset({"AA", "AE", "BD", "BE", "BF", "PB"})
_KEEP_TAIL = {"AA": 4}


def _masked_value(field_id: str, value: str) -> str:
    keep = _KEEP_TAIL.get(field_id, 0)
    return MASK + value[-keep:] if keep and len(value) > keep else MASK


def masked_text(text: str, *, personal: bool = False) -> str:
    """``text`` (one frame, decoded) with the values of AD, CO and AC replaced by ``****``, and with
    ``personal`` the patron's id (all but its last four characters), name and contact details."""
    cls = MESSAGE_TYPES.get(text[:2])
    start = cls._layout.fixed_end if cls is not None else 2
    head, rest = text[:start], text[start:]
    if not rest:
        return text
    pieces = rest.split("|")
    for i, piece in enumerate(pieces):
        field_id = piece[:2]
        if len(piece) <= 2:
            continue
        if field_id in SECRET_FIELDS:
            pieces[i] = field_id + MASK
        elif personal and field_id in PERSONAL_FIELDS:
            pieces[i] = field_id + _masked_value(field_id, piece[2:])
    return head + "|".join(pieces)


def masked_frame(raw: bytes, encoding: str = "cp850") -> str:
    """A printable rendering of raw frame bytes for logs (CR shown as ``\\r``): secrets and the
    patron's identity masked."""
    text = raw.decode(encoding, errors="replace")
    core = text.rstrip("\r\n")
    return masked_text(core, personal=True) + text[len(core):].replace("\r", "\\r").replace("\n", "\\n")
