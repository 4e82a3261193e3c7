"""`kiosk ils-sim` as a separate process: it prints its address, answers SIP2 (plain and TLS),
keeps a --db file, and exits 0 on SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from ils_support import Wire

from hardware_mocks.ils import scenarios as S
from hardware_mocks.ils.cli import add_arguments, behaviour_overrides
from sip2.messages import Checkout, CheckoutResponse, ItemInformation, ItemInformationResponse

ROOT = Path(__file__).parents[2]
LISTENING = re.compile(r"listening on (127\.0\.0\.1):(\d+) ")


def parse(args: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="kiosk ils-sim")
    add_arguments(parser)
    return parser.parse_args(args)


@contextmanager
def ils_sim(*args: str) -> Iterator[tuple[subprocess.Popen[str], tuple[str, int]]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "kiosk.cli", "ils-sim", "--port", "0", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        match = LISTENING.search(line)
        assert match, (
            f"no address line; stdout {line!r}, stderr {proc.stderr.read() if proc.stderr else ''!r}"
        )
        yield proc, (match.group(1), int(match.group(2)))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()


def stop(proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> int:
    proc.send_signal(sig)
    return proc.wait(timeout=10)


def test_cli_serves_a_login_and_exits_0_on_sigterm() -> None:
    with ils_sim("--login", "kiosk:s3cret:x", "--dialect", "koha") as (proc, address):
        with Wire(address, encoding="utf-8") as wire:
            assert wire.login("kiosk", "s3cret:x").ok
            assert not wire.login("kiosk", "wrong").ok
            assert not wire.login().ok  # the default account is replaced by --login
        assert stop(proc) == 0


def test_cli_default_account_is_the_kiosks_default_and_sigint_exits_0() -> None:
    with ils_sim() as (proc, address):
        with Wire(address) as wire:
            assert wire.login(S.LOGIN_USER, S.LOGIN_PASSWORD).ok
        assert stop(proc, signal.SIGINT) == 0


def test_cli_db_file_keeps_the_library_across_runs(tmp_path: Path) -> None:
    db = tmp_path / "ils.db"
    with ils_sim("--db", str(db)) as (proc, address):
        with Wire(address) as wire:
            assert wire.login().ok
            response = wire.request(
                Checkout(institution_id=S.INSTITUTION, patron_id=S.PATRON_CLEAN.id, item_id=S.ITEM_AVAILABLE)
            )
            assert isinstance(response, CheckoutResponse) and response.ok
        assert stop(proc) == 0
    with ils_sim("--db", str(db)) as (proc, address):
        with Wire(address) as wire:
            assert wire.login().ok
            info = wire.request(ItemInformation(institution_id=S.INSTITUTION, item_id=S.ITEM_AVAILABLE))
            assert isinstance(info, ItemInformationResponse) and info.circulation_status == 4  # still charged
        assert stop(proc) == 0


def test_cli_serves_tls(tmp_path: Path) -> None:
    openssl = shutil.which("openssl")
    assert openssl, "openssl is needed to make a test certificate (Debian package openssl, listed in ./dev)"
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(cafile=str(cert))
    with ils_sim("--tls-cert", str(cert), "--tls-key", str(key)) as (proc, address):
        with Wire(address, ssl_context=context) as wire:
            assert wire.login().ok
        # A plain-TCP client gets nothing it can use, and the server carries on.
        with Wire(address, timeout=2) as plain:
            try:
                plain.login()
                pytest.fail("a plain-TCP login over a TLS port must not succeed")
            except (ConnectionError, OSError):
                pass
        with Wire(address, ssl_context=context) as wire:
            assert wire.login().ok
        assert stop(proc) == 0


@pytest.mark.parametrize(
    "args",
    [["--login", "no-colon"], ["--latency", "-1"], ["--dialect", "aleph"], ["--encoding", "ebcdic"]],
)
def test_cli_rejects_bad_options(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        parse(args)
    assert exc.value.code == 2
    assert "ils-sim" in capsys.readouterr().err


def test_cli_options_reach_the_simulator() -> None:
    args = parse(
        ["--repeated-checkout", "refuses", "--nb-due-date", "honour", "--login", "a:", "--login", "b:c"]
    )
    assert args.logins == [("a", ""), ("b", "c")] and args.host == "127.0.0.1" and args.port == 6001
    assert behaviour_overrides(args) == {"repeated_checkout_renews": False, "honours_nb_due_date": True}


def test_cli_refuses_a_certificate_without_a_key(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "ils-sim", "--port", "0", "--tls-cert", str(tmp_path / "c.pem")],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and "--tls-key" in result.stderr


def test_kiosk_ils_sim_help_lists_the_options() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "ils-sim", "--help"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    for option in (
        "--host",
        "--port",
        "--db",
        "--dialect",
        "--encoding",
        "--login",
        "--tls-cert",
        "--tls-key",
        "--latency",
        "--idle-timeout",
    ):
        assert option in result.stdout
