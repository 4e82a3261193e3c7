"""The staff PIN: hashing, checking, the [staff] section, `kiosk staff-pin`, and staff mode using it."""

from __future__ import annotations

import argparse
import base64
import io
import logging
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk import staff_pin
from kiosk.circulation.events import PinEntered, Pressed, TimerFired
from kiosk.circulation.staff import LOCKOUT_TIMER, Screen, StaffMachine
from kiosk.cli import main as kiosk_main
from kiosk.config import ConfigError, load_config, load_settings, render
from kiosk.staff_pin import PinHashError, StaffSettings, hash_pin, is_valid_pin, parse_hash, verifier

PIN = "482916"
# One hash made once (scrypt costs ~50 ms a call): the tests that only need "a valid hash" share it.
HASH = hash_pin(PIN)


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


@pytest.fixture
def etc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    return tmp_path / "etc-kiosk"


# --- hashing and checking ---------------------------------------------------------------------------


def test_the_hash_describes_itself_and_checks_only_its_pin() -> None:
    scheme, n, r, p, salt, digest = HASH.split("$")
    assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1")
    assert len(base64.b64decode(salt)) == 16 and len(base64.b64decode(digest)) == 32
    check = verifier(StaffSettings(pin_hash=HASH))
    assert check(PIN)
    for wrong in ("482917", "48291", "4829160", "0482916", " 482916", "482916\n", "", "abcdef"):
        assert not check(wrong), wrong


def test_the_same_pin_hashes_differently_each_time_and_both_check() -> None:
    other = hash_pin(PIN)
    assert other != HASH and other.split("$")[4] != HASH.split("$")[4]  # a fresh salt
    assert parse_hash(other).matches(PIN) and parse_hash(HASH).matches(PIN)


def test_a_given_salt_gives_the_same_hash() -> None:
    salt = bytes(range(16))
    assert hash_pin("1234", salt=salt) == hash_pin("1234", salt=salt) != hash_pin("1235", salt=salt)


@pytest.mark.parametrize("pin", ["123", "1234567890123", "12a4", "12 34", "１２３４", "١٢٣٤", "12²4", "", "-1234"])
def test_a_pin_is_4_to_12_ascii_digits(pin: str) -> None:
    assert not is_valid_pin(pin)
    with pytest.raises(ValueError, match="4 to 12 digits"):
        hash_pin(pin)


@pytest.mark.parametrize("pin", ["0000", "1234", "000000000000", "987654321098"])
def test_edge_length_pins_hash_and_check(pin: str) -> None:
    assert is_valid_pin(pin)
    assert verifier(StaffSettings(pin_hash=hash_pin(pin)))(pin)


def test_the_digests_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return a == b

    monkeypatch.setattr(staff_pin.hmac, "compare_digest", spy)
    check = verifier(StaffSettings(pin_hash=HASH))
    assert check(PIN) and not check("000000")
    assert len(compared) == 2 and all(len(a) == len(b) == 32 for a, b in compared)


_VALID_PARTS = HASH.split("$")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (PIN, "six parts"),
        ("bcrypt$" + "$".join(_VALID_PARTS[1:]), "six parts"),
        ("$".join([*_VALID_PARTS, "x"]), "six parts"),
        ("$".join(["scrypt", "16384", "8", "1", "!!!", _VALID_PARTS[5]]), "salt is not base64"),
        ("$".join(["scrypt", "16384", "8", "1", "c2FsdA==", _VALID_PARTS[5]]), "salt has 4 bytes"),
        ("$".join(["scrypt", "16384", "8", "1", _VALID_PARTS[4], "aGFzaA=="]), "hash has 4 bytes"),
        ("$".join(["scrypt", "1024", "8", "1", *_VALID_PARTS[4:]]), "power of two of at least 16384"),
        ("$".join(["scrypt", "20000", "8", "1", *_VALID_PARTS[4:]]), "power of two"),
        ("$".join(["scrypt", "1048576", "8", "1", *_VALID_PARTS[4:]]), "MiB per check"),
        ("$".join(["scrypt", "16384", "x", "1", *_VALID_PARTS[4:]]), "whole numbers"),
        ("$".join(["scrypt", "16384", "8", "-1", *_VALID_PARTS[4:]]), "whole numbers"),
        ("$".join(["scrypt", "16384", "8", "0", *_VALID_PARTS[4:]]), "MiB per check"),
    ],
)
def test_a_malformed_hash_says_what_is_wrong(text: str, reason: str) -> None:
    with pytest.raises(PinHashError, match=reason) as caught:
        parse_hash(text)
    assert str(caught.value).startswith("staff.pin_hash: ")


@settings(max_examples=300, deadline=None)
@given(st.one_of(
    st.text(max_size=120),
    st.lists(st.text(alphabet="0123456789abcAZ+/=$", max_size=30), min_size=6, max_size=6).map("$".join),
    st.lists(st.sampled_from(["scrypt", "16384", "8", "1", "32768", "0", *_VALID_PARTS[4:]]),
             min_size=6, max_size=6).map("$".join),
))
def test_garbage_gives_pin_hash_error_or_a_hash_never_another_exception(text: str) -> None:
    try:
        parsed = parse_hash(text)
    except PinHashError:
        return
    assert str(parsed) == text or base64.b64decode(text.split("$")[4]) == parsed.salt


# --- the [staff] section -------------------------------------------------------------------------------


def test_the_section_defaults_to_no_pin_and_three_tries() -> None:
    staff = StaffSettings()
    assert (staff.pin_hash, staff.max_attempts, staff.lockout_seconds, staff.idle_seconds) == (None, 3, 300, 120)


def test_a_hash_in_the_secrets_file_is_used_and_never_shown(etc: Path) -> None:
    write(etc / "kiosk.toml", "[staff]\nmax_attempts = 5\nlockout_seconds = 60\nidle_seconds = 30\n", 0o644)
    write(etc / "secrets.toml", f'[staff]\npin_hash = "{HASH}"\n')
    loaded = load_config(etc, environ={})
    staff = loaded.settings.staff
    assert (staff.pin_hash, staff.max_attempts, staff.lockout_seconds, staff.idle_seconds) == (HASH, 5, 60, 30)
    assert not any("staff" in w for w in loaded.warnings)
    shown = render(loaded)
    assert HASH not in shown and 'pin_hash = "********"' in shown
    assert verifier(loaded.settings)(PIN) and not verifier(loaded.settings)("1234")


def test_a_hash_in_world_readable_kiosk_toml_works_with_a_warning(etc: Path) -> None:
    main = write(etc / "kiosk.toml", f'[staff]\npin_hash = "{HASH}"\n', 0o644)
    loaded = load_config(etc, environ={})
    assert loaded.settings.staff.pin_hash == HASH
    assert loaded.warnings == (
        f"{main}: staff.pin_hash: secret in a world-readable file; move it to {etc / 'secrets.toml'} (chmod 600)",
    )


def test_without_a_hash_no_pin_opens_staff_mode_and_check_warns_naming_the_key(
    etc: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    loaded = load_config(etc, environ={})
    assert [w for w in loaded.warnings if "staff.pin_hash" in w] == [
        "built-in default: staff.pin_hash: not set, so staff mode cannot be opened (no PIN works): make a hash "
        "with `kiosk staff-pin` and set pin_hash under [staff] in the secrets file"
    ]
    with caplog.at_level(logging.WARNING, logger="kiosk.staff_pin"):
        check = verifier(loaded.settings)
    assert "staff.pin_hash is not set" in caplog.text
    assert not any(check(pin) for pin in ("0000", "1234", "123456", "000000000000", PIN))
    assert kiosk_main(["config", "check", "--config-dir", str(etc)]) == 0
    assert "warning: built-in default: staff.pin_hash: not set" in capsys.readouterr().err


def test_a_malformed_hash_is_one_config_problem_naming_the_key_not_the_value(etc: Path) -> None:
    secrets = write(etc / "secrets.toml", f'[staff]\npin_hash = "{PIN}"\n')  # the PIN, not its hash
    with pytest.raises(ConfigError) as caught:
        load_config(etc, environ={})
    assert caught.value.problems == [f"{secrets}: staff.pin_hash: expected {staff_pin.HASH_EXPECTED}, got a string"]
    assert PIN not in str(caught.value)


@pytest.mark.parametrize(("body", "expected"), [
    ("max_attempts = 0", "staff.max_attempts: expected an integer 1-10, got 0"),
    ("lockout_seconds = -5", "staff.lockout_seconds: expected a number > 0, got -5"),
    ("idle_seconds = \"2m\"", 'staff.idle_seconds: expected a number > 0, got "2m"'),
])
def test_bad_limits_are_config_problems(etc: Path, body: str, expected: str) -> None:
    main = write(etc / "kiosk.toml", f"[staff]\n{body}\n", 0o644)
    with pytest.raises(ConfigError) as caught:
        load_config(etc, environ={})
    assert caught.value.problems == [f"{main}: {expected}"]


def test_settings_built_in_code_with_a_bad_hash_give_a_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        verifier(StaffSettings(pin_hash="scrypt$16384$8$1$no!pe$nope"))
    (problem,) = caught.value.problems
    assert problem.startswith("staff.pin_hash: expected a hash made by `kiosk staff-pin`") and "not base64" in problem


def test_no_config_file_shipped_in_the_repository_holds_a_working_pin_hash() -> None:
    root = Path(__file__).resolve().parents[2]
    shipped = [p for p in root.rglob("*.toml") if not ({".venv", "tests", ".git"} & set(p.relative_to(root).parts))]
    assert root / "kiosk" / "defaults.toml" in shipped
    for path in shipped:
        for line in path.read_text(encoding="utf-8").splitlines():
            if "pin_hash" in line and "=" in line:
                value = line.split("=", 1)[1].strip().strip('"')
                with pytest.raises(PinHashError):
                    parse_hash(value)  # at most a placeholder that the config check refuses


# --- staff mode with the configured PIN ----------------------------------------------------------------


def test_staff_mode_opens_with_the_configured_pin_and_locks_after_the_configured_failures(etc: Path) -> None:
    write(etc / "kiosk.toml", "[staff]\nmax_attempts = 2\nlockout_seconds = 90\nidle_seconds = 45\n", 0o644)
    write(etc / "secrets.toml", f'[staff]\npin_hash = "{HASH}"\n')
    s = load_settings(etc).staff
    machine = StaffMachine(verifier(s), max_attempts=s.max_attempts, lockout_seconds=s.lockout_seconds,
                           idle_seconds=s.idle_seconds)
    state, _ = machine.start()
    state, commands = machine.step(state, Pressed("staff"))
    assert state.screen is Screen.PIN and any(getattr(c, "seconds", None) == 45 for c in commands)
    state, _ = machine.step(state, PinEntered(PIN))
    assert state.screen is Screen.MENU
    assert PIN not in repr(state)

    state, _ = machine.step(state, Pressed("logout"))
    state, _ = machine.step(state, Pressed("staff"))
    state, _ = machine.step(state, PinEntered("1111"))
    state, commands = machine.step(state, PinEntered("2222"))
    assert state.locked_out and state.screen is Screen.CLOSED
    assert any(getattr(c, "name", None) == LOCKOUT_TIMER and c.seconds == 90 for c in commands)
    state, _ = machine.step(state, Pressed("staff"))
    assert state.screen is Screen.CLOSED  # the right PIN cannot even be typed while locked
    state, _ = machine.step(state, TimerFired(LOCKOUT_TIMER))
    state, _ = machine.step(state, Pressed("staff"))
    state, _ = machine.step(state, PinEntered(PIN))
    assert state.screen is Screen.MENU


# --- kiosk staff-pin -------------------------------------------------------------------------------------


def run(*, stdin: str = "", answers: tuple[str, ...] = (), flag: bool = False) -> tuple[int, str, str, list[str]]:
    out, err, prompts = io.StringIO(), io.StringIO(), []
    replies = iter(answers)

    def ask(prompt: str) -> str:
        prompts.append(prompt)
        return next(replies)

    code = staff_pin.run_staff_pin(argparse.Namespace(stdin=flag), stdin=io.StringIO(stdin), out=out, err=err,
                                   ask=ask)
    return code, out.getvalue(), err.getvalue(), prompts


def test_cli_asks_twice_and_prints_a_hash_of_that_pin() -> None:
    code, out, err, prompts = run(answers=("7531", "7531"))
    assert code == 0 and len(prompts) == 2
    assert parse_hash(out.strip()).matches("7531")
    assert "7531" not in out + err and "[staff]" in err


def test_cli_refuses_two_different_pins_and_a_short_one() -> None:
    assert run(answers=("7531", "7532"))[:3] == (1, "", "kiosk staff-pin: the two PINs differ; nothing was made\n")
    code, out, err, prompts = run(answers=("75",))
    assert (code, out, len(prompts)) == (1, "", 1) and "4 to 12 digits" in err


def test_cli_reads_one_line_from_stdin_for_scripts() -> None:
    code, out, _, prompts = run(stdin="24680\n", flag=True)
    assert code == 0 and prompts == [] and parse_hash(out.strip()).matches("24680")
    assert run(stdin="", flag=True)[0] == 1


def test_kiosk_command_wires_staff_pin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("13579\n"))
    assert kiosk_main(["staff-pin", "--stdin"]) == 0
    assert parse_hash(capsys.readouterr().out.strip()).matches("13579")


def test_the_hash_survives_a_trip_through_a_toml_file(etc: Path) -> None:
    made = hash_pin("86420")
    write(etc / "secrets.toml", f'[staff]\npin_hash = "{made}"\n')
    assert verifier(load_settings(etc))("86420")
