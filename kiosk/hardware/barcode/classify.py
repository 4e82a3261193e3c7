"""Is this scan a patron card, an item, a publisher's barcode, or something else? A pure function.

Each library numbers its cards and items its own way, so the patterns are site data
(`ClassificationRules`, loaded from configuration with `rules_from_config`); the code has no
library-specific branch. Order of judgement, and why:

1. The site's rules, in their configured order, first match wins. A pattern match whose check
   digit fails is remembered but not accepted (a misread or a misprint is not a patron id).
2. A read the scanner itself reports as EAN/UPC (AIM identifier) is a publisher's barcode.
3. A rule matched but its check digit failed: ask to scan again.
4. Digits that form a valid ISBN/EAN-13, UPC-A, UPC-E, with or without a 2/5-digit add-on: a
   publisher's barcode, so the patron is told where the library barcode is. This comes only after
   the site's rules because about one random 14-digit string in ten is a valid GTIN: the EAN check
   is a wrong-barcode detector, never a reason to reject a number the site's rules accept.
5. Anything else is not a library barcode.

Messages are ids with English default text; the UI translates the id.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from kiosk.hardware.barcode.aim import EAN_UPC
from kiosk.hardware.barcode.checkdigits import (
    CODABAR14_ITEM_TYPE,
    CODABAR14_PATRON_TYPE,
    codabar14_is_valid,
    gtin_is_valid,
    is_ascii_digits,
    luhn_is_valid,
    upce_is_valid,
)


class BarcodeKind(StrEnum):
    PATRON = "patron"
    ITEM = "item"
    PUBLISHER = "publisher"
    NOT_LIBRARY = "not_library"


class CheckDigit(StrEnum):
    NONE = "none"
    LUHN = "luhn"
    CODABAR14 = "codabar14"


@dataclass(frozen=True, slots=True)
class Message:
    """A patron-facing message: the UI looks ``id`` up in its catalogue and falls back to ``default``."""

    id: str
    default: str


PUBLISHER_BARCODE = Message("barcode.publisher", "Please scan the library barcode inside the cover")
NOT_LIBRARY_BARCODE = Message(
    "barcode.not_library",
    "This is not a library barcode. Please scan your library card or the library barcode on the item.",
)
CHECK_FAILED = Message(
    "barcode.check_failed",
    "This barcode did not read correctly. Please scan it again, or ask staff for help.",
)

MESSAGES = (PUBLISHER_BARCODE, NOT_LIBRARY_BARCODE, CHECK_FAILED)


@dataclass(frozen=True, slots=True)
class Classification:
    """``identifier`` is what goes to the ILS (patron and item only). ``detail`` says why, for logs:
    the rule's name, the publisher number type (``isbn``, ``upca+5``...), or ``check_digit``,
    ``no_rule``, ``empty``, ``too_long``."""

    kind: BarcodeKind
    identifier: str | None
    message: Message | None
    detail: str


class BarcodeRulesError(ValueError):
    """The site's barcode rules are not usable; the message says which setting and why."""


@dataclass(frozen=True, slots=True)
class BarcodeRule:
    """One site pattern. ``pattern`` must match the whole (normalised) scan; ``strip_prefix`` is then
    removed from the identifier (cards printed ``P1234`` whose ILS id is ``1234``); ``check`` is
    verified on that identifier."""

    kind: BarcodeKind
    pattern: re.Pattern[str]
    check: CheckDigit = CheckDigit.NONE
    strip_prefix: str = ""
    name: str = ""

    def __post_init__(self) -> None:
        # Accept plain strings too, so rules written in code read like the configuration.
        if self.kind not in (BarcodeKind.PATRON, BarcodeKind.ITEM):
            raise BarcodeRulesError(f"a rule's kind must be 'patron' or 'item', not {self.kind!r}")
        object.__setattr__(self, "kind", BarcodeKind(self.kind))
        if self.check not in {c.value for c in CheckDigit}:
            raise BarcodeRulesError(f"a rule's check must be one of {[c.value for c in CheckDigit]}")
        object.__setattr__(self, "check", CheckDigit(self.check))
        if isinstance(self.pattern, str):
            try:
                object.__setattr__(self, "pattern", re.compile(self.pattern))
            except re.error as exc:
                raise BarcodeRulesError(
                    f"pattern {self.pattern!r} is not a valid regular expression: {exc}"
                ) from exc
        if not isinstance(self.pattern, re.Pattern):
            raise BarcodeRulesError(f"rule pattern must be a regex, not {type(self.pattern).__name__}")

    def identifier_for(self, text: str) -> str | None:
        """The identifier if ``text`` matches this rule's pattern, else None (check not yet applied)."""
        if self.pattern.fullmatch(text) is None:
            return None
        if self.strip_prefix and text.startswith(self.strip_prefix):
            return text[len(self.strip_prefix) :]
        return text

    def check_passes(self, identifier: str) -> bool:
        if self.check is CheckDigit.LUHN:
            return luhn_is_valid(identifier)
        if self.check is CheckDigit.CODABAR14:
            type_digit = CODABAR14_PATRON_TYPE if self.kind is BarcodeKind.PATRON else CODABAR14_ITEM_TYPE
            return codabar14_is_valid(identifier, type_digit)
        return True


@dataclass(frozen=True, slots=True)
class ClassificationRules:
    """A site's barcode settings. ``strip_prefixes``/``strip_suffixes`` remove what a scanner adds
    (the first one present is removed); ``strip_codabar_start_stop`` also tries the rules without a
    Codabar start/stop pair (A-D), which scanners send or not depending on their setup."""

    rules: tuple[BarcodeRule, ...] = ()
    strip_prefixes: tuple[str, ...] = ()
    strip_suffixes: tuple[str, ...] = ()
    strip_codabar_start_stop: bool = True
    detect_publisher_barcodes: bool = True
    max_length: int = 64


DEFAULT_RULES = ClassificationRules(
    rules=(
        BarcodeRule(
            BarcodeKind.PATRON, re.compile(r"2\d{13}"), CheckDigit.CODABAR14, name="codabar14-patron"
        ),
        BarcodeRule(BarcodeKind.ITEM, re.compile(r"3\d{13}"), CheckDigit.CODABAR14, name="codabar14-item"),
    )
)

_CODABAR_START_STOP = frozenset("ABCDabcdTN*Ee")
_CODABAR_DATA = re.compile(r"[0-9\-$:/.+]+")
_SEPARATORS = re.compile(r"[ \-]")


def classify(
    text: str, rules: ClassificationRules = DEFAULT_RULES, symbology: str | None = None
) -> Classification:
    """Classify one scan. Never raises on any text: bad input is a ``not_library`` result."""
    scan = text.strip()
    if not scan:
        return Classification(BarcodeKind.NOT_LIBRARY, None, NOT_LIBRARY_BARCODE, "empty")
    if len(scan) > rules.max_length:
        return Classification(BarcodeKind.NOT_LIBRARY, None, NOT_LIBRARY_BARCODE, "too_long")
    scan = _strip_scanner_additions(scan, rules)

    check_failed = False
    for candidate in _candidates(scan, rules):
        for rule in rules.rules:
            identifier = rule.identifier_for(candidate)
            if identifier is None:
                continue
            if rule.check_passes(identifier):
                return Classification(rule.kind, identifier, None, rule.name or rule.pattern.pattern)
            check_failed = True

    if rules.detect_publisher_barcodes and symbology == EAN_UPC:
        return Classification(BarcodeKind.PUBLISHER, None, PUBLISHER_BARCODE, "ean_upc_symbology")
    if check_failed:
        return Classification(BarcodeKind.NOT_LIBRARY, None, CHECK_FAILED, "check_digit")
    if rules.detect_publisher_barcodes:
        publisher_type = publisher_barcode_type(scan)
        if publisher_type is not None:
            return Classification(BarcodeKind.PUBLISHER, None, PUBLISHER_BARCODE, publisher_type)
    return Classification(BarcodeKind.NOT_LIBRARY, None, NOT_LIBRARY_BARCODE, "no_rule")


def publisher_barcode_type(text: str) -> str | None:
    """``isbn``, ``issn``, ``ean13``, ``upca`` or ``upce`` (with ``+2``/``+5`` for an add-on) when the
    digits form a valid publisher number; None otherwise. Spaces or hyphens between parts are allowed."""
    digits = _SEPARATORS.sub("", text)
    if not is_ascii_digits(digits):
        return None
    for main_length, name in ((13, "ean13"), (12, "upca")):
        add_on = len(digits) - main_length
        if add_on in (0, 2, 5) and gtin_is_valid(digits[:main_length], lengths=(main_length,)):
            if name == "ean13":
                name = {"978": "isbn", "979": "isbn", "977": "issn"}.get(digits[:3], "ean13")
            return name + (f"+{add_on}" if add_on else "")
    if upce_is_valid(digits):
        return "upce"
    return None


def _strip_scanner_additions(scan: str, rules: ClassificationRules) -> str:
    for prefix in rules.strip_prefixes:
        if prefix and scan.startswith(prefix) and len(scan) > len(prefix):
            scan = scan[len(prefix) :]
            break
    for suffix in rules.strip_suffixes:
        if suffix and scan.endswith(suffix) and len(scan) > len(suffix):
            scan = scan[: -len(suffix)]
            break
    return scan


def _candidates(scan: str, rules: ClassificationRules) -> list[str]:
    """The scan as sent, then (if it looks like Codabar with start/stop characters) without them.

    As-sent comes first so an alphanumeric Code 39 id such as ``A1234B`` is not mangled."""
    candidates = [scan]
    if (
        rules.strip_codabar_start_stop
        and len(scan) > 2
        and scan[0] in _CODABAR_START_STOP
        and scan[-1] in _CODABAR_START_STOP
        and _CODABAR_DATA.fullmatch(scan[1:-1])
    ):
        candidates.append(scan[1:-1])
    return candidates


# --- configuration --------------------------------------------------------------------------------

_RULE_KEYS = {"kind", "pattern", "check", "strip_prefix", "name"}
_TOP_KEYS = {
    "rules",
    "strip_prefixes",
    "strip_suffixes",
    "strip_codabar_start_stop",
    "detect_publisher_barcodes",
    "max_length",
}


def rules_from_config(settings: Mapping[str, Any]) -> ClassificationRules:
    """Build rules from a configuration table (TOML ``[barcode]`` with ``[[barcode.rules]]``).

    Every mistake is a `BarcodeRulesError` naming the setting, so IT sees it at config check time
    rather than as patrons being refused."""
    _reject_unknown(settings, _TOP_KEYS, "barcode")
    raw_rules = settings.get("rules", [])
    if not isinstance(raw_rules, Sequence) or isinstance(raw_rules, str):
        raise BarcodeRulesError("barcode.rules must be a list of tables")
    rules = tuple(_rule_from_config(raw, f"barcode.rules[{index}]") for index, raw in enumerate(raw_rules))
    max_length = settings.get("max_length", 64)
    if not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 1:
        raise BarcodeRulesError("barcode.max_length must be a positive integer")
    return ClassificationRules(
        rules=rules,
        strip_prefixes=_strings(settings, "strip_prefixes"),
        strip_suffixes=_strings(settings, "strip_suffixes"),
        strip_codabar_start_stop=_boolean(settings, "strip_codabar_start_stop", True),
        detect_publisher_barcodes=_boolean(settings, "detect_publisher_barcodes", True),
        max_length=max_length,
    )


def _rule_from_config(raw: object, where: str) -> BarcodeRule:
    if not isinstance(raw, Mapping):
        raise BarcodeRulesError(f"{where} must be a table")
    _reject_unknown(raw, _RULE_KEYS, where)
    kind = raw.get("kind")
    if kind not in (BarcodeKind.PATRON.value, BarcodeKind.ITEM.value):
        raise BarcodeRulesError(f"{where}.kind must be 'patron' or 'item', not {kind!r}")
    pattern = raw.get("pattern")
    if not isinstance(pattern, str) or not pattern:
        raise BarcodeRulesError(f"{where}.pattern must be a non-empty regular expression")
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise BarcodeRulesError(
            f"{where}.pattern {pattern!r} is not a valid regular expression: {exc}"
        ) from exc
    check = raw.get("check", CheckDigit.NONE.value)
    if check not in {c.value for c in CheckDigit}:
        raise BarcodeRulesError(
            f"{where}.check must be one of {[c.value for c in CheckDigit]}, not {check!r}"
        )
    strip_prefix = raw.get("strip_prefix", "")
    name = raw.get("name", "")
    if not isinstance(strip_prefix, str) or not isinstance(name, str):
        raise BarcodeRulesError(f"{where}.strip_prefix and {where}.name must be strings")
    return BarcodeRule(BarcodeKind(kind), compiled, CheckDigit(check), strip_prefix, name)


def _reject_unknown(table: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise BarcodeRulesError(f"{where}: unknown setting(s) {unknown}; known: {sorted(known)}")


def _strings(settings: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = settings.get(key, [])
    if (
        isinstance(value, str)
        or not isinstance(value, Sequence)
        or not all(isinstance(v, str) for v in value)
    ):
        raise BarcodeRulesError(f"barcode.{key} must be a list of strings")
    return tuple(value)


def _boolean(settings: Mapping[str, Any], key: str, default: bool) -> bool:
    value = settings.get(key, default)
    if not isinstance(value, bool):
        raise BarcodeRulesError(f"barcode.{key} must be true or false")
    return value


__all__ = [
    "DEFAULT_RULES",
    "MESSAGES",
    "BarcodeKind",
    "BarcodeRule",
    "BarcodeRulesError",
    "CheckDigit",
    "Classification",
    "ClassificationRules",
    "Message",
    "classify",
    "publisher_barcode_type",
    "rules_from_config",
]
