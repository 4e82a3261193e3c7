"""A translator for one language: the catalogs' words, or the English ones where a catalog has none.

The English templates are the fallback for everything: an id missing from a catalog, an entry not
yet translated or only fuzzily matched, a translation whose placeholders cannot be filled. The
patron then reads English, never an empty label or a crash, and the log says which entry failed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from babel import Locale

from kiosk.circulation.rows import Message, Param
from kiosk.ui.i18n.catalogs import Lookup
from kiosk.ui.i18n.dates import format_due
from kiosk.ui.i18n.formatting import TemplateError, fill

log = logging.getLogger(__name__)


class CatalogTranslator:
    """Implements :class:`kiosk.ui.context.Translator` over catalogs tried in order (``pt_BR``, then ``pt``).

    ``english`` maps every core message id to its English template; ``date_locale`` formats due dates.
    """

    def __init__(self, language: str, lookups: Sequence[Lookup], english: Mapping[str, str],
                 date_locale: Locale) -> None:
        self.language = language
        self._lookups = tuple(lookups)
        self._english = english
        self._date_locale = date_locale
        self._reported: set[tuple[str | None, str]] = set()

    def __repr__(self) -> str:
        return f"CatalogTranslator({self.language!r}, date_locale={self._date_locale!s})"

    def text(self, english: str, /, **params: Param) -> str:
        """The UI's own words; ``english`` is the msgid. Without parameters the words are shown as
        written (braces and all), as the English fallback does."""
        translated = next((s for s in (lookup.gettext(english) for lookup in self._lookups) if s), None)
        if not params:
            return translated or english
        return self._fill(None, translated, english, params, collapse=True)

    def message(self, message: Message) -> str:
        return self.render(message.id, message.args)

    def message_id(self, message_id: str, /, **params: Param) -> str:
        return self.render(message_id, params)

    def due(self, ils_text: str) -> str:
        return format_due(ils_text, self._date_locale)

    def render(self, message_id: str, params: Mapping[str, Param], *, collapse: bool = True) -> str:
        """A core message id in this language. An id no table knows shows as the id itself (as the
        core's own renderer does), so a missing table entry is visible, not blank."""
        english = self._english.get(message_id)
        translated = None
        if english is not None:
            translated = next((s for s in (lookup.pgettext(message_id, english) for lookup in self._lookups) if s),
                              None)
        return self._fill(message_id, translated, message_id if english is None else english, params,
                          collapse=collapse)

    def _fill(self, context: str | None, translated: str | None, english: str, params: Mapping[str, Param],
              *, collapse: bool) -> str:
        if translated is not None:
            try:
                return fill(translated, params, self.due, collapse=collapse)
            except TemplateError as error:
                self._report(context, english, error)
        try:
            return fill(english, params, self.due, collapse=collapse)
        except TemplateError:
            return english  # the words as written beat an empty label

    def _report(self, context: str | None, english: str, error: TemplateError) -> None:
        if (context, english) not in self._reported:
            self._reported.add((context, english))
            log.warning("%s translation of %s unusable, showing English: %s", self.language, context or repr(english),
                        error)
