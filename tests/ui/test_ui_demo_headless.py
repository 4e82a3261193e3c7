"""``kiosk demo`` on a machine without a display, as the README's ``./dev demo`` runs it there: its own
process, offscreen, the scripted session through the real UI, and a folder of screenshots and the
receipt. A step that does not reach its screen ends the run with its name and a photograph."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PIL import Image, ImageStat

from hardware_mocks.ils import scenarios as S
from kiosk.circulation.session_text import masked

ROOT = Path(__file__).resolve().parents[2]
SCREENS = [
    "01-idle", "02-idle-german", "03-idle-large-text-high-contrast", "04-pin-large-text-high-contrast",
    "05-pin", "06-pin-wrong", "07-pin-typed", "08-looking-up", "09-account", "10-checkout",
    "11-checkout-renewed", "12-loans", "13-loans-renewed", "14-returns", "15-receipt-choice", "16-thank-you",
    "17-offline", "18-offline-return", "19-refused", "20-staff-pin", "21-staff-menu", "22-staff-devices",
    "23-staff-offline-queue", "24-out-of-service", "25-returns-bin",
]
WINDOW = (1024 + 440, 600)  # the kiosk's screen and the hardware panel beside it


def demo(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER")}
    env["KIVY_HOME"] = str(tmp_path / "kivy")
    return subprocess.run([sys.executable, "-m", "kiosk.cli", "demo", *args], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)


def test_without_a_display_the_demo_photographs_every_screen_and_saves_the_receipt(tmp_path: Path) -> None:
    done = demo(tmp_path, "--out", "shots")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = tmp_path / "shots"
    assert f"{len(SCREENS)} screens and the receipt in {out}" in done.stdout

    assert sorted(p.stem for p in out.glob("*.png")) == SCREENS
    looks = set()
    for name in SCREENS:
        with Image.open(out / f"{name}.png") as image:
            assert image.size == WINDOW, name
            grey = image.convert("L")
            assert ImageStat.Stat(grey).stddev[0] > 20, f"{name} is (nearly) one colour"
            assert grey.getextrema()[1] > 200, f"{name} is dark: nothing rendered?"
            looks.add(image.tobytes())
    assert len(looks) == len(SCREENS)  # every screen looks different: none is a stale copy of another

    receipt = (out / "receipt.txt").read_text(encoding="utf-8")
    for title in ("The Hobbit", "The Great Gatsby", "Crime and Punishment", "The Road", "Wolf Hall"):
        assert title in receipt
    assert masked(S.PATRON_VALID.id) in receipt and S.PATRON_VALID.id not in receipt
    assert "The Road" in (out / "returns-slip.txt").read_text(encoding="utf-8")
    index = (out / "index.txt").read_text(encoding="utf-8").splitlines()
    assert [line.split()[0] for line in index[: len(SCREENS)]] == [f"{name}.png" for name in SCREENS]


def test_a_step_that_does_not_reach_its_screen_stops_the_demo_with_its_name_and_a_screenshot(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    # A site that asks no PIN: the tour's "the PIN asked" step cannot happen.
    (site / "kiosk.toml").write_text("[circulation]\npin_required = false\n", encoding="utf-8")
    done = demo(tmp_path, "--out", "shots", "--config-dir", str(site), "--step-seconds", "3")
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    assert "FAILED: the PIN asked, still in large text and high contrast: not reached within 3 s" in done.stdout
    assert "the window shows the" in done.stdout  # and what it shows instead
    shots = sorted(p.name for p in (tmp_path / "shots").glob("*.png"))
    assert shots == ["01-idle.png", "02-idle-german.png", "03-idle-large-text-high-contrast.png", "04-FAILED.png"]
