"""What python-escpos's printer profiles say about a model, read from its capabilities.json.

Read as plain JSON rather than through ``escpos.capabilities``: that module, on import, creates a
temporary directory, writes a pickle cache and calls ``logging.basicConfig()``, none of which a
configuration check should do (see :mod:`kiosk.hardware.printer.escpos_import`).
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    code_pages: Mapping[str, str]  # ESC t slot (as text) -> code page name
    full_cut: bool
    partial_cut: bool
    raster_images: bool
    dots: int | None  # printable dots per line, when the profile knows it


@functools.lru_cache(maxsize=1)
def profiles() -> Mapping[str, Profile]:
    data: dict[str, Any] = json.loads(
        importlib.resources.files("escpos").joinpath("capabilities.json").read_text()
    )
    out: dict[str, Profile] = {}
    for name, raw in data["profiles"].items():
        features = raw.get("features", {})
        pixels = raw.get("media", {}).get("width", {}).get("pixels")
        out[name] = Profile(
            name=name,
            code_pages={str(k): v for k, v in raw.get("codePages", {}).items()},
            full_cut=bool(features.get("paperFullCut")),
            partial_cut=bool(features.get("paperPartCut")),
            raster_images=bool(features.get("bitImageRaster")),
            dots=pixels if isinstance(pixels, int) else None,
        )
    return out


def profile(name: str) -> Profile:
    try:
        return profiles()[name]
    except KeyError:
        raise ValueError(
            f"unknown printer profile {name!r}; python-escpos knows: {', '.join(sorted(profiles()))}"
        ) from None
