"""Where the UI gets its translators and language names, with English when no catalog is there.

The gettext catalogs live in :mod:`kiosk.ui.i18n` (``translator(lang)``, ``language_name(code)``).
A kiosk whose catalogs are missing or broken for one language still serves patrons, in English,
and logs why; the screens never know the difference.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from kiosk.ui.context import EnglishTranslator, Translator

log = logging.getLogger(__name__)

# Each language's name in itself, for the idle screen's buttons when the catalogs cannot say.
OWN_NAMES = {
    "en": "English", "de": "Deutsch", "fr": "Français", "es": "Español", "it": "Italiano",
    "nl": "Nederlands", "pt": "Português", "pl": "Polski", "da": "Dansk", "sv": "Svenska",
    "nb": "Norsk bokmål", "fi": "Suomi", "cs": "Čeština", "el": "Ελληνικά", "ru": "Русский",
    "uk": "Українська", "tr": "Türkçe",
}


def _i18n() -> Any:
    try:
        return importlib.import_module("kiosk.ui.i18n")
    except ImportError:
        return None


class Translators:
    """One translator per language, made on first use and kept (catalogs are read once)."""

    def __init__(self) -> None:
        self._made: dict[str, Translator] = {}

    def get(self, language: str) -> Translator:
        if language not in self._made:
            self._made[language] = self._make(language)
        return self._made[language]

    @staticmethod
    def _make(language: str) -> Translator:
        i18n = _i18n()
        make = getattr(i18n, "translator", None)
        if make is not None:
            try:
                return make(language)
            except Exception:  # a broken catalog must not stop the kiosk
                log.exception("no translator for %r; showing English", language)
        return EnglishTranslator()


def language_name(code: str) -> str:
    """The language's name in itself ("Deutsch"), as its button shows it."""
    name_of = getattr(_i18n(), "language_name", None)
    if name_of is not None:
        try:
            name = name_of(code)
            if name:
                return str(name)
        except Exception:
            log.exception("no name for language %r", code)
    return OWN_NAMES.get(code.split("-")[0].split("_")[0], code)
