"""attach_ops: what it starts from the settings, what it registers, and that close undoes it all."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from kiosk.circulation.rows import Message
from kiosk.circulation.station import KioskState
from kiosk.config import Layer, defaults_layer, parse_layers
from kiosk.demo.hardware import toml_document
from kiosk.hardware.health import DeviceHealth, HealthRegistry
from kiosk.ops.wiring import attach_ops


def settings(tables: dict[str, dict[str, Any]]) -> Any:
    return parse_layers([defaults_layer(), Layer("test", toml_document(tables), world_readable=False)]).settings


class Registrar:
    """A station's observer list: remembers what was added, hands back the remover."""

    def __init__(self) -> None:
        self.callbacks: list[Callable[..., None]] = []

    def __call__(self, callback: Callable[..., None]) -> Callable[[], None]:
        self.callbacks.append(callback)
        return lambda: self.callbacks.remove(callback)


def test_without_a_listen_address_or_alert_targets_only_metrics_run() -> None:
    ops = attach_ops(settings({"metrics": {"listen": ""}}))
    assert ops.server is None and ops.alerts is None
    ops.observe_state(KioskState(out_of_service=Message("oos.staff")))
    assert ops.metrics.registry.get_sample_value("kiosk_out_of_service") == 1
    ops.close()


def test_registrations_feed_metrics_and_alerts_and_close_removes_them() -> None:
    health, steps, states = HealthRegistry(), Registrar(), Registrar()
    ops = attach_ops(settings({"metrics": {"listen": ""}, "alerts": {"webhook_url": "http://127.0.0.1:9/hook"}}),
                     health=health, observe_steps=steps, subscribe=states)
    try:
        assert ops.alerts is not None and len(steps.callbacks) == 1 and len(states.callbacks) == 1
        health.report(DeviceHealth.down("printer", "paper out: the paper roll is empty"))
        assert ops.metrics.registry.get_sample_value("kiosk_printer_paper", {"state": "out"}) == 1
        states.callbacks[0](KioskState(online=False))
        assert ops.metrics.registry.get_sample_value("kiosk_offline") == 1
    finally:
        ops.close()
    assert steps.callbacks == [] and states.callbacks == [] and ops.alerts is None
    health.report(DeviceHealth.up("printer"))  # no longer heard
    assert ops.metrics.registry.get_sample_value("kiosk_printer_paper", {"state": "out"}) == 1


def test_a_port_already_taken_is_logged_and_the_kiosk_goes_on_without_the_endpoint() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        ops = attach_ops(settings({"metrics": {"listen": f"127.0.0.1:{port}"}}))
        assert ops.server is None
        ops.close()
