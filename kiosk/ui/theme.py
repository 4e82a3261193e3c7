"""The look: colours, text sizes and touch-target sizes, in a standard, large-text and high-contrast
variant (which combine).

Values are plain numbers (RGBA 0–1, sizes in sp/dp as Kivy means them) so a theme is an immutable
value a test can compare, and no Kivy import is needed to choose one. Every touch target is at
least ``MIN_TOUCH_DP`` (48 dp, the size accessibility guidance asks for); kiosk buttons are larger.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

RGBA = tuple[float, float, float, float]

MIN_TOUCH_DP = 48.0
LARGE_TEXT_SCALE = 1.4


@dataclass(frozen=True, slots=True)
class Theme:
    name: str
    background: RGBA
    surface: RGBA  # cards, rows, panels
    text: RGBA
    muted: RGBA  # secondary text
    primary: RGBA  # the main button of a screen
    on_primary: RGBA
    secondary: RGBA  # other buttons
    on_secondary: RGBA
    success: RGBA
    attention: RGBA
    error: RGBA
    banner: RGBA  # the offline banner
    on_banner: RGBA
    font_name: str = "DejaVuSans"  # covers Latin, Greek and Cyrillic: every shipped language
    text_sp: float = 22.0
    small_sp: float = 18.0
    title_sp: float = 34.0
    huge_sp: float = 48.0
    button_dp: float = 72.0  # height of ordinary buttons
    keypad_dp: float = 88.0  # PIN keypad keys
    row_dp: float = 76.0  # a result row
    spacing_dp: float = 12.0
    high_contrast: bool = False
    large_text: bool = False

    def __post_init__(self) -> None:
        if min(self.button_dp, self.keypad_dp, self.row_dp) < MIN_TOUCH_DP:
            raise ValueError(f"theme {self.name}: a touch target is below {MIN_TOUCH_DP} dp")


STANDARD = Theme(
    name="standard",
    background=(0.96, 0.96, 0.94, 1),
    surface=(1, 1, 1, 1),
    text=(0.10, 0.10, 0.12, 1),
    muted=(0.35, 0.35, 0.38, 1),
    primary=(0.05, 0.37, 0.60, 1),
    on_primary=(1, 1, 1, 1),
    secondary=(0.85, 0.87, 0.90, 1),
    on_secondary=(0.10, 0.10, 0.12, 1),
    success=(0.10, 0.50, 0.20, 1),
    attention=(0.70, 0.45, 0.00, 1),
    error=(0.72, 0.11, 0.11, 1),
    banner=(0.98, 0.80, 0.20, 1),
    on_banner=(0.10, 0.10, 0.12, 1),
)

HIGH_CONTRAST = replace(
    STANDARD,
    name="high contrast",
    background=(0, 0, 0, 1),
    surface=(0.08, 0.08, 0.08, 1),
    text=(1, 1, 1, 1),
    muted=(0.90, 0.90, 0.90, 1),
    primary=(1, 0.85, 0, 1),
    on_primary=(0, 0, 0, 1),
    secondary=(1, 1, 1, 1),
    on_secondary=(0, 0, 0, 1),
    success=(0.40, 1, 0.40, 1),
    attention=(1, 0.85, 0, 1),
    error=(1, 0.45, 0.45, 1),
    banner=(1, 0.85, 0, 1),
    on_banner=(0, 0, 0, 1),
    high_contrast=True,
)


def theme(*, high_contrast: bool = False, large_text: bool = False) -> Theme:
    """The theme for the patron's choices (both may be on)."""
    base = HIGH_CONTRAST if high_contrast else STANDARD
    if not large_text:
        return base
    s = LARGE_TEXT_SCALE
    return replace(
        base,
        name=f"{base.name}, large text",
        text_sp=base.text_sp * s, small_sp=base.small_sp * s, title_sp=base.title_sp * s, huge_sp=base.huge_sp * s,
        button_dp=base.button_dp * 1.2, keypad_dp=base.keypad_dp * 1.15, row_dp=base.row_dp * 1.4,
        large_text=True,
    )
