"""[station]: what this kiosk is — a patron self-check kiosk or an unattended returns bin — and the
languages its patrons may pick.

Declared here rather than in :mod:`kiosk.assembly`, which builds the station from it: the config
loader imports every section, and the assembly imports the loader.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.config_schema import Check, language_tag, one_of, setting

KINDS = ("self-check", "returns-bin")


def language_list() -> Check:
    tag = language_tag()
    return Check(
        'an array of language codes such as ["de", "pt-BR"]',
        lambda v: isinstance(v, list) and all(tag.accepts(code) for code in v) and len(set(v)) == len(v),
        convert=tuple,
    )


@dataclass(frozen=True, kw_only=True)
class StationSettings:
    """[station]: the kind of kiosk this process runs."""

    kind: str = setting("self-check", check=one_of(*KINDS), doc="a patron self-check kiosk or a returns bin")
    languages: tuple[str, ...] = setting(
        (), check=language_list(), doc="languages patrons may pick besides site.language"
    )


def station_languages(site_language: str, station: StationSettings) -> tuple[str, ...]:
    """The languages offered, the site's own first, each once."""
    return tuple(dict.fromkeys((site_language, *station.languages)))
