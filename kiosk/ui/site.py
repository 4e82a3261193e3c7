"""What the screens need to know about the site that is not in the station's state.

The state says what is happening; a few fixed facts say how to show it: the library's name and logo,
the language to start in, whether this kiosk takes returns (the account screen hides "return"
otherwise), and how long "need more time?" waits (for its countdown). They come from the settings
once, at start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kiosk.ui.settings import UiSettings


@dataclass(frozen=True, slots=True)
class Site:
    name: str
    language: str = ""  # the site's language; "" = the first of the state's languages
    logo: str = ""  # image path; "" = none
    checkin_enabled: bool = True  # [circulation] checkin_enabled
    more_time_seconds: float = 20.0  # [circulation] more_time_seconds
    ui: UiSettings = field(default_factory=UiSettings)

    @classmethod
    def of(cls, station: Any) -> Site:
        """From a station object: its ``settings`` (a :class:`kiosk.config.Settings`, as
        :class:`kiosk.assembly.Station` has), else ``site_name`` and ``ui_settings`` with optional
        ``logo``, ``site_language``, ``checkin_enabled`` and ``more_time_seconds``."""
        settings = getattr(station, "settings", None)
        if settings is not None and hasattr(settings, "site") and hasattr(settings, "ui"):
            return cls.from_settings(settings)
        ui: UiSettings = station.ui_settings
        return cls(
            name=station.site_name,
            language=getattr(station, "site_language", "") or "",
            logo=getattr(station, "logo", "") or ui.logo,
            checkin_enabled=bool(getattr(station, "checkin_enabled", True)),
            more_time_seconds=float(getattr(station, "more_time_seconds", 20.0)),
            ui=ui,
        )

    @classmethod
    def from_settings(cls, settings: Any) -> Site:
        """From the kiosk's :class:`kiosk.config.Settings`."""
        return cls(
            name=settings.site.name,
            language=settings.site.language,
            logo=settings.ui.logo,
            checkin_enabled=settings.circulation.checkin_enabled,
            more_time_seconds=settings.circulation.more_time_seconds,
            ui=settings.ui,
        )
