"""A certificate the client must refuse, for each way one goes wrong: one typed error that names the
host and says what to check, and not a byte of SIP2 (no login password) sent to the impostor."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trustme
from conftest import ScriptedILS, client_config

from sip2.certificates import certificate_advice
from sip2.cli import main as sip2_main
from sip2.client import SIP2Client, TLSConfig
from sip2.errors import TLSVerificationError
from sip2.server import SIP2Server

NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ils-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def _serving(configure: Callable[[ssl.SSLContext], None]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    configure(context)
    return context


def _self_signed(context: ssl.SSLContext) -> None:
    """The server shows a certificate that signed itself (here: a CA's own, as a careless ILS might)."""
    own = trustme.CA()
    with own.cert_pem.tempfile() as cert, own.private_key_pem.tempfile() as key:
        context.load_cert_chain(cert, key)


# name -> (how the server is set up, OpenSSL's code, words the advice must contain)
CASES: dict[str, tuple[Callable[[trustme.CA], Callable[[ssl.SSLContext], None]], int, str]] = {
    "signed by another CA": (lambda ca: trustme.CA().issue_cert("127.0.0.1").configure_cert, 20, "CA_FILE"),
    "self-signed": (lambda ca: _self_signed, 18, "it is self-signed"),
    "made out to another name": (lambda ca: ca.issue_cert("ils.example.org").configure_cert, 64, "HOST"),
    "expired": (
        lambda ca: ca.issue_cert("127.0.0.1", not_before=NOW - timedelta(days=400),
                                 not_after=NOW - timedelta(days=1)).configure_cert,
        10, "date and time",
    ),
    "not yet valid": (
        lambda ca: ca.issue_cert("127.0.0.1", not_before=NOW + timedelta(days=2),
                                 not_after=NOW + timedelta(days=400)).configure_cert,
        9, "date and time",
    ),
}


@pytest.fixture(params=list(CASES))
def bad_ils(request: pytest.FixtureRequest, ca: trustme.CA) -> Iterator[tuple[str, ScriptedILS, SIP2Server]]:
    make, _, _ = CASES[request.param]
    app = ScriptedILS()
    with SIP2Server(app, ssl_context=_serving(make(ca))) as server:
        yield request.param, app, server


def test_each_bad_certificate_is_one_typed_error_naming_host_and_what_to_check(bad_ils, ca_file: str) -> None:
    case, app, server = bad_ils
    _, code, words = CASES[case]
    tls = TLSConfig(ca_file=ca_file, ca_file_setting="CA_FILE", host_setting="HOST")
    with pytest.raises(TLSVerificationError) as caught:
        SIP2Client(client_config(server, tls=tls)).connect()
    error = caught.value
    host, port = server.address
    assert (error.host, error.port, error.code) == (host, port, code)
    message = str(error)
    assert "\n" not in message
    assert message.startswith(f"the certificate of {host}:{port} did not verify against {ca_file}: {error.reason}")
    assert words in error.advice and message.endswith(error.advice)
    assert app.seen == [] and app.logins == 0  # nothing, not even the login, reached the impostor


def test_the_right_ca_and_name_connect(ca: trustme.CA, ca_file: str) -> None:
    app = ScriptedILS()
    context = _serving(ca.issue_cert("127.0.0.1").configure_cert)
    with (
        SIP2Server(app, ssl_context=context) as server,
        SIP2Client(client_config(server, tls=TLSConfig(ca_file=ca_file))) as client,
    ):
        assert client.acs_status is not None
    assert app.logins == 1


def test_verification_is_on_unless_switched_off(ca: trustme.CA) -> None:
    assert TLSConfig().verify and TLSConfig().context().verify_mode is ssl.CERT_REQUIRED
    assert TLSConfig().context().check_hostname
    app = ScriptedILS()
    with SIP2Server(app, ssl_context=_serving(ca.issue_cert("127.0.0.1").configure_cert)) as server:
        with pytest.raises(TLSVerificationError, match="the system trust store"):  # trustme's CA is in no store
            SIP2Client(client_config(server, tls=TLSConfig())).connect()
        with SIP2Client(client_config(server, tls=TLSConfig(verify=False))) as client:
            assert client.acs_status is not None


def test_the_sip2_cli_names_its_own_options(ca: trustme.CA, ca_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    app = ScriptedILS()
    with SIP2Server(app, ssl_context=_serving(ca.issue_cert("ils.example.org").configure_cert)) as server:
        host, port = server.address
        code = sip2_main(["--host", host, "--port", str(port), "--user", "kiosk", "--password", "secret",
                          "--timeout", "2", "--tls", "--ca-file", ca_file, "status"])
    out, err = capsys.readouterr()
    assert (code, out) == (3, "")
    (line,) = err.strip().splitlines()
    assert line.startswith(f"sip2: the certificate of {host}:{port} did not verify")
    assert f"not made out to '{host}': set --host to a name the certificate lists" in line
    assert app.seen == []


@pytest.mark.parametrize(("code", "ca_file", "expected"), [
    (20, None, "check sip2.tls_ca_file, which is not set (system CAs only)"),
    (20, "/etc/kiosk/ca.pem", "check sip2.tls_ca_file (/etc/kiosk/ca.pem)"),
    (19, "/x.pem", "must name the CA certificate (PEM) that issued it"),
    (62, None, "set sip2.host to a name the certificate lists"),
    (10, None, "this machine's date and time"),
    (26, None, "check sip2.tls_ca_file and sip2.host"),
])
def test_advice_by_openssl_code(code: int, ca_file: str | None, expected: str) -> None:
    advice = certificate_advice(code, host="ils", ca_file=ca_file, ca_setting="sip2.tls_ca_file",
                                host_setting="sip2.host")
    assert expected in advice


def test_default_setting_names_are_generic(tmp_path: Path) -> None:
    assert (TLSConfig().ca_file_setting, TLSConfig().host_setting) == ("ca_file", "host")
