"""The kiosk's languages: gettext catalogs read with Babel, a translator per language, due dates
in the patron's language, and the printed receipt's wording.

Catalogs live beside this file: ``kiosk.pot`` (the template, regenerated from the code by
``python -m kiosk.ui.i18n.extract``) and ``<lang>/LC_MESSAGES/kiosk.po``. A core message id is an
entry whose msgctxt is the id and whose msgid is its English template; the UI's own words are
entries whose msgid is the English as written in the code. See docs/translating.md.
"""

from __future__ import annotations

from kiosk.ui.context import Translator
from kiosk.ui.i18n.languages import Languages, ReceiptWording, language_name

_LANGUAGES = Languages()

__all__ = ["N_", "ReceiptWording", "available_languages", "language_name", "receipt_wording", "translator"]


def available_languages() -> tuple[str, ...]:
    """``"en"`` (the code's own words) and every language with a catalog, e.g. ``("en", "de", "fr")``."""
    return _LANGUAGES.available()


def translator(language: str) -> Translator:
    """The patron's words in ``language`` (``"de"``, ``"pt-BR"``), one cached translator per language.

    ``pt-BR`` uses the ``pt_BR`` catalog, then ``pt``, then English, entry by entry; a language with no
    catalog gets English and a logged warning naming it. ``""`` (no choice made) is English: the
    caller resolves the site's own language (``state.languages[0]``) before asking.
    """
    return _LANGUAGES.translator(language)


def receipt_wording(language: str) -> ReceiptWording:
    """``wording(message_id, params)`` for the printed receipt in ``language`` (leading spaces kept)."""
    return _LANGUAGES.receipt_wording(language)


def N_(english: str) -> str:
    """Marks English kept in a table (``BUTTONS = [(N_("Borrow"), "borrow")]``) for extraction. It
    translates nothing: show the words with ``ui.tr.text(word)`` where they are rendered."""
    return english
