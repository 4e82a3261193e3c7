"""``kiosk doctor`` against the simulated ILS on loopback and the demo's simulated devices: a login
refused, an ILS down or mute, a code page that does not match, devices that fail, a queue left behind."""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hardware_mocks.ils import IlsSimulator
from hardware_mocks.ils import scenarios as S
from kiosk.cli import main
from kiosk.demo.hardware import DemoHardware
from kiosk.hardware.health import DeviceHealth
from kiosk.ops.doctor import (
    CHECKS,
    Check,
    Result,
    Status,
    as_json,
    check_clock,
    diagnose,
    exit_code,
    garbled,
    render,
    run_checks,
)
from kiosk.ops.metrics import KioskMetrics
from kiosk.ops.server import OpsServer
from kiosk.staff_pin import hash_pin
from kiosk.sync.journal import Answer, Journal, Kind, ReplayOutcome

STAFF_PIN_HASH = hash_pin("2468")


def synced(args: Sequence[str], timeout: float) -> tuple[int, str]:
    """A machine whose clock timedatectl calls synchronised (and whose journalctl says 8M)."""
    if args[0] == "timedatectl":
        return 0, "yes\n"
    if args[0] == "journalctl":
        return 0, "Archived and active journals take up 8.0M in the file system.\n"
    return 127, ""


def by_check(results: list[Result]) -> dict[str, Result]:
    return {r.check: r for r in results}


def write_config(etc: Path, body: str) -> Path:
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "kiosk.toml").write_text(body)
    os.chmod(etc / "kiosk.toml", 0o600)  # it holds the staff PIN's hash
    return etc


def kiosk_toml(tmp_path: Path, address: tuple[str, int], extra: str = "") -> str:
    host, port = address
    return (f'[sip2]\nhost = "{host}"\nport = {port}\ntimeout_seconds = 3.0\n'
            f'[journal]\npath = "{tmp_path / "var" / "journal.sqlite"}"\n'
            f'[doctor]\nmin_free_disk_mb = 1\n[metrics]\nlisten = ""\n[staff]\npin_hash = "{STAFF_PIN_HASH}"\n{extra}')


@pytest.fixture(scope="module")
def ils() -> Iterator[IlsSimulator]:
    with IlsSimulator() as sim:
        yield sim


def test_a_healthy_kiosk_is_all_ok_with_the_ils_flags_latency_and_an_encoding_round_trip(
    tmp_path: Path, ils: IlsSimulator
) -> None:
    etc = write_config(tmp_path / "etc", kiosk_toml(tmp_path, ils.address).replace(
        "[doctor]\n", f'[doctor]\ntest_item = "{S.ITEM_TITLE_AERO}"\n'))
    Journal.open(tmp_path / "var" / "journal.sqlite").close()
    results = diagnose(str(etc), run=synced)
    checks = by_check(results)
    assert exit_code(results) == 0, render(results, title="")
    assert checks["ILS connection"].summary.startswith(f"{ils.address[0]}:{ils.address[1]} (plain TCP), "
                                                       "login accepted as 'demo', connect ")
    assert checks["ILS status"].summary == "online Y, checkin Y, checkout Y, renewal Y, offline Y; SIP2 2.00"
    assert "ÄÖÜäöüßéèàçñÅøæ went through the ILS and back intact" in checks["encoding"].summary
    assert 'title "Ærø: Walks on a Danish Island" arrived intact' in checks["encoding"].summary
    assert checks["ILS clock"].status is Status.OK
    assert checks["clock"].summary == "synchronised (timedatectl)"
    assert "system journal 8.0M" in checks["journal size"].summary
    assert [checks[n].status for n in ("RFID reader", "scanner", "printer", "GPIO")] == [Status.OK] * 4


def test_a_refused_login_fails_with_the_account_to_check(tmp_path: Path) -> None:
    with IlsSimulator(accounts={"demo": "right"}) as sim:
        etc = write_config(tmp_path / "etc", kiosk_toml(tmp_path, sim.address))
        (etc / "secrets.toml").write_text('[sip2]\npassword = "wrong"\n')
        os.chmod(etc / "secrets.toml", 0o600)
        results = diagnose(str(etc), run=synced)
    login = by_check(results)["ILS login"]
    assert login.status is Status.FAIL and "refused the SIP2 login of user 'demo'" in login.summary
    assert "sip2.username / sip2.password" in login.hint and "wrong" not in json.dumps(as_json(results))
    assert exit_code(results) == 2


def test_an_ils_that_is_down_fails_and_the_encoding_is_checked_without_it(tmp_path: Path) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        address = unused.getsockname()
    etc = write_config(tmp_path / "etc", kiosk_toml(tmp_path, address))
    checks = by_check(diagnose(str(etc), run=synced))
    assert checks["ILS connection"].status is Status.FAIL and "cannot connect" in checks["ILS connection"].summary
    assert f"sip2 --host {address[0]} --port {address[1]} status" in checks["ILS connection"].hint
    assert checks["encoding"].status is Status.WARN and "no round trip" in checks["encoding"].summary


def test_an_ils_that_accepts_and_never_answers_is_reported_hung_not_waited_for(tmp_path: Path) -> None:
    with socket.socket() as mute:  # listens, never accepts: the connection is made, nothing is said
        mute.bind(("127.0.0.1", 0))
        mute.listen(8)
        etc = write_config(tmp_path / "etc", kiosk_toml(tmp_path, mute.getsockname()).replace(
            "timeout_seconds = 3.0", "timeout_seconds = 60.0").replace(
                "[doctor]\n", "[doctor]\ntimeout_seconds = 0.5\n"))
        checks = by_check(diagnose(str(etc), run=synced))
    assert checks["ILS"].status is Status.FAIL and checks["ILS"].summary == "did not finish within 0.5 s (hung)"
    assert checks["config"].status is Status.OK  # the others still report


def test_a_code_page_that_does_not_match_the_ils_is_a_warning(tmp_path: Path) -> None:
    with IlsSimulator(encoding="utf-8") as sim:  # the kiosk speaks cp850 (the default)
        etc = write_config(tmp_path / "etc", kiosk_toml(tmp_path, sim.address))
        encoding = by_check(diagnose(str(etc), run=synced))["encoding"]
    assert encoding.status is Status.WARN and "sip2.encoding" in encoding.hint
    assert "sent \"KIOSK-DOCTOR-ÄÖÜäöüßéèàçñÅøæ\", the ILS answered" in encoding.summary


def test_garbled_text_is_recognised() -> None:
    assert garbled("Müller", "cp850") is None
    assert garbled("MÃ¼ller", "latin-1") == 'looks like UTF-8 read as latin-1 ("Müller")'
    assert garbled("M\ufffdller", "utf-8") == "replacement characters: the ILS sends bytes that are not utf-8"
    assert garbled("plain", "utf-8") is None


@pytest.mark.parametrize(("answers", "status", "words"), [
    ({"timedatectl": (0, "no\n")}, Status.WARN, "NOT synchronised (timedatectl"),
    ({"chronyc": (0, "Reference ID    : 1\nLeap status     : Normal\n")}, Status.OK, "synchronised (chrony)"),
    ({"chronyc": (0, "Leap status     : Not synchronised\n")}, Status.WARN, "chrony: Not synchronised"),
    ({}, Status.WARN, "cannot tell"),
])
def test_the_clock_check_asks_timedatectl_timesyncd_then_chrony(
    answers: dict[str, tuple[int, str]], status: Status, words: str
) -> None:
    from kiosk.ops.doctor import Context

    ctx = Context(run=lambda args, timeout: answers.get(args[0], (127, "")), exists=lambda path: False)
    (result,) = check_clock(ctx)
    assert result.status is status and words in result.summary
    ctx = Context(run=lambda args, timeout: (127, ""), exists=lambda path: path.endswith("synchronized"))
    assert check_clock(ctx)[0].summary == "synchronised (systemd-timesyncd)"


def test_an_invalid_config_fails_and_the_checks_that_need_it_say_so(tmp_path: Path) -> None:
    etc = write_config(tmp_path / "etc", "[sip2]\nport = 0\n")
    results = diagnose(str(etc), run=synced)
    checks = by_check(results)
    assert checks["config"].status is Status.FAIL and "sip2.port: expected an integer 1-65535" in checks[
        "config"].summary
    assert checks["ILS"].status is Status.WARN and "configuration is invalid" in checks["ILS"].summary
    assert checks["clock"].status is Status.OK  # needs no config
    assert exit_code(results) == 2


def test_unsent_transactions_and_exceptions_are_reported_with_their_age(tmp_path: Path, ils: IlsSimulator) -> None:
    etc = write_config(tmp_path / "etc", kiosk_toml(tmp_path, ils.address))
    made = datetime.now(UTC) - timedelta(hours=2)
    with Journal.open(tmp_path / "var" / "journal.sqlite", clock=lambda: made) as journal:
        when = made.replace(tzinfo=None)
        for item in S.AVAILABLE_BOOKS[:3]:
            journal.queue_offline(Kind.CHECKIN, patron_id=None, item_id=item, transaction_date=when)
        assert journal.own("sync")
        (first,) = journal.claim("sync", 1)
        journal.record_replays([ReplayOutcome(first.id, Answer(False, reason="no such item"))])
    checks = by_check(diagnose(str(etc), run=synced))
    queue, staff = checks["offline queue"], checks["exceptions"]
    assert queue.status is Status.WARN
    assert queue.summary == "2 offline transaction(s) not yet sent, the oldest 120 min old"
    assert "systemctl status kiosk-sync" in queue.hint
    assert staff.status is Status.WARN and staff.summary == "1 transaction(s) waiting for staff"
    assert "kiosk queue report" in staff.hint


def test_a_running_kiosks_report_stands_for_its_devices(tmp_path: Path, ils: IlsSimulator) -> None:
    metrics = KioskMetrics(process=False)
    metrics.observe_health(DeviceHealth.down("printer", "paper out: the paper roll is empty"))
    metrics.observe_health(DeviceHealth.up("reader"))
    with OpsServer("127.0.0.1:0", metrics) as server:
        host, port = server.address
        etc = write_config(tmp_path / "etc", kiosk_toml(tmp_path, ils.address).replace(
            'listen = ""', f'listen = "{host}:{port}"') + '[printer]\nconnection = "serial"\ndevice = "/dev/nowhere"\n'
            '[rfid]\ndriver = "feig"\nport = "/dev/nowhere"\n')
        checks = by_check(diagnose(str(etc), run=synced))
    assert checks["printer"] == Result("printer", Status.FAIL, "down: paper out: the paper roll is empty (reported by "
                                       "the running kiosk)", "see staff mode's device screen; journalctl -u kiosk-ui")
    reader = checks["RFID reader"]
    assert reader.status is Status.OK and "reported by the running kiosk" in reader.summary


@pytest.fixture
def world() -> Iterator[DemoHardware]:
    with DemoHardware() as hardware:
        yield hardware


def demo_config(world: DemoHardware, etc: Path) -> Path:
    etc.mkdir()
    (etc / "kiosk.toml").write_bytes(world.layer({"doctor": {"min_free_disk_mb": 1},
                                                  "metrics": {"listen": ""}}).data)
    os.chmod(etc / "kiosk.toml", 0o600)  # it holds the staff PIN hash
    return etc


def test_direct_probes_read_a_tag_ask_the_printer_and_find_gpio(tmp_path: Path, world: DemoHardware) -> None:
    etc = demo_config(world, tmp_path / "etc")
    world.place(S.AVAILABLE_BOOKS[0])
    factory = world.factory
    results = diagnose(str(etc), direct=True, run=synced, gpio_factory=lambda: factory)
    checks = by_check(results)
    assert checks["RFID reader"].status is Status.OK, checks["RFID reader"]
    assert f"item {S.AVAILABLE_BOOKS[0]}" in checks["RFID reader"].summary
    assert checks["printer"] == Result("printer", Status.OK, "serial printer ready")
    assert checks["scanner"].status is Status.OK
    assert checks["GPIO"].status is Status.OK and "MockFactory" in checks["GPIO"].summary

    world.set_paper_out(True)
    world.unplug_reader()
    checks = by_check(diagnose(str(etc), direct=True, run=synced, gpio_factory=lambda: factory))
    assert checks["printer"].status is Status.FAIL and checks["printer"].hint == "load a new paper roll"
    assert checks["RFID reader"].status is Status.FAIL and "dialout" in checks["RFID reader"].hint


def test_a_check_that_hangs_is_cut_off_and_one_that_raises_is_a_failure() -> None:
    release = threading.Event()

    def hangs(ctx: object) -> list[Result]:
        release.wait(30)
        return []

    def raises(ctx: object) -> list[Result]:
        raise RuntimeError("bug")

    from kiosk.ops.doctor import Context

    results = run_checks([Check("stuck reader", hangs), Check("buggy", raises)], Context(), timeout=0.2)
    release.set()
    assert [(r.check, r.status) for r in results] == [("stuck reader", Status.FAIL), ("buggy", Status.FAIL)]
    assert results[0].summary == "did not finish within 0.2 s (hung)"
    assert results[1].summary == "the check itself failed: RuntimeError: bug"


def test_kiosk_doctor_prints_one_screen_or_json_with_the_exit_code(
    tmp_path: Path, ils: IlsSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    etc = write_config(tmp_path / "etc", kiosk_toml(tmp_path, ils.address))
    code = main(["doctor", "--json", "--config-dir", str(etc)])
    report = json.loads(capsys.readouterr().out)
    assert code == report["exit_code"] and code in (1, 2)  # no journal yet: at least that warning
    assert {r["check"] for r in report["results"]} >= {c.name for c in CHECKS if c.name != "ILS"} - {"disk"}
    code = main(["doctor", "--config-dir", str(etc)])
    screen = capsys.readouterr().out
    assert "OK    ILS connection" in screen and "fix: the kiosk creates it when it starts" in screen
    assert screen.rstrip().splitlines()[-1].endswith("warning(s)")
