"""Settings become the SIP2 client's configuration, and nothing else decides it."""

from __future__ import annotations

import os

import trustme

from kiosk.config import load_settings
from kiosk.ils.connection import client_config, dialect
from sip2.codec import CRLF
from sip2.dialects import RepeatedCheckout


def _write(path, text: str, mode: int = 0o644) -> None:
    path.write_text(text, encoding="utf-8")
    os.chmod(path, mode)


def test_defaults_point_at_the_local_demo_over_plain_tcp(tmp_path, caplog) -> None:
    settings = load_settings(config_dir=tmp_path, secrets_path=tmp_path / "none.toml")
    config = client_config(settings)
    assert (config.host, config.port, config.tls) == ("127.0.0.1", 6001, None)
    assert config.username == "demo" and config.institution_id == "demo" and config.blank_nb_due_date
    assert "plain TCP" in caplog.text


def test_a_site_config_with_tls_secrets_and_a_dialect(tmp_path) -> None:
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    _write(tmp_path / "kiosk.toml", f"""
[site]
name = "Riverside"
institution_id = "RIV"
[sip2]
host = "ils.example.org"
port = 6443
tls = true
tls_ca_file = "{ca_file}"
username = "kiosk7"
location = "RIV-SC7"
encoding = "utf-8"
terminator = "CRLF"
dialect = "alma"
timeout_seconds = 4
heartbeat_seconds = 45
blank_nb_due_date = false
""")
    _write(tmp_path / "secrets.toml", '[sip2]\npassword = "s3cret"\n', 0o600)
    settings = load_settings(config_dir=tmp_path, secrets_path=tmp_path / "secrets.toml")
    config = client_config(settings)
    assert config.tls is not None and config.tls.ca_file == str(ca_file) and config.tls.verify
    assert (config.username, config.password, config.location) == ("kiosk7", "s3cret", "RIV-SC7")
    assert (config.encoding, config.terminator, config.institution_id) == ("utf-8", CRLF, "RIV")
    assert (config.timeout, config.heartbeat_interval, config.blank_nb_due_date) == (4, 45, False)
    assert "s3cret" not in repr(config)
    assert dialect(settings).name == "alma"
    assert dialect(settings).honours_nb_due_date is True
    assert dialect(settings).repeated_checkout is RepeatedCheckout.RENEWS
