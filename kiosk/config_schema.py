"""The primitives every settings section is declared with: a key's check and its default.

Kept apart from :mod:`kiosk.config` so that device modules can declare their own sections
(``[printer]``, ``[gpio]``...) next to their code, and the loader can register them, without an
import cycle.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Check:
    """What a valid value is. ``expected`` completes the sentence "expected ..." in error lines."""

    expected: str
    accepts: Callable[[Any], bool]
    convert: Callable[[Any], Any] = lambda value: value
    choices: tuple[str, ...] = ()  # offered as "did you mean" when a string value is close to one


def setting(
    default: Any = dataclasses.MISSING,
    *,
    check: Check,
    doc: str,
    secret: bool = False,
    default_factory: Any = dataclasses.MISSING,
) -> Any:
    """Declare one configuration key. Without a default the key is required in some layer."""
    metadata = {"check": check, "doc": doc, "secret": secret}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def integer(low: int, high: int) -> Check:
    return Check(f"an integer {low}-{high}", lambda v: _is_int(v) and low <= v <= high)


def positive_number() -> Check:
    return Check("a number > 0", lambda v: _is_number(v) and v > 0, convert=float)


def boolean() -> Check:
    return Check("true or false", lambda v: isinstance(v, bool))


def one_of(*choices: str) -> Check:
    listed = ", ".join(f'"{c}"' for c in choices)
    return Check(f"one of {listed}", lambda v: v in choices, choices=choices)


def some_of(what: str, choices: tuple[str, ...]) -> Check:
    """An array of distinct names, each one of ``choices`` (``what`` names them in the error line)."""
    listed = ", ".join(f'"{c}"' for c in choices)
    return Check(
        f"an array of {what} from: {listed}",
        lambda v: isinstance(v, list) and len(set(v)) == len(v) and all(c in choices for c in v),
        convert=tuple,
        choices=choices,
    )


def text(*, nonempty: bool = False) -> Check:
    if nonempty:
        return Check("a non-empty string", lambda v: isinstance(v, str) and v.strip() != "")
    return Check("a string", lambda v: isinstance(v, str))


_SIP2_FORBIDDEN = re.compile(r"[|\r\n]")


def sip2_text(*, nonempty: bool = False) -> Check:
    """A value sent inside a SIP2 field: ``|`` would end the field and CR/LF the message."""
    what = "a non-empty string" if nonempty else "a string"
    return Check(
        f"{what} without |, CR or LF (it is sent inside a SIP2 field)",
        lambda v: isinstance(v, str) and (v.strip() != "" or not nonempty) and not _SIP2_FORBIDDEN.search(v),
    )


def existing_file() -> Check:
    return Check(
        "an absolute path to an existing file",
        lambda v: isinstance(v, str) and os.path.isabs(v) and os.path.isfile(v),
    )


def absolute_path() -> Check:
    """A path the process creates if need be (a state file), unlike :func:`existing_file`."""
    return Check(
        "an absolute path to a file",
        lambda v: isinstance(v, str) and os.path.isabs(v) and not v.endswith(("/", os.sep)) and "\0" not in v,
    )


def non_negative_number() -> Check:
    return Check("a number >= 0", lambda v: _is_number(v) and v >= 0, convert=float)


def _is_timezone(value: object) -> bool:
    if not isinstance(value, str) or not value or value.startswith("/"):
        return False
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def timezone() -> Check:
    return Check('an IANA time zone name such as "Europe/Berlin"', _is_timezone)


_LANGUAGE_TAG = re.compile(r"[a-z]{2,3}([_-][A-Za-z0-9]{2,8})*")


def language_tag() -> Check:
    return Check(
        'a language code such as "en" or "pt-BR"',
        lambda v: isinstance(v, str) and _LANGUAGE_TAG.fullmatch(v) is not None,
    )




def string_map() -> Check:
    return Check(
        "a table of strings (key = \"value\")",
        lambda v: isinstance(v, dict) and all(isinstance(k, str) and isinstance(x, str) for k, x in v.items()),
    )


