"""``kiosk config pull``: the branch's config bundle from an HTTPS server, verified, validated, applied.

A fleet changes a setting once, centrally; each kiosk pulls its branch's bundle (a TOML file like any
``kiosk.d`` drop-in) and writes it as ``kiosk.d/50-central.toml``. Nothing is written unless every
step passed, in this order:

1. download with ``If-None-Match`` (the server's ETag): an unchanged bundle costs one 304;
2. verify: its SHA-256 equals ``[central_config] digest`` and/or its Ed25519 signature (downloaded
   from ``signature_url``, default ``url + ".sig"``) checks against ``public_key``;
3. check what it may set: no secret (the file is world-readable) and nothing under
   ``[central_config]`` (a bundle must not move or re-key its own source);
4. validate: every layer as the kiosk will read it, with the new bundle in place, through
   :func:`kiosk.config.parse_layers`, so a bundle that would stop the kiosk from starting is refused;
5. write atomically: a temporary file in the same directory, fsync, rename, fsync the directory.

A bundle that fails any step, or a server that cannot be reached, leaves the last good file where it
is, and the kiosk keeps running on it.

Why Ed25519 and not an HMAC: an HMAC key on every kiosk lets anyone who opens one kiosk sign bundles
for the whole fleet; a public key only verifies. The ``cryptography`` package that checks it is the
one pip already installs for TLS tooling (and Debian ships as python3-cryptography); signing needs no
Python at all: ``openssl pkeyutl -sign -rawin`` (docs/operations.md).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import hashlib
import json
import logging
import os
import subprocess
import sys
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import requests

    from kiosk.config import Layer
    from kiosk.ops.settings import CentralConfigSettings

log = logging.getLogger("kiosk.ops.central_config")

BUNDLE_NAME = "50-central.toml"
STATE_NAME = ".50-central.json"  # a dot file: the config loader ignores it
MAX_BUNDLE_BYTES = 1_000_000


@dataclass(frozen=True, slots=True)
class PullResult:
    """``outcome``: "off" (no url), "unchanged", "applied", "refused" (the bundle is bad: the last
    good one stays) or "unreachable" (the server or the local config failed: nothing changed)."""

    outcome: str
    detail: str

    @property
    def exit_code(self) -> int:
        return {"off": 0, "unchanged": 0, "applied": 0, "refused": 1}.get(self.outcome, 2)


class BundleRefused(Exception):
    """The bundle failed verification or validation; the message says which step and why."""


# -- verification (pure) ----------------------------------------------------------------------------


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode_signature(raw: bytes) -> bytes:
    """A signature file holds the 64 raw bytes (``openssl pkeyutl -sign`` writes those) or their base64."""
    if len(raw) == 64:
        return raw
    try:
        decoded = base64.b64decode(raw.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BundleRefused("the signature is neither 64 raw bytes nor base64") from exc
    if len(decoded) != 64:
        raise BundleRefused(f"the signature is {len(decoded)} bytes, an Ed25519 signature is 64")
    return decoded


def verify_signature(data: bytes, signature: bytes, public_key_b64: str) -> None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))
    try:
        key.verify(decode_signature(signature), data)
    except InvalidSignature as exc:
        raise BundleRefused("the Ed25519 signature does not match the bundle and central_config.public_key") from exc


def check_contents(data: bytes, secret_keys: frozenset[str]) -> dict[str, Any]:
    """The bundle's table, if it is TOML that sets no secret and no ``[central_config]`` key."""
    try:
        table = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise BundleRefused(f"not UTF-8 TOML: {exc}") from exc
    if "central_config" in table:
        raise BundleRefused("it sets [central_config]: a bundle must not change where it comes from or its key")
    for section, keys in table.items():
        if isinstance(keys, dict):
            found = sorted(f"{section}.{key}" for key in keys if f"{section}.{key}" in secret_keys)
            if found:
                raise BundleRefused(f"it sets {', '.join(found)}: secrets belong in the secrets file, the bundle "
                                    "is written where everyone can read it")
    return table


def layers_with(existing: list[Layer], bundle: Layer, dropin_dir: Path) -> list[Layer]:
    """``existing`` (as :func:`kiosk.config.read_layers` returns them) with ``bundle`` in its place among
    the drop-ins, lexical order, replacing a previous copy."""
    head, dropins, secrets = [], [], []
    for layer in existing:
        if layer.label == bundle.label:
            continue
        if layer.kind == "secrets":
            secrets.append(layer)
        elif Path(layer.label).parent == dropin_dir:
            dropins.append(layer)
        else:
            head.append(layer)
    dropins.append(bundle)
    dropins.sort(key=lambda layer: Path(layer.label).name)
    return [*head, *dropins, *secrets]


# -- the shell --------------------------------------------------------------------------------------


def _write_atomically(path: Path, data: bytes, mode: int = 0o644) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fchmod(fd, mode)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _read_state(path: Path) -> dict[str, Any]:
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def _get(session: requests.Session, url: str, settings: CentralConfigSettings,
         headers: Mapping[str, str] | None = None) -> requests.Response:
    response = session.get(url, headers=dict(headers or {}), timeout=settings.timeout_seconds,
                           verify=settings.tls_ca_file or True, stream=True, allow_redirects=True)
    return response


def _body(response: requests.Response) -> bytes:
    data = b""
    for chunk in response.iter_content(65536):
        data += chunk
        if len(data) > MAX_BUNDLE_BYTES:
            raise BundleRefused(f"larger than {MAX_BUNDLE_BYTES} bytes: not a config bundle")
    return data


def pull(
    config_dir: str | os.PathLike[str] | None = None,
    secrets_path: str | os.PathLike[str] | None = None,
    *,
    session: requests.Session | None = None,
    environ: Mapping[str, str] | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> PullResult:
    """Fetch, verify, validate and apply the bundle ``[central_config]`` names (see the module doc)."""
    import requests

    from kiosk.config import (
        DEFAULT_CONFIG_DIR,
        DROPIN_DIR,
        MAIN_FILE,
        SECRET_KEYS,
        ConfigError,
        Layer,
        load_config,
        parse_layers,
        read_layers,
        resolve_secrets_path,
    )

    directory = Path(config_dir) if config_dir is not None else DEFAULT_CONFIG_DIR
    try:
        settings = load_config(directory, secrets_path, environ).settings.central_config
    except ConfigError as error:
        return PullResult("unreachable", "the local configuration is invalid, so its [central_config] cannot be "
                          "trusted: " + "; ".join(error.problems[:3]))
    if not settings.url:
        return PullResult("off", "no [central_config] url: nothing to pull")
    dropins = directory / DROPIN_DIR
    target, state_path = dropins / BUNDLE_NAME, dropins / STATE_NAME
    state = _read_state(state_path)
    headers = {}
    if target.exists() and state.get("url") == settings.url and state.get("etag"):
        headers["If-None-Match"] = state["etag"]
    session = session or requests.Session()
    try:
        response = _get(session, settings.url, settings, headers)
        with contextlib.closing(response):
            if response.status_code == 304:
                return PullResult("unchanged", f"the server's bundle is unchanged (ETag {state.get('etag')})")
            if response.status_code != 200:
                return PullResult("unreachable", f"{settings.url} answered {response.status_code} {response.reason}")
            data = _body(response)
            etag = response.headers.get("ETag", "")
        digest = sha256_of(data)
        if settings.digest and digest != settings.digest:
            raise BundleRefused(f"its SHA-256 is {digest}, central_config.digest pins {settings.digest}")
        if settings.public_key:
            sig_url = settings.signature_url or settings.url + ".sig"
            sig_response = _get(session, sig_url, settings)
            with contextlib.closing(sig_response):
                if sig_response.status_code != 200:
                    return PullResult("unreachable", f"signature {sig_url} answered {sig_response.status_code}")
                signature = _body(sig_response)
            verify_signature(data, signature, settings.public_key)
        check_contents(data, SECRET_KEYS)
        secrets = resolve_secrets_path(directory, secrets_path, os.environ if environ is None else environ)
        bundle = Layer(str(target), data, kind="config", world_readable=True)
        layers = layers_with(read_layers(directory, secrets), bundle, dropins)
        try:
            parse_layers(layers, secrets_hint=str(secrets), main_hint=str(directory / MAIN_FILE))
        except ConfigError as error:
            raise BundleRefused("with it the configuration would be invalid: " + "; ".join(error.problems[:5])) \
                from error
    except BundleRefused as refused:
        log.error("central config: bundle from %s refused, keeping the last good one: %s", settings.url, refused)
        return PullResult("refused", str(refused))
    except requests.RequestException as exc:
        log.warning("central config: %s not reachable, keeping the last good one: %s", settings.url, exc)
        return PullResult("unreachable", f"{settings.url}: {exc}")
    new_state = {"url": settings.url, "etag": etag, "sha256": digest, "applied_at": now().isoformat()}
    dropins.mkdir(parents=True, exist_ok=True)
    unchanged = target.exists() and target.read_bytes() == data
    if not unchanged:
        _write_atomically(target, data)
    _write_atomically(state_path, json.dumps(new_state, indent=1).encode())
    if unchanged:
        return PullResult("unchanged", f"the bundle is the one applied already (sha256 {digest[:12]})")
    log.info("central config: applied %s (sha256 %s) as %s", settings.url, digest, target)
    return PullResult("applied", f"applied sha256 {digest[:12]} as {target}")


def run_config_pull(args: argparse.Namespace) -> int:
    """``kiosk config pull [--restart UNIT]...``: 0 unchanged or applied, 1 refused, 2 unreachable."""
    from kiosk.ops.logging import setup_logging

    setup_logging(None)
    result = pull(args.config_dir, args.secrets)
    stream = sys.stdout if result.exit_code == 0 else sys.stderr
    print(f"kiosk config pull: {result.outcome}: {result.detail}", file=stream)
    if result.outcome == "applied":
        for unit in args.restart:
            done = subprocess.run(["systemctl", "try-restart", unit], check=False)
            if done.returncode != 0:
                print(f"kiosk config pull: systemctl try-restart {unit} failed ({done.returncode})", file=sys.stderr)
    return result.exit_code
