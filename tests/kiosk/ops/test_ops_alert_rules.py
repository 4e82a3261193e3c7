"""deploy/prometheus/kiosk-alerts.yml: well-formed rules that use only series the kiosk exports."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from kiosk.ops.metrics import KioskMetrics

RULES = Path(__file__).resolve().parents[3] / "deploy" / "prometheus" / "kiosk-alerts.yml"


class _Journal:
    """Enough of a journal for every queue series to be exported."""

    def backlog(self) -> int:
        return 0

    def queue_head(self) -> None:
        return None

    def needs_staff(self) -> list[object]:
        return []

    def last_replayed_at(self) -> None:
        return None


def exported() -> set[str]:
    metrics = KioskMetrics(journal=_Journal(), process=False)
    from kiosk.hardware.health import DeviceHealth

    metrics.observe_health(DeviceHealth.up("printer"))
    metrics.bin_full.labels("holds").set(0)
    from kiosk.circulation.station import ReturnsStationState

    metrics.observe_state(ReturnsStationState())  # a returns bin's own series
    names = set()
    for family in metrics.registry.collect():
        names.update(sample.name for sample in family.samples)
    return names


def test_every_rule_is_complete_and_uses_only_exported_series() -> None:
    document = yaml.safe_load(RULES.read_text())
    rules = [rule for group in document["groups"] for rule in group["rules"]]
    assert len(rules) >= 10
    names = exported()
    for rule in rules:
        assert set(rule) >= {"alert", "expr", "labels", "annotations"}, rule
        assert rule["labels"]["severity"] in ("page", "ticket")
        assert rule["annotations"]["summary"]
        used = set(re.findall(r"\bkiosk_[a-z_]+", rule["expr"]))
        assert used <= names, (rule["alert"], used - names)
    assert len({rule["alert"] for rule in rules}) == len(rules)
