"""The simulated installation: contacts on wired mock pins behave like contacts, and the demo CLI runs
the production GPIO shell over them."""

from __future__ import annotations

import io

from gpiozero import DigitalInputDevice

from hardware_mocks.gpio import DEMO_SETTINGS, MockPins, main, run, wired_factory


def test_a_closed_contact_holds_the_line_whatever_the_pull_and_an_open_one_leaves_it_to_the_pull() -> None:
    factory = wired_factory()
    pins = MockPins(factory, DEMO_SETTINGS)
    pins.signal(20, pull_up=True, normally_closed=False, on=True)  # closed to GND before anyone reads it
    device = DigitalInputDevice(20, pull_up=True, pin_factory=factory)
    try:
        assert pins.level(20) is False and device.is_active  # the pull-up did not win
        pins.signal(20, pull_up=True, normally_closed=False, on=False)
        assert pins.level(20) is True and not device.is_active
        pins.signal(20, pull_up=True, normally_closed=True, on=False)  # a normally-closed contact at rest
        assert pins.level(20) is False
    finally:
        device.close()
    down = DigitalInputDevice(21, pull_up=False, pin_factory=factory)
    try:
        assert pins.level(21) is False
        pins.signal(21, pull_up=False, normally_closed=False, on=True)  # closed to 3V3
        assert pins.level(21) is True and down.is_active
    finally:
        down.close()


def test_the_demo_drives_every_input_and_shows_every_output() -> None:
    out = io.StringIO()
    script = ["show", "beam", "full holds", "empty holds", "open reshelve", "close reshelve", "alarm",
              "service off", "service on", "bogus", "quit", "show"]
    assert run(script, out) == 0
    lines = out.getvalue().splitlines()
    assert lines[0] == "gpio: up"
    green = "lights: green ● amber ○ red ○ | slot open | gate closed"
    red = "lights: green ○ amber ○ red ● | slot shut | gate closed"
    assert lines[1] == f"> show: {green} | diverter: reshelve | routed 0 | full bins: -"
    assert lines[2] == f"> beam: {green} | diverter: reshelve | routed 1 | full bins: -"
    assert lines[3] == f"> full holds: {red} | diverter: reshelve | routed 1 | full bins: holds"
    assert lines[4].startswith(f"> empty holds: {green}")
    assert lines[5].endswith("full bins: reshelve, exceptions")  # one door for both
    assert lines[6].endswith("full bins: -")
    assert "security gate alarm" in lines[7] and "an item was not checked out" in lines[7]
    assert lines[9].startswith(f"> service off: {red}")
    assert lines[10].startswith(f"> service on: {green}")
    assert lines[11:] == ["unknown command 'bogus'"]  # and nothing after quit


def test_the_cli_takes_a_script(capsys) -> None:
    assert main(["--script", "full transit;show"]) == 0
    assert "full bins: transit" in capsys.readouterr().out.splitlines()[-1]
