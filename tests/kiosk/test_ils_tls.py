"""TLS to the ILS from the kiosk's own settings: verified by default, a refused certificate is one
ERROR line for IT naming the host and the setting to check, and every way of weakening the
transport is a warning at start that names the key that allowed it."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from hardware_mocks.ils import IlsSimulator
from hardware_mocks.ils import scenarios as S
from kiosk.config import ConfigError, load_config, load_settings
from kiosk.ils.connection import client_config
from kiosk.ils.gateway import SipGateway

PASSWORD = "tls-test-s1p2-pass"


@pytest.fixture(autouse=True)
def _no_systemd_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def _ils(cert: trustme.LeafCert) -> IlsSimulator:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return IlsSimulator(ssl_context=context, accounts={S.LOGIN_USER: PASSWORD})


@pytest.fixture(scope="module")
def ils_for_localhost_ip(ca: trustme.CA) -> Iterator[IlsSimulator]:
    with _ils(ca.issue_cert("127.0.0.1")) as sim:
        yield sim


@pytest.fixture(scope="module")
def ils_for_another_name(ca: trustme.CA) -> Iterator[IlsSimulator]:
    with _ils(ca.issue_cert("ils.example.org")) as sim:
        yield sim


def _site(etc: Path, ils: IlsSimulator, ca_file: Path | None, extra: str = "") -> Path:
    etc.mkdir(parents=True, exist_ok=True)
    host, port = ils.address
    ca_line = f'tls_ca_file = "{ca_file}"\n' if ca_file else ""
    (etc / "kiosk.toml").write_text(
        f'[sip2]\nhost = "{host}"\nport = {port}\ntls = true\n{ca_line}timeout_seconds = 3\n{extra}',
        encoding="utf-8",
    )
    secrets = etc / "secrets.toml"
    secrets.write_text(f'[sip2]\npassword = "{PASSWORD}"\n', encoding="utf-8")
    secrets.chmod(0o600)
    return etc


def _open(etc: Path, caplog: pytest.LogCaptureFixture) -> SipGateway:
    gateway = SipGateway.from_settings(load_settings(etc))
    with caplog.at_level(logging.DEBUG):
        gateway.open()
    return gateway


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def test_the_right_ca_connects(tmp_path: Path, ca: trustme.CA, ils_for_localhost_ip, caplog) -> None:
    ca_file = tmp_path / "ils-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    gateway = _open(_site(tmp_path / "etc", ils_for_localhost_ip, ca_file), caplog)
    try:
        assert gateway.health().connected, gateway.health().last_error
        assert _errors(caplog) == []
    finally:
        gateway.close()


def test_an_unknown_ca_is_one_error_naming_host_and_the_ca_setting(tmp_path: Path, ils_for_localhost_ip,
                                                                    caplog) -> None:
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    gateway = _open(_site(tmp_path / "etc", ils_for_localhost_ip, other), caplog)
    try:
        host, port = ils_for_localhost_ip.address
        (error,) = _errors(caplog)
        assert error.startswith(f"cannot open the SIP2 sessions: the certificate of {host}:{port} did not verify")
        assert f"check sip2.tls_ca_file ({other})" in error
        assert not gateway.health().connected and "sip2.tls_ca_file" in gateway.health().last_error  # staff see it
        assert PASSWORD not in caplog.text
    finally:
        gateway.close()


def test_the_system_store_alone_refuses_a_private_ca(tmp_path: Path, ils_for_localhost_ip, caplog) -> None:
    gateway = _open(_site(tmp_path / "etc", ils_for_localhost_ip, None), caplog)
    try:
        (error,) = _errors(caplog)
        assert "against the system trust store" in error and "sip2.tls_ca_file, which is not set" in error
    finally:
        gateway.close()


def test_a_certificate_for_another_name_names_sip2_host(tmp_path: Path, ca: trustme.CA, ils_for_another_name,
                                                        caplog) -> None:
    ca_file = tmp_path / "ils-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    gateway = _open(_site(tmp_path / "etc", ils_for_another_name, ca_file), caplog)
    try:
        host, _ = ils_for_another_name.address
        (error,) = _errors(caplog)
        assert f"not made out to '{host}': set sip2.host to a name the certificate lists" in error
    finally:
        gateway.close()


def test_tls_and_verification_are_the_built_in_values() -> None:
    from kiosk.config import Sip2Settings

    assert Sip2Settings(host="ils").tls is True and Sip2Settings(host="ils").tls_verify is True
    assert Sip2Settings(host="ils").allow_plain_tcp is False


def test_a_site_that_only_names_its_ils_gets_verified_tls(tmp_path: Path) -> None:
    (tmp_path / "kiosk.toml").write_text('[sip2]\nhost = "ils.example.org"\ntls = true\n', encoding="utf-8")
    config = client_config(load_settings(tmp_path))
    assert config.tls is not None and config.tls.verify and config.tls.context().verify_mode is ssl.CERT_REQUIRED


def test_plain_tcp_to_a_remote_ils_needs_the_sites_own_key(tmp_path: Path) -> None:
    (tmp_path / "kiosk.toml").write_text('[sip2]\nhost = "ils.example.org"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:  # the package's demo defaults say tls = false
        load_config(tmp_path, environ={})
    assert "sip2.allow_plain_tcp = true in your own" in caught.value.problems[0]


def test_plain_tcp_allowed_explicitly_is_a_warning_at_start_naming_the_key(tmp_path: Path, caplog) -> None:
    (tmp_path / "kiosk.toml").write_text(
        '[sip2]\nhost = "ils.example.org"\ntls = false\nallow_plain_tcp = true\n', encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="kiosk.ils"):
        assert client_config(load_settings(tmp_path)).tls is None
    (record,) = [r for r in caplog.records if r.name == "kiosk.ils"]
    assert record.levelno == logging.WARNING
    assert "ils.example.org:6001 over plain TCP (sip2.allow_plain_tcp = true)" in record.getMessage()


def test_verification_switched_off_is_a_warning_at_start_naming_the_key(tmp_path: Path, caplog) -> None:
    (tmp_path / "kiosk.toml").write_text(
        '[sip2]\nhost = "ils.example.org"\ntls = true\ntls_verify = false\n', encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="kiosk.ils"):
        config = client_config(load_settings(tmp_path))
    assert config.tls is not None and not config.tls.verify
    (record,) = [r for r in caplog.records if r.name == "kiosk.ils"]
    assert "(sip2.tls_verify = false)" in record.getMessage() and "pose as the ILS" in record.getMessage()


def test_verified_tls_logs_no_transport_warning(tmp_path: Path, caplog) -> None:
    (tmp_path / "kiosk.toml").write_text('[sip2]\nhost = "ils.example.org"\ntls = true\n', encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="kiosk.ils"):
        client_config(load_settings(tmp_path))
    assert [r for r in caplog.records if r.name == "kiosk.ils"] == []
