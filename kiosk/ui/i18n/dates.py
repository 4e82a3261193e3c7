"""Due dates as the patron reads them: the ILS's date text shown as a date in their language.

The ILS sends SIP2 dates (``YYYYMMDDZZZZHHMMSS``, sometimes trimmed to the date), the offline
journal its own ISO dates, and some ILSs free text ("next Tuesday"). Only what is surely a date is
reformatted; anything else is the ILS's own words and shown unchanged, so nothing a patron should
see is ever lost to a parser's guess. Only the date is shown: the time of day of a loan's end is
noise on a kiosk, and the date as the ILS wrote it is the one the patron is held to.
"""

from __future__ import annotations

import re
from datetime import date

from babel import Locale
from babel.dates import format_date

from sip2.fields import DATE_LENGTH, decode_date

_DIGITS_ONLY = re.compile(r"(\d{4})(\d{2})(\d{2})", re.ASCII)  # a SIP2 date whose blank zone and time were trimmed
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?", re.ASCII)


def parse_due(text: str) -> date | None:
    """The date in an ILS's due-date text, or None when it is not a date this kiosk recognises."""
    stripped = text.strip()
    try:
        sip2_text = text if len(text) == DATE_LENGTH else stripped
        if len(sip2_text) == DATE_LENGTH:
            decoded = decode_date(sip2_text)
            return decoded.date() if decoded is not None else None
        if match := _DIGITS_ONLY.fullmatch(stripped) or _ISO.fullmatch(stripped):
            return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:  # 18 characters that are not a SIP2 date, or a 13th month: the ILS's own words
        return None
    return None


def format_due(text: str, locale: Locale) -> str:
    """``text`` as a medium-length date in ``locale`` ("11 Dec 2026", "11.12.2026"), or unchanged."""
    when = parse_due(text)
    return text if when is None else format_date(when, format="medium", locale=locale)
