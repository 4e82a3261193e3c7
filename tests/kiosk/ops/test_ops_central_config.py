"""``kiosk config pull`` against a real HTTPS server on loopback (a throwaway CA from trustme)."""

from __future__ import annotations

import base64
import hashlib
import http.server
import ssl
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import trustme
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from kiosk.cli import main
from kiosk.config import ConfigError, load_config
from kiosk.ops.central_config import BUNDLE_NAME, STATE_NAME, decode_signature, pull

GOOD = b'[site]\nbranch = "North"\n\n[sip2]\nport = 6443\n'


@dataclass
class Served:
    bundle: bytes = GOOD
    signature: bytes = b""
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, If-None-Match)


@dataclass
class BundleServer:
    served: Served
    url: str
    ca_file: Path
    server: http.server.ThreadingHTTPServer

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _handler(served: Served) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.requests.append((self.path, self.headers.get("If-None-Match")))
            if self.path == "/branch.toml":
                body = served.bundle
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self._send(200, body, etag)
            elif self.path == "/branch.toml.sig" and served.signature:
                self._send(200, served.signature)
            else:
                self._send(404, b"not here\n")

        def _send(self, code: int, body: bytes, etag: str = "") -> None:
            self.send_response(code)
            if etag:
                self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def https(ca: trustme.CA, tmp_path: Path) -> Iterator[BundleServer]:
    served = Served()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(served))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    box = BundleServer(served, f"https://localhost:{server.server_address[1]}/branch.toml", ca_file, server)
    yield box
    box.stop()


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def public(key: Ed25519PrivateKey) -> str:
    return base64.b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def etc_with(tmp_path: Path, https: BundleServer, **central: str) -> Path:
    etc = tmp_path / "etc"
    (etc / "kiosk.d").mkdir(parents=True, exist_ok=True)
    lines = [f'url = "{https.url}"', f'tls_ca_file = "{https.ca_file}"', "timeout_seconds = 5.0"]
    lines += [f'{k} = "{v}"' for k, v in central.items()]
    (etc / "kiosk.toml").write_text("[central_config]\n" + "\n".join(lines) + "\n")
    return etc


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_pinned_bundle_is_applied_then_not_downloaded_again(tmp_path: Path, https: BundleServer) -> None:
    etc = etc_with(tmp_path, https, digest=digest(GOOD))
    result = pull(etc)
    assert (result.outcome, result.exit_code) == ("applied", 0), result.detail
    target = etc / "kiosk.d" / BUNDLE_NAME
    assert target.read_bytes() == GOOD
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    loaded = load_config(etc)
    assert loaded.settings.sip2.port == 6443 and loaded.settings.site.branch == "North"
    assert loaded.origins["sip2.port"] == str(target)

    again = pull(etc)
    assert again.outcome == "unchanged"
    assert https.served.requests[-1][1] is not None  # asked with If-None-Match, answered 304
    assert sorted(p.name for p in (etc / "kiosk.d").iterdir()) == [STATE_NAME, BUNDLE_NAME]  # no temp files


def test_a_bundle_that_does_not_match_the_pin_is_refused_and_the_last_good_one_stays(
    tmp_path: Path, https: BundleServer
) -> None:
    etc = etc_with(tmp_path, https, digest=digest(GOOD))
    assert pull(etc).outcome == "applied"
    https.served.bundle = GOOD.replace(b"6443", b"7443")
    result = pull(etc)
    assert (result.outcome, result.exit_code) == ("refused", 1)
    assert f"central_config.digest pins {digest(GOOD)}" in result.detail
    assert (etc / "kiosk.d" / BUNDLE_NAME).read_bytes() == GOOD


def test_a_signed_bundle_is_applied_and_a_forged_one_refused(
    tmp_path: Path, https: BundleServer, key: Ed25519PrivateKey
) -> None:
    etc = etc_with(tmp_path, https, public_key=public(key))
    https.served.signature = key.sign(GOOD)  # raw 64 bytes, as openssl pkeyutl -sign writes them
    assert pull(etc).outcome == "applied"

    forged = GOOD.replace(b"North", b"South")
    https.served.bundle = forged
    https.served.signature = base64.b64encode(Ed25519PrivateKey.generate().sign(forged))  # base64, wrong key
    result = pull(etc)
    assert result.outcome == "refused" and "signature does not match" in result.detail
    assert (etc / "kiosk.d" / BUNDLE_NAME).read_bytes() == GOOD

    https.served.signature = base64.b64encode(key.sign(forged)) + b"\n"
    assert pull(etc).outcome == "applied"
    assert load_config(etc).settings.site.branch == "South"


@pytest.mark.parametrize(("bundle", "why"), [
    (b'[sip2]\nport = "six"\n', "sip2.port: expected an integer 1-65535"),
    (b"[sip2]\nport = \n", "not UTF-8 TOML"),
    (b'[sip2]\npassword = "from the server"\n', "sets sip2.password: secrets belong in the secrets file"),
    (b'[central_config]\nurl = "https://evil.example/x.toml"\n', "must not change where it comes from"),
    (b'[printer]\nconnection = "serial"\n', 'printer.connection: "serial" needs printer.device'),
])
def test_a_bundle_the_kiosk_could_not_run_on_is_refused(
    tmp_path: Path, https: BundleServer, key: Ed25519PrivateKey, bundle: bytes, why: str
) -> None:
    etc = etc_with(tmp_path, https, public_key=public(key))
    https.served.bundle, https.served.signature = bundle, key.sign(bundle)
    result = pull(etc)
    assert result.outcome == "refused" and why in result.detail, result.detail
    assert not (etc / "kiosk.d" / BUNDLE_NAME).exists()


def test_an_unreachable_server_or_an_untrusted_certificate_changes_nothing(
    tmp_path: Path, https: BundleServer
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    untrusted = etc_with(other, https, digest=digest(GOOD))
    (untrusted / "kiosk.toml").write_text((untrusted / "kiosk.toml").read_text().replace(
        f'tls_ca_file = "{https.ca_file}"\n', ""))
    result = pull(untrusted)
    assert result.outcome == "unreachable" and "CERTIFICATE_VERIFY_FAILED" in result.detail, result.detail
    assert not (untrusted / "kiosk.d" / BUNDLE_NAME).exists()

    etc = etc_with(tmp_path, https, digest=digest(GOOD))
    assert pull(etc).outcome == "applied"
    https.stop()
    result = pull(etc)
    assert (result.outcome, result.exit_code) == ("unreachable", 2)
    assert (etc / "kiosk.d" / BUNDLE_NAME).read_bytes() == GOOD


def test_a_server_error_and_a_missing_signature_are_not_applied(
    tmp_path: Path, https: BundleServer, key: Ed25519PrivateKey
) -> None:
    etc = etc_with(tmp_path, https, public_key=public(key))
    result = pull(etc)  # no .sig served: 404
    assert result.outcome == "unreachable" and "answered 404" in result.detail
    etc = etc_with(tmp_path, https, digest=digest(GOOD))
    (etc / "kiosk.toml").write_text((etc / "kiosk.toml").read_text().replace("branch.toml", "gone.toml"))
    assert "answered 404" in pull(etc).detail


def test_without_a_url_there_is_nothing_to_pull_and_a_url_needs_a_pin_or_a_key(
    tmp_path: Path, https: BundleServer
) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    assert pull(etc).outcome == "off"
    (etc / "kiosk.toml").write_text(f'[central_config]\nurl = "{https.url}"\n')
    with pytest.raises(ConfigError, match=r"expected central_config\.digest or central_config\.public_key"):
        load_config(etc)
    assert pull(etc).outcome == "unreachable"  # the local config is invalid: nothing is fetched
    assert https.served.requests == []


def test_signatures_are_raw_or_base64_and_64_bytes() -> None:
    raw = bytes(range(64))
    assert decode_signature(raw) == raw
    assert decode_signature(base64.b64encode(raw) + b"\n") == raw
    with pytest.raises(Exception, match="64"):
        decode_signature(base64.b64encode(b"short"))


def test_kiosk_config_pull_exit_codes(
    tmp_path: Path, https: BundleServer, capsys: pytest.CaptureFixture[str]
) -> None:
    etc = etc_with(tmp_path, https, digest=digest(GOOD))
    assert main(["config", "pull", "--config-dir", str(etc)]) == 0
    assert "applied" in capsys.readouterr().out
    https.served.bundle = b"[sip2]\nport = 1\n"
    assert main(["config", "pull", "--config-dir", str(etc)]) == 1
    assert "refused" in capsys.readouterr().err


def test_the_documented_openssl_commands_make_a_key_and_signature_the_kiosk_accepts(
    tmp_path: Path, https: BundleServer
) -> None:
    """docs/operations.md tells IT to sign with openssl: the kiosk must accept exactly that."""
    import shutil
    import subprocess

    openssl = shutil.which("openssl")
    assert openssl is not None, "openssl is missing (./dev installs it: APT_PACKAGES)"
    key_file, bundle = tmp_path / "central-key.pem", tmp_path / "branch.toml"
    bundle.write_bytes(GOOD)
    subprocess.run([openssl, "genpkey", "-algorithm", "ed25519", "-out", str(key_file)], check=True)
    der = subprocess.run([openssl, "pkey", "-in", str(key_file), "-pubout", "-outform", "DER"], check=True,
                         capture_output=True).stdout
    public_key = base64.b64encode(der[-32:]).decode()
    subprocess.run([openssl, "pkeyutl", "-sign", "-inkey", str(key_file), "-rawin", "-in", str(bundle),
                    "-out", str(tmp_path / "branch.toml.sig")], check=True)
    https.served.signature = (tmp_path / "branch.toml.sig").read_bytes()
    sha256sum = hashlib.sha256(bundle.read_bytes()).hexdigest()
    etc = etc_with(tmp_path, https, public_key=public_key, digest=sha256sum)
    result = pull(etc)
    assert result.outcome == "applied", result.detail
