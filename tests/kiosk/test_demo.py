"""The README's run command: a scripted patron session against the simulated ILS."""

from __future__ import annotations

from hardware_mocks.ils import scenarios as S
from kiosk.cli import main


def test_the_demo_plays_a_whole_patron_session(tmp_path, capsys) -> None:
    assert main(["demo", "--config-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"Hello, {S.PATRON_VALID.name}" in out
    assert "✓ The Hobbit" in out and "due" in out  # checked out, with a due date
    assert "Item is on hold for another patron" in out  # refused, in the ILS's own words
    assert "renewed until" in out
    assert "returned, thank you" in out and "waiting for it here" in out  # the checkin's sort message
    assert "Receipt" in out
    # privacy: the card number is masked wherever it is shown
    assert S.PATRON_VALID.id not in out and "**********0018" in out


def test_the_demo_refuses_a_broken_config_with_one_line_per_problem(tmp_path, capsys) -> None:
    (tmp_path / "kiosk.toml").write_text("[sip2]\nport = \"abc\"\n", encoding="utf-8")
    assert main(["demo", "--config-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "sip2.port" in err and "kiosk.toml" in err
