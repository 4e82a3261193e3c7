"""Layered configuration: real files in tmp dirs, real modes, exact problem lines."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import re
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk import config
from kiosk.config import (
    MASK,
    ConfigError,
    Layer,
    config_hash,
    defaults_layer,
    load_config,
    load_settings,
    parse_layers,
    render,
    run_config_check,
    schema_keys,
)
from kiosk.staff_pin import StaffSettings, staff_warnings

SECRET = "hunter2-correct-horse-7f3a"
DEFAULTS = defaults_layer().label


@pytest.fixture(autouse=True)
def _no_systemd_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)


@pytest.fixture
def etc(tmp_path: Path) -> Path:
    directory = tmp_path / "etc-kiosk"
    (directory / "kiosk.d").mkdir(parents=True)
    return directory


def write(path: Path, text: str, mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


# Every configuration without a staff PIN hash carries this one warning (kiosk.staff_pin).
NO_STAFF_PIN = tuple(staff_warnings(SimpleNamespace(staff=StaffSettings()), config.Provenance({}, {})))


def problems_of(directory: Path, secrets: Path | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(directory, secrets, environ={})
    assert caught.value.problems, "ConfigError without problems"
    return caught.value.problems


def check(directory: Path, *extra: str, secrets: Path | None = None) -> argparse.Namespace:
    args = argparse.Namespace(config_dir=str(directory), secrets=secrets and str(secrets), show=False)
    for flag in extra:
        setattr(args, flag, True)
    return args


# --- layering ---------------------------------------------------------------------------------------


def test_defaults_alone_are_valid_and_point_at_the_local_demo_ils(tmp_path: Path) -> None:
    loaded = load_config(tmp_path / "no-such-dir", environ={})
    assert loaded.layers == (DEFAULTS,)
    s = loaded.settings
    assert (s.sip2.host, s.sip2.port, s.sip2.tls, s.sip2.allow_plain_tcp) == ("127.0.0.1", 6001, False, True)
    assert s.site.name == "Demo Library"
    assert loaded.warnings == NO_STAFF_PIN


def test_layers_override_key_by_key_in_order(etc: Path) -> None:
    main_text = '[site]\nname = "Stadtbibliothek"\n[sip2]\nport = 7000\ntimeout_seconds = 5\n'
    main = write(etc / "kiosk.toml", main_text)
    branch = write(etc / "kiosk.d" / "10-branch.toml", '[site]\nbranch = "Nord"\n[sip2]\nport = 7001\n')
    local = write(etc / "kiosk.d" / "50-local.toml", "[sip2]\nport = 7002\n")
    secrets = write(etc / "secrets.toml", f'[sip2]\npassword = "{SECRET}"\nport = 7003\n', mode=0o600)

    loaded = load_config(etc, environ={})

    s = loaded.settings
    assert loaded.layers == (DEFAULTS, str(main), str(branch), str(local), str(secrets))
    assert s.sip2.port == 7003
    assert s.sip2.password == SECRET
    assert s.sip2.timeout_seconds == 5.0 and isinstance(s.sip2.timeout_seconds, float)
    # Tables merge: keys a later layer does not name survive from the earlier ones.
    assert (s.site.name, s.site.branch, s.sip2.host) == ("Stadtbibliothek", "Nord", "127.0.0.1")
    assert loaded.origins["site.name"] == str(main)
    assert loaded.origins["site.branch"] == str(branch)
    assert loaded.origins["sip2.port"] == str(secrets)
    assert loaded.origins["sip2.host"] == DEFAULTS
    assert "sip2.encoding" not in loaded.origins  # nobody set it: the dataclass default applies
    assert s.sip2.encoding == "cp850"


def test_dropins_are_read_in_lexical_order_not_creation_order(etc: Path) -> None:
    second = write(etc / "kiosk.d" / "20-b.toml", "[sip2]\npool_size = 2\n")
    first = write(etc / "kiosk.d" / "100-a.toml", "[sip2]\npool_size = 3\n")  # "100" sorts before "20"
    write(etc / "kiosk.d" / ".99-hidden.toml", "this is not toml\n")
    write(etc / "kiosk.d" / "30-c.toml.bak", "neither is this\n")

    loaded = load_config(etc, environ={})

    assert loaded.layers == (DEFAULTS, str(first), str(second))
    assert loaded.settings.sip2.pool_size == 2


def test_settings_are_frozen(tmp_path: Path) -> None:
    s = load_settings(tmp_path / "none")
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.sip2.port = 1  # type: ignore[misc]


# --- problem lines -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('[sip2]\nport = "abc"', 'sip2.port: expected an integer 1-65535, got "abc"'),
        ("[sip2]\nport = 0", "sip2.port: expected an integer 1-65535, got 0"),
        ("[sip2]\nport = true", "sip2.port: expected an integer 1-65535, got true"),
        ("[sip2]\nport = 6001.0", "sip2.port: expected an integer 1-65535, got 6001.0"),
        ("[sip2]\npool_size = 17", "sip2.pool_size: expected an integer 1-16, got 17"),
        ("[sip2]\ntimeout_seconds = 0", "sip2.timeout_seconds: expected a number > 0, got 0"),
        ("[sip2]\nheartbeat_seconds = nan", "sip2.heartbeat_seconds: expected a number > 0, got nan"),
        ('[sip2]\ntls = "yes"', 'sip2.tls: expected true or false, got "yes"'),
        (
            '[sip2]\nencoding = "utf8"',
            'sip2.encoding: expected one of "cp850", "latin-1", "utf-8", "ascii", got "utf8" (did you mean "utf-8"?)',
        ),
        (
            '[sip2]\ndialect = "sirsi"',
            'sip2.dialect: expected one of "generic", "koha", "evergreen", "folio", "alma", "sierra", '
            '"polaris", got "sirsi"',
        ),
        (
            '[sip2]\nterminator = "LF"',
            'sip2.terminator: expected one of "CR", "CRLF", got "LF" (did you mean "CRLF"?)',
        ),
        (
            '[site]\ninstitution_id = "a|b"',
            "site.institution_id: expected a non-empty string without |, CR or LF (it is sent inside a SIP2 "
            'field), got "a|b"',
        ),
        ('[site]\nname = "  "', 'site.name: expected a non-empty string, got "  "'),
        ("[site]\nname = [1, 2]", "site.name: expected a non-empty string, got an array"),
        (
            '[site]\ntimezone = "Mars/Olympus"',
            'site.timezone: expected an IANA time zone name such as "Europe/Berlin", got "Mars/Olympus"',
        ),
        (
            '[site]\nlanguage = "English"',
            'site.language: expected a language code such as "en" or "pt-BR", got "English"',
        ),
        (
            '[sip2]\ntls_ca_file = "/nonexistent/ca.pem"',
            'sip2.tls_ca_file: expected an absolute path to an existing file, got "/nonexistent/ca.pem"',
        ),
        ("[sip2]\nprot = 6001", 'sip2.prot: unknown key (did you mean "sip2.port"?)'),
        ("[sip2]\nPort = 6001", 'sip2.Port: unknown key (did you mean "sip2.port"?)'),
        ("[sip2]\nflux_capacitor = 1", "sip2.flux_capacitor: unknown key"),
        ("[sip]\nport = 6001", 'sip: unknown section (did you mean "sip2"?)'),
        ("[site]\nport = 6001", 'site.port: unknown key (did you mean "sip2.port" in [sip2]?)'),
        ("sip2 = 5", "sip2: expected a table [sip2], got 5"),
    ],
)
def test_each_bad_value_gives_one_line_naming_file_key_and_expectation(etc: Path, body: str, expected: str) -> None:
    path = write(etc / "kiosk.d" / "10-branch.toml", body + "\n")
    assert problems_of(etc) == [f"{path}: {expected}"]


def test_all_problems_are_collected_across_files_in_layer_order(etc: Path) -> None:
    main = write(etc / "kiosk.toml", '[sip2]\nport = "abc"\nprot = 1\n[site]\nlanguage = 5\n')
    broken = write(etc / "kiosk.d" / "10-broken.toml", "[sip2\n")
    later = write(etc / "kiosk.d" / "20-later.toml", "[sip2]\nport = 6002\npool_size = 0\n")

    assert problems_of(etc) == [
        f'{main}: sip2.port: expected an integer 1-65535, got "abc"',
        f'{main}: sip2.prot: unknown key (did you mean "sip2.port"?)',
        f'{main}: site.language: expected a language code such as "en" or "pt-BR", got 5',
        f"{broken}: line 1, column 6: TOML syntax error: expected ']' at the end of a table declaration",
        f"{later}: sip2.pool_size: expected an integer 1-16, got 0",
    ]


def test_toml_syntax_errors_name_file_and_line(etc: Path) -> None:
    bad = write(etc / "kiosk.toml", '[site]\nname = "Library"\n\n[sip2]\nport = = 1\n')
    assert problems_of(etc) == [f"{bad}: line 5, column 8: TOML syntax error: invalid value"]


def test_unterminated_string_names_its_line(etc: Path) -> None:
    bad = write(etc / "kiosk.toml", '[site]\nname = "Library\n')
    assert problems_of(etc) == [f"{bad}: line 2, column 16: TOML syntax error: illegal character '\\n'"]


def test_error_at_end_of_file_names_the_last_line(etc: Path) -> None:
    bad = write(etc / "kiosk.toml", '[site]\n\nname = "Library')
    assert problems_of(etc) == [f"{bad}: line 3 (end of file): TOML syntax error: unterminated string"]


def test_invalid_utf8_names_line(etc: Path) -> None:
    bad = etc / "kiosk.toml"
    bad.write_bytes(b'[site]\nname = "Biblioth\xe8que"\n')
    assert problems_of(etc) == [f"{bad}: line 2, column 17: not valid UTF-8"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"a = " + b"[" * 5000, "arrays or inline tables nested too deeply"),
        (b"a = 1" + b"0" * 5000, "an integer with too many digits"),
    ],
)
def test_inputs_tomllib_chokes_on_still_give_a_problem_line(etc: Path, body: bytes, reason: str) -> None:
    bad = etc / "kiosk.toml"
    bad.write_bytes(body)
    assert problems_of(etc) == [f"{bad}: TOML syntax error: {reason}"]


def test_a_bad_value_is_reported_even_when_a_later_layer_overrides_it(etc: Path) -> None:
    main = write(etc / "kiosk.toml", '[sip2]\nport = "six thousand"\n')
    write(etc / "kiosk.d" / "10-fix.toml", "[sip2]\nport = 6001\n")
    assert problems_of(etc) == [f'{main}: sip2.port: expected an integer 1-65535, got "six thousand"']


def test_unreadable_files_are_problem_lines(etc: Path) -> None:
    (etc / "kiosk.toml").mkdir()  # root reads any mode, so use a file that cannot be read at all
    dangling = etc / "kiosk.d" / "10-gone.toml"
    dangling.symlink_to(etc / "nowhere.toml")
    assert problems_of(etc) == [
        f"{etc / 'kiosk.toml'}: cannot read: Is a directory",
        f"{dangling}: cannot read: No such file or directory",
    ]


def test_missing_required_key_names_the_main_file() -> None:
    defaults = Layer("/pkg/defaults.toml", b'[sip2]\nhost = "ils"\ntls = true\n', kind="defaults")
    with pytest.raises(ConfigError) as caught:
        parse_layers([defaults], main_hint="/etc/kiosk/kiosk.toml")
    assert caught.value.problems == [
        "/etc/kiosk/kiosk.toml: site.name: required, but no layer sets it",
        "/etc/kiosk/kiosk.toml: site.institution_id: required, but no layer sets it",
    ]


def test_a_refused_required_value_is_reported_once() -> None:
    defaults = Layer("/pkg/defaults.toml", b'[site]\ninstitution_id = "x"\n[sip2]\nhost = "ils"\n', kind="defaults")
    site = Layer("/etc/kiosk/kiosk.toml", b"[site]\nname = 42\n")
    with pytest.raises(ConfigError) as caught:
        parse_layers([defaults, site])
    assert caught.value.problems == ["/etc/kiosk/kiosk.toml: site.name: expected a non-empty string, got 42"]


def test_quoted_keys_with_line_breaks_stay_on_one_line(etc: Path) -> None:
    path = write(etc / "kiosk.toml", '[sip2]\n"po\\nrt" = 1\n')
    assert problems_of(etc) == [f'{path}: sip2."po\\nrt": unknown key (did you mean "sip2.port"?)']


# --- rules across keys -------------------------------------------------------------------------------


def test_tls_off_without_explicit_plain_tcp_names_both_keys(etc: Path) -> None:
    path = write(etc / "kiosk.toml", "[sip2]\nallow_plain_tcp = false\n")
    assert problems_of(etc) == [
        f"{DEFAULTS}: sip2.tls: expected true unless sip2.allow_plain_tcp = true (plain TCP sends the SIP2 "
        "password and patron data unencrypted), got false"
    ]
    write(path, "[sip2]\nallow_plain_tcp = false\ntls = true\n")
    assert load_config(etc, environ={}).settings.sip2.tls is True


def test_remote_ils_over_plain_tcp_needs_the_sites_own_permission(etc: Path) -> None:
    main = write(etc / "kiosk.toml", '[sip2]\nhost = "ils.example.org"\n')
    assert problems_of(etc) == [
        f"{main}: sip2.host: expected a loopback address while only the package defaults allow plain TCP, "
        'got "ils.example.org": set sip2.tls = true, or set sip2.allow_plain_tcp = true in your own '
        "kiosk.toml or kiosk.d file"
    ]
    write(etc / "kiosk.d" / "10-branch.toml", "[sip2]\nallow_plain_tcp = true\n")
    assert load_config(etc, environ={}).settings.sip2.host == "ils.example.org"


def test_remote_ils_with_tls_is_fine(etc: Path) -> None:
    write(etc / "kiosk.toml", '[sip2]\nhost = "ils.example.org"\ntls = true\nallow_plain_tcp = false\n')
    assert load_config(etc, environ={}).settings.sip2.tls is True


def test_client_certificate_needs_its_key(etc: Path) -> None:
    cert = write(etc / "kiosk-cert.pem", "-----BEGIN CERTIFICATE-----\n")
    main = write(etc / "kiosk.toml", f'[sip2]\ntls = true\ntls_cert_file = "{cert}"\n')
    assert problems_of(etc) == [
        f"{main}: sip2.tls_cert_file: expected sip2.tls_cert_file and sip2.tls_key_file together "
        "(a client certificate needs its key), got only sip2.tls_cert_file"
    ]


def test_sip2_text_must_fit_the_sip2_encoding(etc: Path) -> None:
    main = write(etc / "kiosk.toml", '[sip2]\nencoding = "ascii"\nlocation = "Zweigstelle Süd"\n')
    assert problems_of(etc) == [
        f'{main}: sip2.location: expected text that ascii (sip2.encoding) can encode, got "Zweigstelle Süd"'
    ]


# --- secrets -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_secrets_file_readable_by_others_is_refused_with_the_fix(etc: Path, mode: int) -> None:
    secrets = write(etc / "secrets.toml", f'[sip2]\npassword = "{SECRET}"\n', mode=mode)
    assert problems_of(etc) == [
        f"{secrets}: mode {mode:04o} lets group or others read this secrets file; refusing it: run chmod 600 {secrets}"
    ]


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_secrets_file_readable_only_by_owner_is_used(etc: Path, mode: int) -> None:
    write(etc / "secrets.toml", f'[sip2]\npassword = "{SECRET}"\n', mode=mode)
    assert load_config(etc, environ={}).settings.sip2.password == SECRET


def test_explicit_secrets_path_is_honoured(etc: Path, tmp_path: Path) -> None:
    write(etc / "secrets.toml", '[sip2]\npassword = "from-etc"\n', mode=0o600)
    elsewhere = write(tmp_path / "other.toml", f'[sip2]\npassword = "{SECRET}"\n', mode=0o600)
    loaded = load_config(etc, elsewhere, environ={})
    assert loaded.settings.sip2.password == SECRET
    assert loaded.layers[-1] == str(elsewhere)


def test_systemd_credential_replaces_the_etc_secrets_file(etc: Path, tmp_path: Path) -> None:
    # Under LoadCredential= the /etc copy is root's and unreadable to the service: it must be ignored,
    # so here it is even given a mode that would otherwise be refused.
    write(etc / "secrets.toml", '[sip2]\npassword = "from-etc"\n', mode=0o644)
    credential = write(tmp_path / "creds" / "secrets.toml", f'[sip2]\npassword = "{SECRET}"\n', mode=0o400)
    loaded = load_config(etc, environ={"CREDENTIALS_DIRECTORY": str(credential.parent)})
    assert loaded.settings.sip2.password == SECRET
    assert loaded.origins["sip2.password"] == str(credential)


def test_credentials_directory_without_our_file_falls_back_to_etc(etc: Path, tmp_path: Path) -> None:
    (tmp_path / "creds").mkdir()
    write(etc / "secrets.toml", f'[sip2]\npassword = "{SECRET}"\n', mode=0o600)
    loaded = load_config(etc, environ={"CREDENTIALS_DIRECTORY": str(tmp_path / "creds")})
    assert loaded.settings.sip2.password == SECRET


def test_secret_in_world_readable_layer_is_a_warning_not_an_error(etc: Path) -> None:
    main = write(etc / "kiosk.toml", f'[sip2]\npassword = "{SECRET}"\n', mode=0o644)
    loaded = load_config(etc, environ={})
    assert loaded.settings.sip2.password == SECRET
    assert loaded.warnings == (
        f"{main}: sip2.password: secret in a world-readable file; move it to {etc / 'secrets.toml'} (chmod 600)",
        *NO_STAFF_PIN,
    )
    main.chmod(0o640)
    assert load_config(etc, environ={}).warnings == NO_STAFF_PIN


def test_load_settings_raises_config_error_with_problems(etc: Path) -> None:
    main = write(etc / "kiosk.toml", "[sip2]\npool_size = 0\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(etc)
    assert caught.value.problems == [f"{main}: sip2.pool_size: expected an integer 1-16, got 0"]
    assert str(caught.value) == caught.value.problems[0]


def test_load_settings_logs_warnings(etc: Path, caplog: pytest.LogCaptureFixture) -> None:
    write(etc / "kiosk.toml", f'[sip2]\npassword = "{SECRET}"\n', mode=0o644)
    with caplog.at_level(logging.WARNING, logger="kiosk.config"):
        assert load_settings(etc).sip2.password == SECRET
    assert [r.getMessage().split(": ")[1] for r in caplog.records] == ["sip2.password", "staff.pin_hash"]
    assert SECRET not in caplog.text


def test_bad_secret_value_is_described_without_showing_it(etc: Path) -> None:
    secrets = write(etc / "secrets.toml", f'[sip2]\npassword = "{SECRET}|x"\n', mode=0o600)
    problems = problems_of(etc)
    assert problems == [
        f"{secrets}: sip2.password: expected a string without |, CR or LF (it is sent inside a SIP2 field), "
        "got a string"
    ]


# --- kiosk config check ------------------------------------------------------------------------------


def test_check_ok_prints_layers_and_exits_0(etc: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main = write(etc / "kiosk.toml", '[site]\nname = "Stadtbibliothek"\n')
    assert run_config_check(check(etc)) == 0
    out, err = capsys.readouterr()
    assert out == f"config OK (2 layers: {DEFAULTS}, {main})\n"
    assert err == "".join(f"warning: {w}\n" for w in NO_STAFF_PIN)


def test_check_problems_go_to_stderr_and_exit_1(etc: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main = write(etc / "kiosk.toml", '[sip2]\nport = "abc"\nprot = 1\n')
    assert run_config_check(check(etc)) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        *(f"warning: {w}" for w in NO_STAFF_PIN),
        f'{main}: sip2.port: expected an integer 1-65535, got "abc"',
        f'{main}: sip2.prot: unknown key (did you mean "sip2.port"?)',
        "config NOT OK: 2 problems",
    ]


def test_show_masks_secrets_everywhere_and_names_each_keys_layer(etc: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main = write(etc / "kiosk.toml", f'[sip2]\nport = 7000\npassword = "{SECRET}"\n')  # warns
    secrets = write(etc / "secrets.toml", f'[sip2]\npassword = "{SECRET}"\n', mode=0o600)

    assert run_config_check(check(etc, "show")) == 0

    out, err = capsys.readouterr()
    assert SECRET not in out and SECRET not in err
    assert f'password = "{MASK}"  # from {secrets}' in out.splitlines()
    assert f"port = 7000  # from {main}" in out.splitlines()
    assert f'host = "127.0.0.1"  # from {DEFAULTS}' in out.splitlines()
    assert 'encoding = "cp850"  # built-in default' in out.splitlines()
    assert "# timezone is not set (built-in default)" in out.splitlines()
    assert err.startswith(f"warning: {main}: sip2.password: secret in a world-readable file")


def test_show_output_is_toml_that_reads_back_as_the_settings(etc: Path) -> None:
    write(etc / "kiosk.toml", '[site]\nname = "Bücherei \\"Am Markt\\"\\t1\\u007f"\ntimezone = "Europe/Berlin"\n')
    write(etc / "secrets.toml", f'[sip2]\npassword = "{SECRET}"\n', mode=0o600)
    loaded = load_config(etc, environ={})
    shown = tomllib.loads(render(loaded))
    s = loaded.settings
    expected = {
        section: {
            f.name: getattr(getattr(s, section), f.name)
            for f in dataclasses.fields(getattr(s, section))
            if getattr(getattr(s, section), f.name) is not None
        }
        for section in (f.name for f in dataclasses.fields(s))
    }
    expected["sip2"]["password"] = MASK
    for section in expected.values():  # TOML has arrays where the settings keep tuples
        for key, value in section.items():
            if isinstance(value, tuple):
                section[key] = list(value)
    assert shown == expected


def test_problems_never_leak_the_secret(etc: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(etc / "secrets.toml", f'[sip2]\npassword = "{SECRET}"\nencoding = "ascii"\n', mode=0o600)
    write(etc / "kiosk.d" / "10-x.toml", f'[sip2]\npassword = "{SECRET}ü"\n', mode=0o600)
    write(etc / "kiosk.d" / "20-x.toml", f"[sip2]\npassword = {len(SECRET)}\n", mode=0o600)
    assert run_config_check(check(etc, "show")) == 1
    out, err = capsys.readouterr()
    assert "sip2.password: expected a string without" in err  # the integer was refused
    assert SECRET not in out + err


def test_cli_main_wires_config_check(etc: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from kiosk.cli import main

    assert main(["config", "check", "--config-dir", str(etc)]) == 0
    assert capsys.readouterr().out.startswith("config OK (1 layer: ")
    write(etc / "kiosk.toml", "[sip2]\npool_size = 99\n")
    assert main(["config", "check", "--config-dir", str(etc), "--show"]) == 1
    assert "sip2.pool_size: expected an integer 1-16, got 99" in capsys.readouterr().err


# --- kiosk config get --------------------------------------------------------------------------------


def test_get_prints_the_value_every_layer_left(etc: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from kiosk.cli import main

    digest = "ab" * 32
    write(etc / "kiosk.toml", f'[central_config]\nurl = "https://config.example.org/a.json"\ndigest = "{digest}"\n')
    write(etc / "kiosk.d" / "90-local.toml", '[central_config]\nurl = "https://config.example.org/b.json"\n')
    assert main(["config", "get", "central_config.url", "--config-dir", str(etc)]) == 0
    assert capsys.readouterr().out == "https://config.example.org/b.json\n"
    assert main(["config", "get", "sip2.port", "--config-dir", str(etc)]) == 0
    assert capsys.readouterr().out == "6001\n"


def test_get_refuses_secrets_and_unknown_keys(etc: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from kiosk.cli import main

    write(etc / "secrets.toml", f'[sip2]\npassword = "{SECRET}"\n', mode=0o600)
    assert main(["config", "get", "sip2.password", "--config-dir", str(etc)]) == 2
    out, err = capsys.readouterr()
    assert SECRET not in out + err and err == "sip2.password: a secret; not printed\n"
    assert main(["config", "get", "sip2.prot", "--config-dir", str(etc)]) == 2
    assert capsys.readouterr().err == 'sip2.prot: no such setting (did you mean "sip2.port"?)\n'


def test_get_on_a_broken_configuration_names_the_problem(etc: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from kiosk.cli import main

    main_file = write(etc / "kiosk.toml", "[sip2]\npool_size = 99\n")
    assert main(["config", "get", "sip2.port", "--config-dir", str(etc)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and f"{main_file}: sip2.pool_size: expected an integer 1-16, got 99" in err


# --- hash --------------------------------------------------------------------------------------------


def test_config_hash_ignores_spelling_and_secrets_but_not_values(etc: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    write(etc / "kiosk.toml", "[sip2]\nport = 7000\ntimeout_seconds = 10\n")
    write(other / "kiosk.d" / "10-x.toml", "[sip2]\ntimeout_seconds = 10.0\n")
    write(other / "kiosk.d" / "20-x.toml", "[sip2]\nport = 7000\n")
    write(other / "secrets.toml", f'[sip2]\npassword = "{SECRET}"\n', mode=0o600)
    a = config_hash(load_settings(etc))
    b = config_hash(load_settings(other))
    assert a == b
    assert re.fullmatch(r"[0-9a-f]{64}", a)
    write(etc / "kiosk.toml", "[sip2]\nport = 7001\n")
    assert config_hash(load_settings(etc)) != a


# --- the shipped defaults file is IT's documentation: keep it honest ---------------------------------

_COMMENTED = re.compile(r"^# (?P<key>[a-z_]+) = (?P<value>.+)$")


def test_defaults_file_documents_every_key_and_its_commented_values_are_the_real_defaults() -> None:
    text = defaults_layer().data.decode("utf-8")
    set_in_file = {f"{table}.{key}" for table, keys in tomllib.loads(text).items() for key in keys}
    commented: dict[str, object] = {}
    table = None
    for line in text.splitlines():
        if line.startswith("[") and line.endswith("]"):
            table = line[1:-1]
        elif table and (match := _COMMENTED.match(line)):
            commented[f"{table}.{match['key']}"] = tomllib.loads(f"v = {match['value']}")["v"]
    keys = schema_keys()
    assert set(keys) == set_in_file | set(commented)
    for dotted, value in commented.items():
        field = keys[dotted]
        default = field.default_factory() if field.default_factory is not dataclasses.MISSING else field.default
        assert dotted not in set_in_file
        if isinstance(default, tuple):  # TOML has arrays, the settings keep tuples
            default = list(default)
        assert default is None or value == default, f"{dotted}: file says {value!r}, code says {default!r}"


def test_keys_that_sound_secret_are_declared_secret() -> None:
    sounds_secret = {k for k in schema_keys() if re.search(r"(password|secret|token|key_pass)$|\.pin(_hash)?$", k)}
    assert "sip2.password" in sounds_secret
    assert sounds_secret <= config.SECRET_KEYS


# --- fuzzing -----------------------------------------------------------------------------------------

_FRAGMENTS = st.sampled_from(
    [
        "[site]",
        "[sip2]",
        "[sip",
        "[[sip2]]",
        "port",
        "host",
        "tls",
        "name",
        "password",
        "pool_size",
        "encoding",
        "allow_plain_tcp",
        " = ",
        "=",
        '"',
        "'",
        '"""',
        "\n",
        "\r\n",
        "#",
        "true",
        "false",
        "6001",
        "-1",
        "1e3",
        "nan",
        "inf",
        "0x1F",
        "[",
        "]",
        "{",
        "}",
        ",",
        ".",
        "1979-05-27",
        "\\u00e9",
        "\\",
        "ü",
        "\x00",
        "\t",
        '"cp850"',
        '"127.0.0.1"',
    ]
)


def _toml_scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value != value:
        return "nan"
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_scalar(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    return repr(value)


_KEYS = st.one_of(st.sampled_from(sorted({k.split(".")[1] for k in schema_keys()})), st.text(max_size=8))
_VALUES = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(["cp850", "utf-8", "CRLF", "koha", "127.0.0.1", "Europe/Berlin", "en"]),
    st.lists(st.integers(), max_size=3),
)
_STRUCTURED = st.dictionaries(
    st.sampled_from(["site", "sip2", "sip", "Site"]), st.dictionaries(_KEYS, _VALUES, max_size=5), max_size=3
).map(
    lambda tables: "".join(
        f"[{name}]\n" + "".join(f"{_toml_scalar(k)} = {_toml_scalar(v)}\n" for k, v in keys.items())
        for name, keys in tables.items()
    ).encode()
)
_TOMLISH = st.one_of(
    _STRUCTURED,
    st.lists(st.one_of(_FRAGMENTS, st.text(max_size=4)), max_size=30).map(lambda p: "".join(p).encode()),
    st.binary(max_size=200),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=_TOMLISH)
def test_garbage_in_a_layer_gives_config_error_or_valid_settings_never_another_exception(data: bytes) -> None:
    layer = Layer("/etc/kiosk/kiosk.d/10-fuzz.toml", data, world_readable=False)
    try:
        loaded = parse_layers([defaults_layer(), layer])
    except ConfigError as error:
        assert error.problems
        for problem in error.problems:
            assert "\n" not in problem and "\r" not in problem
            assert problem.startswith((layer.label + ":", DEFAULTS + ":"))
    else:  # accepted: then it really was TOML, and only with keys we know
        table = tomllib.loads(data.decode("utf-8"))
        assert all(k in ("site", "sip2") for k in table)
        assert loaded.settings.sip2.port == table.get("sip2", {}).get("port", 6001)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=_TOMLISH, as_secrets=st.booleans())
def test_garbage_files_on_disk_give_config_error(tmp_path: Path, data: bytes, as_secrets: bool) -> None:
    directory = tmp_path / "fuzz"
    directory.mkdir(exist_ok=True)
    path = directory / ("secrets.toml" if as_secrets else "kiosk.toml")
    for old in directory.iterdir():
        old.unlink()
    path.write_bytes(data)
    path.chmod(0o600)
    try:
        load_config(directory, environ={})
    except ConfigError as error:
        assert error.problems
        assert all(p.startswith((f"{path}:", f"{DEFAULTS}:")) for p in error.problems)
    else:
        assert isinstance(tomllib.loads(data.decode("utf-8")), dict)
