"""Filling a template's ``{name}`` placeholders with a message's parameters, safely.

Templates come from translators' catalogs, so a typo there (an unmatched brace, ``{due:%d}``) must
cost one message its translation, never the screen: :func:`fill` raises only
:class:`TemplateError`, and the translator then falls back to the English template.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping

from kiosk.circulation.rows import Param

_FORMATTER = string.Formatter()
_BLANKS = re.compile(r"[ \t\r\n\f\v]+")
"""What collapsing squeezes: not the no-break space French puts before ":" and "?", which must hold."""


class TemplateError(ValueError):
    """A template that ``str.format`` cannot fill (bad braces, a format spec, an attribute access)."""


class _Blank(dict[str, str]):
    """A parameter the template asks for and the message lacks is left out, as the core's renderer does."""

    def __missing__(self, key: str) -> str:
        return ""


def param_text(value: Param) -> str:
    """A parameter as words: the ILS's messages (a tuple of texts) joined by spaces, other tuples listed."""
    if isinstance(value, tuple):
        if all(isinstance(v, str) for v in value):
            return " ".join(str(v) for v in value)
        return ", ".join(str(v) for v in value)
    return str(value)


def fill(template: str, params: Mapping[str, Param], due: Callable[[str], str], *, collapse: bool = True) -> str:
    """``template`` with its placeholders replaced; a ``due`` parameter goes through ``due`` (the date in
    the patron's language). ``collapse`` squeezes the blanks an absent parameter leaves, as on screen;
    the receipt keeps its leading indent, so it passes False.

    Parameter values are inserted, never parsed, so braces in the ILS's words are harmless.
    """
    values = _Blank({k: due(v) if k == "due" and isinstance(v, str) else param_text(v) for k, v in params.items()})
    for _, field, spec, conversion in _parse(template):
        if field is None:
            continue
        if not field.isidentifier() or spec or conversion:
            raise TemplateError(f"unsupported placeholder {{{field}{'!' + conversion if conversion else ''}"
                                f"{':' + spec if spec else ''}}} in {template!r}")
    text = template.format_map(values)
    return _BLANKS.sub(" ", text).strip(" ") if collapse else text


def placeholders(template: str) -> frozenset[str]:
    """The names a template uses, e.g. ``{"due", "ils"}``; raises :class:`TemplateError` when malformed."""
    return frozenset(field for _, field, _, _ in _parse(template) if field is not None)


def _parse(template: str) -> list[tuple[str, str | None, str | None, str | None]]:
    try:
        return list(_FORMATTER.parse(template))
    except ValueError as error:
        raise TemplateError(f"{error} in {template!r}") from None
