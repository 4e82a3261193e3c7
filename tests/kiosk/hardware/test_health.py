"""Device health: the registry staff mode and metrics read, and the re-prober that brings devices back."""

from __future__ import annotations

import threading

from kiosk.hardware.health import DeviceHealth, HealthRegistry, HealthState, Reprober, metric_value


def test_listeners_hear_changes_only_and_a_late_listener_gets_the_current_picture() -> None:
    registry = HealthRegistry()
    heard: list[DeviceHealth] = []
    registry.subscribe(heard.append)
    assert registry.report(DeviceHealth.down("printer", "paper out"))
    assert not registry.report(DeviceHealth.down("printer", "paper out"))  # same: no news
    assert registry.report(DeviceHealth.down("printer", "cover open"))  # a new reason is news
    assert registry.report(DeviceHealth.up("gpio"))
    assert [(h.component, h.state, h.reason) for h in heard] == [
        ("printer", HealthState.DOWN, "paper out"),
        ("printer", HealthState.DOWN, "cover open"),
        ("gpio", HealthState.UP, ""),
    ]
    late: list[DeviceHealth] = []
    registry.subscribe(late.append)
    assert {h.component: h.reason for h in late} == {"printer": "cover open", "gpio": ""}
    assert registry.snapshot()["printer"] == DeviceHealth.down("printer", "cover open")


def test_a_failing_listener_neither_stops_the_others_nor_the_report() -> None:
    registry = HealthRegistry()
    heard: list[str] = []

    def broken(health: DeviceHealth) -> None:
        raise RuntimeError("listener bug")

    registry.subscribe(broken)
    registry.subscribe(lambda h: heard.append(h.component))
    assert registry.report(DeviceHealth.degraded("gpio", "light.red: GPIO 24: busy"))
    assert heard == ["gpio"]


def test_unsubscribed_listeners_hear_nothing_more() -> None:
    registry = HealthRegistry()
    heard: list[str] = []
    unsubscribe = registry.subscribe(lambda h: heard.append(h.reason))
    registry.report(DeviceHealth.down("gpio", "one"))
    unsubscribe()
    registry.report(DeviceHealth.down("gpio", "two"))
    assert heard == ["one"]


def test_staff_modes_words_become_health_states() -> None:
    assert DeviceHealth.from_status("printer", "warning", "paper low") == DeviceHealth.degraded(
        "printer", "paper low"
    )
    assert DeviceHealth.from_status("printer", "ok").state is HealthState.UP
    assert DeviceHealth.from_status("printer", "failed", "cover open").state is HealthState.DOWN


def test_degraded_still_counts_as_up_for_the_metric() -> None:
    assert [
        metric_value(h)
        for h in (
            DeviceHealth.up("gpio"),
            DeviceHealth.degraded("gpio", "one pin"),
            DeviceHealth.down("gpio", "no chip"),
        )
    ] == [1.0, 1.0, 0.0]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_reprober_probes_only_what_is_not_up_each_at_its_own_interval() -> None:
    registry = HealthRegistry()
    present = {"printer": False}
    calls: list[str] = []

    def probe_printer() -> None:
        calls.append("printer")
        health = DeviceHealth.up("printer") if present["printer"] else DeviceHealth.down("printer", "absent")
        registry.report(health)

    registry.report(DeviceHealth.down("printer", "absent"))
    registry.report(DeviceHealth.down("gpio", "no chip"))
    registry.report(DeviceHealth.up("reader"))
    clock = Clock()
    reprober = Reprober(registry, interval=10.0, threaded=False, clock=clock)
    reprober.add("printer", probe_printer, interval=2.0)
    reprober.add("gpio", lambda: calls.append("gpio"))
    reprober.add("reader", lambda: calls.append("reader"))
    assert reprober.run_once() == ["printer", "gpio"]  # both at once when added; the reader is up
    clock.now += 1.0
    assert reprober.run_once() == []
    clock.now += 1.0
    assert reprober.run_once() == ["printer"]
    present["printer"] = True
    clock.now += 2.0
    assert reprober.run_once() == ["printer"]
    assert registry.get("printer") == DeviceHealth.up("printer")
    clock.now += 6.0
    assert reprober.run_once() == ["gpio"]  # its own ten seconds; the printer is up now
    assert calls == ["printer", "gpio", "printer", "printer", "gpio"]


def test_a_device_that_fails_again_is_probed_at_once() -> None:
    registry = HealthRegistry()
    clock = Clock()
    reprober = Reprober(registry, interval=10.0, threaded=False, clock=clock)
    reprober.add("gpio", lambda: None)
    registry.report(DeviceHealth.up("gpio"))
    clock.now += 3.0
    assert reprober.run_once() == []
    registry.report(DeviceHealth.down("gpio", "lost"))
    assert reprober.run_once() == ["gpio"]


def test_a_probe_that_raises_is_tried_again_and_a_component_never_reported_is_probed() -> None:
    registry = HealthRegistry()
    attempts: list[int] = []

    def flaky() -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("driver bug")
        registry.report(DeviceHealth.up("reader"))

    clock = Clock()
    reprober = Reprober(registry, threaded=False, clock=clock)
    reprober.add("reader", flaky)
    assert reprober.run_once() == ["reader"]
    clock.now += reprober.interval
    assert reprober.run_once() == ["reader"]
    assert registry.get("reader") == DeviceHealth.up("reader")
    assert len(attempts) == 2


def test_the_threaded_reprober_brings_a_device_back_and_stops_on_close() -> None:
    registry = HealthRegistry()
    back = threading.Event()
    registry.subscribe(lambda h: back.set() if h.state is HealthState.UP else None)
    registry.report(DeviceHealth.down("gpio", "no chip"))
    with Reprober(registry, interval=0.01) as reprober:
        reprober.add("gpio", lambda: registry.report(DeviceHealth.up("gpio")))
        assert back.wait(10.0)
    assert not any(t.name == "kiosk-reprobe" for t in threading.enumerate())
