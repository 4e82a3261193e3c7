"""Where the catalogs live and how one is read: straight from its ``.po`` with Babel.

No compiled ``.mo`` is shipped or built: a kiosk reads a few hundred short entries once per
language, and reading the ``.po`` itself means a catalog edited on site (or in a pull request)
is exactly what runs, with no build step to forget.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from babel.core import UnknownLocaleError
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import PoFileError, read_po, unescape

CATALOG_DIR = Path(__file__).resolve().parent
DOMAIN = "kiosk"


class CatalogError(Exception):
    """A catalog that cannot be read (missing, unreadable or not a .po file)."""


def template_path(directory: Path = CATALOG_DIR) -> Path:
    return directory / f"{DOMAIN}.pot"


def po_path(language: str, directory: Path = CATALOG_DIR) -> Path:
    return directory / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def catalog_languages(directory: Path = CATALOG_DIR) -> tuple[str, ...]:
    """The languages with a catalog in ``directory`` (directory names such as ``de`` or ``pt_BR``)."""
    if not directory.is_dir():
        return ()
    return tuple(sorted(entry.name for entry in directory.iterdir() if po_path(entry.name, directory).is_file()))


def read_catalog(path: Path, language: str | None = None) -> Catalog:
    """A .po or .pot file as a Babel catalog; raises :class:`CatalogError` only."""
    try:
        with path.open("rb") as stream:
            catalog = read_po(stream, locale=language, domain=DOMAIN, abort_invalid=True)
    except (OSError, ValueError, LookupError, PoFileError, UnknownLocaleError) as error:  # LookupError: a bad charset
        raise CatalogError(f"cannot read the catalog {path}: {error}") from error
    for message in (*catalog, *catalog.obsolete.values()):
        _restore_previous(message)
    return catalog


def _restore_previous(message: Message) -> None:
    """Babel writes the previous English (``#| msgid "..."``) but reads it back as a user comment;
    put it back where it belongs, so a fuzzy entry keeps showing the translator what changed."""
    previous = [c[1:].strip() for c in message.user_comments if c.startswith("|")]
    if not previous:
        return
    message.user_comments = [c for c in message.user_comments if not c.startswith("|")]
    # Babel wraps the comment like prose, even inside its quoted pieces: rejoin the lines with the
    # space the wrapping took, then read the quoted pieces of the msgid.
    text = " ".join(previous)
    if not text.startswith("msgid "):
        return
    text = text[len("msgid "):].split(" msgid_plural ", 1)[0]
    pieces = _QUOTED.findall(text)
    if pieces:
        message.previous_id = ["".join(unescape(f'"{piece}"') for piece in pieces)]


_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True, slots=True)
class Lookup:
    """A gettext-like view of one catalog: only entries that are translated and not fuzzy.

    A fuzzy entry is a guess (Babel's, after the English changed) that no translator has confirmed,
    so it is not shown, as gettext's own tools do; the English shows until someone reviews it.
    """

    language: str
    strings: Mapping[tuple[str | None, str], str]

    def gettext(self, msgid: str) -> str | None:
        return self.strings.get((None, msgid))

    def pgettext(self, context: str, msgid: str) -> str | None:
        return self.strings.get((context, msgid))


def load(language: str, directory: Path = CATALOG_DIR) -> Lookup:
    catalog = read_catalog(po_path(language, directory), language=None)
    strings = {
        (message.context, message.id): message.string
        for message in catalog
        if message.id and isinstance(message.id, str) and isinstance(message.string, str)
        and message.string and not message.fuzzy
    }
    return Lookup(language, strings)
