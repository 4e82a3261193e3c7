"""Hypothesis strategies that build any valid SIP2 message from its declared layout.

Generated from the same layout the codec runs on, so a field added to a message is covered
by the round-trip properties without touching the tests.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from hypothesis import strategies as st

from sip2.fields import SUPPORTED_MESSAGE_ORDER, PatronStatus, Summary, SupportedMessages, ZoneLabel
from sip2.layout import (
    BIT,
    DATE,
    FLAG,
    STATUS,
    SUMMARY,
    VAR_BX,
    VAR_LIST,
    VAR_TEXT,
    VAR_YN,
    YNU,
)
from sip2.messages import MESSAGE_TYPES, Message

# Characters every encoding we support can carry, plus the awkward ones of cp850/latin-1.
ASCII_SAFE = st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters="|")
LATIN = st.sampled_from(list("ÄÖÜäöüßéèçñÑÆØÅæøå£"))
UNICODE_SAFE = st.characters(
    exclude_categories=("Cs", "Cc"), exclude_characters="|\r\n\x85\u2028\u2029"
)


def text(alphabet: st.SearchStrategy[str], max_size: int = 30) -> st.SearchStrategy[str]:
    return st.text(alphabet, max_size=max_size)


def dates() -> st.SearchStrategy[datetime | None]:
    naive = st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31)).map(
        lambda d: d.replace(microsecond=0)
    )
    label = st.text(st.sampled_from(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ+-0123456789 ")), min_size=4, max_size=4).filter(
        lambda z: z not in ("    ", "   Z")
    )
    return st.one_of(
        st.none(),
        naive,
        naive.map(lambda d: d.replace(tzinfo=UTC)),
        st.tuples(naive, label).map(lambda t: t[0].replace(tzinfo=ZoneLabel(t[1]))),
    )


def _fixed(kind, alphabet):
    if kind is FLAG or kind is BIT:
        return st.booleans()
    if kind is YNU:
        return st.one_of(st.none(), st.booleans())
    if kind is DATE:
        return dates()
    if kind is STATUS:
        return st.lists(st.booleans(), min_size=14, max_size=14).map(lambda b: PatronStatus(*b))
    if kind is SUMMARY:
        return st.one_of(st.none(), st.sampled_from(list(Summary)))
    if kind.name.startswith("int"):
        return st.one_of(st.none(), st.integers(0, 10**kind.length - 1))
    if kind.name.startswith("text"):
        return st.text(alphabet, min_size=kind.length, max_size=kind.length)
    raise AssertionError(kind)


def _variable(kind, required, alphabet):
    if kind == VAR_LIST:
        return st.lists(text(alphabet), max_size=3).map(tuple)
    if kind == VAR_YN:
        return st.one_of(st.none(), st.booleans())
    if kind == VAR_BX:
        return st.sets(st.sampled_from(SUPPORTED_MESSAGE_ORDER)).map(SupportedMessages.of)
    assert kind == VAR_TEXT
    return text(alphabet) if required else st.one_of(st.none(), text(alphabet))


def messages(cls: type[Message], alphabet=ASCII_SAFE, with_extra: bool = True) -> st.SearchStrategy[Message]:
    layout = cls._layout
    kwargs = {attr: _fixed(kind, alphabet) for attr, kind, _s, _e in layout.fixed}
    for _fid, attr, kind, required in layout.variables:
        kwargs[attr] = _variable(kind, required, alphabet)
    if with_extra and layout.variables:
        declared = set(layout.by_id) | {"AY", "AZ"}
        ids = st.text(st.sampled_from(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ")), min_size=2, max_size=2).filter(
            lambda i: i not in declared
        )
        kwargs["extra"] = st.lists(st.tuples(ids, text(alphabet)), max_size=3).map(tuple)
    return st.builds(cls, **kwargs)


def any_message(alphabet=ASCII_SAFE) -> st.SearchStrategy[Message]:
    return st.sampled_from(sorted(MESSAGE_TYPES.values(), key=lambda c: c.code)).flatmap(
        lambda cls: messages(cls, alphabet)
    )


def fields_of(msg: Message) -> dict:
    return {f.name: getattr(msg, f.name) for f in dataclasses.fields(msg)}
