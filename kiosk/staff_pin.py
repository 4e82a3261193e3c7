"""The staff PIN: the ``[staff]`` settings, how a PIN is hashed, and the check staff mode is given.

Why a salted scrypt hash and not the PIN: the configuration lives on an SD card that can be pulled
out of the kiosk and read anywhere, and IT copies it between kiosks. A hash does not give the PIN
back; scrypt makes every guess cost memory and time, and the random salt means two kiosks with the
same PIN do not show the same hash. It does not make a short PIN strong: a 4-digit PIN is found from
its hash in minutes, so the hash belongs in the secrets file (``docs/security.md``).

Why the parameters travel inside the hash (``scrypt$n$r$p$salt$hash``): a later release can make
hashing harder without breaking the hashes kiosks already have.

Why no default: a PIN that works out of the box works on every kiosk whose IT forgot to change it.
Unset, staff mode cannot be opened, and ``kiosk config check`` says so.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import getpass
import hashlib
import hmac
import logging
import re
import secrets
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from kiosk.config_schema import Check, integer, positive_number, setting

log = logging.getLogger(__name__)

SCHEME = "scrypt"
N, R, P = 2**14, 8, 1  # 16 MiB and ~50 ms per check on a desktop core, a few times that on a Pi
SALT_BYTES = 16
HASH_BYTES = 32
# Bounds for hashes read from the config: weaker than ours is refused, and so is anything that
# would make one PIN check take more memory than a kiosk can spare.
MIN_N, MAX_MEMORY = 2**14, 64 * 1024 * 1024
PIN_DIGITS = (4, 12)
_PIN = re.compile(f"[0-9]{{{PIN_DIGITS[0]},{PIN_DIGITS[1]}}}")  # ASCII digits only: str.isdigit() takes "²" too

HASH_EXPECTED = (
    'a hash made by `kiosk staff-pin` ("scrypt$16384$8$1$<salt>$<hash>"; the PIN itself is never '
    "written in the config)"
)


class PinHashError(ValueError):
    """A ``staff.pin_hash`` value that is not a hash this module can check; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"staff.pin_hash: {reason}")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class PinHash:
    """A parsed hash. ``matches`` is the only way to use it: nothing reads the digest out."""

    n: int
    r: int
    p: int
    salt: bytes
    digest: bytes

    def matches(self, pin: str) -> bool:
        """True when ``pin`` is the PIN this hash was made from; compared in constant time."""
        if not is_valid_pin(pin):
            return False  # the PIN's shape is public (4-12 digits): saying no early leaks nothing
        candidate = _scrypt(pin, self.salt, self.n, self.r, self.p, len(self.digest))
        return hmac.compare_digest(candidate, self.digest)

    def __str__(self) -> str:
        salt, digest = (base64.b64encode(b).decode("ascii") for b in (self.salt, self.digest))
        return f"{SCHEME}${self.n}${self.r}${self.p}${salt}${digest}"


def is_valid_pin(pin: object) -> bool:
    """A staff PIN is 4 to 12 ASCII digits: what the staff keypad can type."""
    return isinstance(pin, str) and _PIN.fullmatch(pin) is not None


def _scrypt(pin: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(pin.encode("ascii"), salt=salt, n=n, r=r, p=p, maxmem=2 * MAX_MEMORY, dklen=length)


def hash_pin(pin: str, *, salt: bytes | None = None) -> str:
    """The config value for ``pin``: ``scrypt$n$r$p$salt_b64$hash_b64`` with a fresh random salt."""
    if not is_valid_pin(pin):
        raise ValueError(f"a staff PIN is {PIN_DIGITS[0]} to {PIN_DIGITS[1]} digits (0-9)")
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    return str(PinHash(N, R, P, salt, _scrypt(pin, salt, N, R, P, HASH_BYTES)))


def _b64(text: str, what: str, low: int, high: int) -> bytes:
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise PinHashError(f"the {what} is not base64") from None
    if not low <= len(data) <= high:
        raise PinHashError(f"the {what} has {len(data)} bytes, expected {low}-{high}")
    return data


def parse_hash(text: object) -> PinHash:
    """The hash in ``text``, or :class:`PinHashError` saying what is wrong with it."""
    if not isinstance(text, str):
        raise PinHashError("expected a string")
    parts = text.split("$")
    if len(parts) != 6 or parts[0] != SCHEME:
        raise PinHashError('expected six parts "scrypt$n$r$p$salt$hash": was it copied whole from `kiosk staff-pin`?')
    if not all(part.isascii() and part.isdecimal() and len(part) <= 9 for part in parts[1:4]):
        raise PinHashError("n, r and p must be whole numbers")
    n, r, p = (int(part) for part in parts[1:4])
    if n < MIN_N or n & (n - 1):
        raise PinHashError(f"n must be a power of two of at least {MIN_N}, got {n}")
    if not (1 <= r <= 32 and 1 <= p <= 16) or 128 * n * r * p > MAX_MEMORY:
        raise PinHashError(f"n={n} r={r} p={p} needs more than {MAX_MEMORY // 2**20} MiB per check")
    return PinHash(n, r, p, _b64(parts[4], "salt", 16, 64), _b64(parts[5], "hash", 16, 64))


def _is_hash(value: object) -> bool:
    try:
        parse_hash(value)
    except PinHashError:
        return False
    return True


# --------------------------------------------------------------------------------------------------
# [staff]


@dataclass(frozen=True, kw_only=True)
class StaffSettings:
    """[staff]: who may open staff mode on the kiosk, and for how long."""

    pin_hash: str | None = setting(
        None, check=Check(HASH_EXPECTED, _is_hash), secret=True,
        doc="hash of the staff PIN from `kiosk staff-pin`; unset: staff mode cannot be opened",
    )
    max_attempts: int = setting(3, check=integer(1, 10), doc="wrong PINs in a row before staff login locks")
    lockout_seconds: float = setting(300.0, check=positive_number(), doc="how long staff login stays locked")
    idle_seconds: float = setting(120.0, check=positive_number(), doc="staff mode closes after this long idle")


def staff_warnings(settings: Any, origin: Any) -> Iterator[str]:
    """Config warnings for [staff] (a ``kiosk.config`` cross-check that warns instead of refusing)."""
    if settings.staff.pin_hash is None:
        yield (
            f"{origin.label('staff.pin_hash')}: staff.pin_hash: not set, so staff mode cannot be opened "
            "(no PIN works): make a hash with "
            "`kiosk staff-pin` and set pin_hash under [staff] in the secrets file"
        )


def _refuse(pin: str) -> bool:
    return False


def verifier(settings: Any) -> Callable[[str], bool]:
    """The PIN check for :class:`~kiosk.circulation.staff.StaffMachine` (``verify_pin``).

    ``settings`` is the whole :class:`~kiosk.config.Settings` or its ``staff`` section. Without a
    hash every PIN is refused (and the log says why, once, at start); a malformed hash is a
    :class:`~kiosk.config.ConfigError` naming ``staff.pin_hash`` (the loader already refuses one;
    this guards settings built in code).
    """
    staff: StaffSettings = getattr(settings, "staff", settings)
    if staff.pin_hash is None:
        log.warning("staff.pin_hash is not set: staff mode cannot be opened (see `kiosk staff-pin`)")
        return _refuse
    try:
        parsed = parse_hash(staff.pin_hash)
    except PinHashError as error:
        from kiosk.config import ConfigError  # here, not at the top: kiosk.config imports this module

        raise ConfigError([f"staff.pin_hash: expected {HASH_EXPECTED}: {error.reason}"]) from None
    return parsed.matches


# --------------------------------------------------------------------------------------------------
# kiosk staff-pin


def run_staff_pin(
    args: argparse.Namespace,
    *,
    stdin: TextIO | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    ask: Callable[[str], str] = getpass.getpass,
) -> int:
    """``kiosk staff-pin [--stdin]``: print the hash of a PIN typed twice without echo (or one line on
    standard input, for scripts). 0 and the hash on stdout; 1 and the reason on stderr."""
    stdin, out, err = stdin or sys.stdin, out or sys.stdout, err or sys.stderr
    try:
        if args.stdin:
            pin = stdin.readline().rstrip("\r\n")
        else:
            pin = ask("New staff PIN (4-12 digits): ")
            if is_valid_pin(pin) and ask("The same PIN again: ") != pin:
                err.write("kiosk staff-pin: the two PINs differ; nothing was made\n")
                return 1
    except (EOFError, KeyboardInterrupt):
        err.write("kiosk staff-pin: no PIN given\n")
        return 1
    if not is_valid_pin(pin):
        err.write(f"kiosk staff-pin: a staff PIN is {PIN_DIGITS[0]} to {PIN_DIGITS[1]} digits (0-9)\n")
        return 1
    out.write(hash_pin(pin) + "\n")
    err.write(
        "Put it in the secrets file (/etc/kiosk/secrets.toml, chmod 600) as:\n"
        '  [staff]\n  pin_hash = "<the line above>"\n'
        "then restart the kiosk. Check with: kiosk config check\n"
    )
    return 0
