"""What every screen gets to render with: the patron's words, the look, and a way to say what happened.

Screens are built against these small interfaces, not against the app, so each can be rendered and
touched in a test on its own, and the translator and theme can change under a running screen
(a patron picks another language or large text) without the screen knowing how.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from kiosk.circulation import session_text
from kiosk.circulation.events import Event
from kiosk.circulation.returns import MESSAGES as RETURNS_MESSAGES
from kiosk.circulation.rows import Message, Param
from kiosk.circulation.staff import MESSAGES as STAFF_MESSAGES
from kiosk.circulation.station import MESSAGES as STATION_MESSAGES
from kiosk.ui.theme import Theme

CORE_MESSAGES: Mapping[str, str] = {
    **session_text.MESSAGES, **RETURNS_MESSAGES, **STAFF_MESSAGES, **STATION_MESSAGES,
}
"""Every core message id with its English template (the catalogs translate these)."""


class Translator(Protocol):
    """The patron's words in one language.

    ``text`` is for the UI's own words, written in English in the code (the English is the msgid, as
    gettext does it: ``ui.tr.text("Scan your card")``); ``message`` and ``message_id`` for the ids the
    core puts in its states. Parameters named ``due`` carry the ILS's date text and are shown as a
    date in this language.
    """

    language: str

    def text(self, english: str, /, **params: Param) -> str: ...

    def message(self, message: Message) -> str: ...

    def message_id(self, message_id: str, /, **params: Param) -> str: ...

    def due(self, ils_text: str) -> str: ...


class EnglishTranslator:
    """English from the core's own tables: the fallback when no catalog is loaded."""

    language = "en"

    def text(self, english: str, /, **params: Param) -> str:
        return session_text.render(Message.of("_", **params), {"_": english}) if params else english

    def message(self, message: Message) -> str:
        return session_text.render(message, dict(CORE_MESSAGES))

    def message_id(self, message_id: str, /, **params: Param) -> str:
        return self.message(Message.of(message_id, **params))

    def due(self, ils_text: str) -> str:
        return ils_text


@dataclass(frozen=True)
class UiContext:
    """Handed to every screen's ``render``: ``tr`` in the patron's language, ``theme`` for sizes and
    colours, ``send`` to post an event to the runner (thread-safe, returns at once)."""

    tr: Translator
    theme: Theme
    send: Callable[[Event], object]
