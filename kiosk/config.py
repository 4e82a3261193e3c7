"""Layered TOML configuration turned into validated, typed, frozen settings.

Why layers: the package ships defaults that run the local demo; IT's fleet file, per-branch drop-ins
and a secrets file each override the one before, so every site states only its differences and the
secrets live in the one file that is locked down. Why strict: a kiosk that starts with a typo'd key
silently ignored fails later in front of a patron, so every file is checked at start and every problem
is reported at once, one line each, naming the file that set the value.

The schema is the settings dataclasses themselves: each field carries a :class:`Check` (what a valid
value is, said in words for the error line), a doc string and a secret flag in its metadata. A later
issue adds a section by writing a dataclass of ``setting(...)`` fields, adding it to :class:`Settings`,
and, when values depend on each other, appending a function to ``CROSS_CHECKS``.

Parsing is a pure core (:func:`parse_layers`: bytes in, settings or problems out) under a thin shell
(:func:`read_layers`) that finds the files, reads them and checks the secrets file's mode.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import functools
import hashlib
import importlib.resources
import ipaddress
import json
import logging
import os
import re
import stat
import sys
import tomllib
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.config_schema import (
    Check,
    absolute_path,
    boolean,
    existing_file,
    integer,
    language_tag,
    non_negative_number,
    one_of,
    positive_number,
    setting,
    sip2_text,
    some_of,
    string_map,
    text,
    timezone,
)

# Device sections live next to their devices; they import only kiosk.config_schema, so no cycle.
from kiosk.hardware.barcode.settings import ScannerSettings, check_scanner
from kiosk.hardware.gpio_settings import GpioSettings, check_gpio
from kiosk.hardware.mailer import SmtpSettings, check_smtp
from kiosk.hardware.printer.settings import PrinterSettings, check_printer
from kiosk.hardware.rfid.models import USAGE_NAMES
from kiosk.hardware.rfid.settings import RfidSettings, check_rfid
from kiosk.ops.settings import (
    AlertSettings,
    CentralConfigSettings,
    DoctorSettings,
    LoggingSettings,
    MetricsSettings,
    check_ops,
)
from kiosk.staff_pin import StaffSettings, staff_warnings
from kiosk.station_settings import StationSettings
from kiosk.ui.settings import UiSettings

log = logging.getLogger(__name__)

DEFAULT_CONFIG_DIR = Path("/etc/kiosk")
MAIN_FILE = "kiosk.toml"
DROPIN_DIR = "kiosk.d"
SECRETS_FILE = "secrets.toml"
MASK = "********"
BUILTIN = "built-in default"


class ConfigError(Exception):
    """The configuration cannot be used; ``problems`` holds one self-contained line per problem."""

    def __init__(self, problems: Sequence[str], warnings: Sequence[str] = ()) -> None:
        self.problems = list(problems)
        self.warnings = list(warnings)
        super().__init__("\n".join(self.problems))



# --------------------------------------------------------------------------------------------------
# The settings (schema and typed result in one)


@dataclass(frozen=True, kw_only=True)
class SiteSettings:
    """[site]: who this kiosk belongs to."""

    name: str = setting(check=text(nonempty=True), doc="library name shown to patrons")
    branch: str = setting("", check=text(), doc="branch name or code, shown to staff and in reports")
    institution_id: str = setting(check=sip2_text(nonempty=True), doc="SIP2 institution id (field AO)")
    language: str = setting("en", check=language_tag(), doc="language the screens start in")
    timezone: str | None = setting(None, check=timezone(), doc="IANA zone for due dates; unset: system zone")


SIP2_ENCODINGS = ("cp850", "latin-1", "utf-8", "ascii")
SIP2_DIALECTS = ("generic", "koha", "evergreen", "folio", "alma", "sierra", "polaris")


@dataclass(frozen=True, kw_only=True)
class Sip2Settings:
    """[sip2]: how to reach the ILS."""

    host: str = setting(check=text(nonempty=True), doc="ILS SIP2 server host name or address")
    port: int = setting(6001, check=integer(1, 65535), doc="ILS SIP2 server TCP port")
    tls: bool = setting(True, check=boolean(), doc="wrap the connection in TLS")
    tls_ca_file: str | None = setting(None, check=existing_file(), doc="CA bundle; unset: system CAs")
    tls_cert_file: str | None = setting(None, check=existing_file(), doc="client certificate (PEM)")
    tls_key_file: str | None = setting(None, check=existing_file(), doc="client private key (PEM)")
    tls_verify: bool = setting(True, check=boolean(), doc="verify the server certificate and host name")
    allow_plain_tcp: bool = setting(False, check=boolean(), doc="permit tls = false")
    username: str = setting("", check=sip2_text(), doc="SIP2 login user (CN); empty: no login message")
    password: str = setting("", check=sip2_text(), doc="SIP2 login password (CO)", secret=True)
    location: str = setting("", check=sip2_text(), doc="SIP2 location code (CP)")
    encoding: str = setting("cp850", check=one_of(*SIP2_ENCODINGS), doc="character set the ILS speaks")
    error_detection: bool = setting(True, check=boolean(), doc="send and check AY sequence / AZ checksum")
    terminator: str = setting("CR", check=one_of("CR", "CRLF"), doc="message terminator")
    blank_nb_due_date: bool = setting(True, check=boolean(), doc="send 18 blanks as an unused nb due date")
    dialect: str = setting("generic", check=one_of(*SIP2_DIALECTS), doc="ILS quirks to expect")
    timeout_seconds: float = setting(10.0, check=positive_number(), doc="wait for one response")
    heartbeat_seconds: float = setting(60.0, check=positive_number(), doc="SC status (99) interval")
    pool_size: int = setting(1, check=integer(1, 16), doc="SIP2 connections kept open")


@dataclass(frozen=True, kw_only=True)
class CirculationSettings:
    """[circulation]: what patrons may do at this kiosk, and how patiently it waits."""

    pin_required: bool = setting(True, check=boolean(), doc="ask for the patron's PIN after the card")
    pin_attempts: int = setting(3, check=integer(1, 10), doc="wrong PINs before the card is refused here")
    incomplete_sets: str = setting(
        "require_all", check=one_of("require_all", "allow_with_message", "refuse"),
        doc="a multi-part item with parts missing from the pad",
    )
    checkin_enabled: bool = setting(True, check=boolean(), doc="offer returns at this kiosk")
    security_attempts: int = setting(3, check=integer(1, 10), doc="tries to set a tag's security before help")
    inactivity_seconds: float = setting(60.0, check=positive_number(), doc="idle time before 'need more time?'")
    more_time_seconds: float = setting(20.0, check=positive_number(), doc="how long 'need more time?' waits")
    receipt: str = setting("ask", check=one_of("ask", "always", "never"), doc="receipt at the end of a session")
    email_receipts: bool = setting(False, check=boolean(), doc="offer e-mail receipts (needs [smtp])")


@dataclass(frozen=True, kw_only=True)
class ReturnsSettings:
    """[returns]: the unattended returns bin and how returned items are sorted."""

    hold_here_bin: str = setting("holds", check=text(nonempty=True), doc="bin for items on hold at this branch")
    hold_other_branch_bin: str = setting("transit", check=text(nonempty=True), doc="bin for holds elsewhere")
    transit_bin: str = setting("transit", check=text(nonempty=True), doc="bin for items going home")
    reshelve_bin: str = setting("reshelve", check=text(nonempty=True), doc="bin for items to reshelve")
    exceptions_bin: str = setting("exceptions", check=text(nonempty=True), doc="bin for items staff must see")
    sort_bins: dict[str, str] = setting(
        default_factory=dict, check=string_map(),
        doc="the ILS's sort bin (CL) -> bin name; wins over the alert type",
    )
    bin_capacity: int = setting(150, check=integer(1, 100000), doc="items a bin holds before intake stops")
    accept_not_on_loan: bool = setting(True, check=boolean(), doc="sort an item the ILS says was not on loan")
    slips: bool = setting(True, check=boolean(), doc="print hold and transit slips")


@dataclass(frozen=True, kw_only=True)
class JournalSettings:
    """[journal]: the transaction journal every circulation transaction is written to before the ILS
    is asked, and its replay by ``kiosk sync``."""

    path: str = setting(
        "/var/lib/kiosk/journal.sqlite", check=absolute_path(), doc="the journal's SQLite file (kiosk and sync)"
    )
    retention_days: int = setting(
        30, check=integer(0, 3650), doc="days a settled transaction keeps its patron id before it is masked"
    )
    busy_timeout_seconds: float = setting(5.0, check=positive_number(), doc="wait for the other process's write")
    replay_batch: int = setting(32, check=integer(1, 1000), doc="transactions marked in flight by one disk write")
    lost_answer_wait_seconds: float = setting(
        5.0, check=non_negative_number(), doc="pause before asking the ILS whether a lost request happened"
    )
    retry_min_seconds: float = setting(1.0, check=positive_number(), doc="first wait after the ILS is unreachable")
    retry_max_seconds: float = setting(60.0, check=positive_number(), doc="longest wait between reconnect attempts")
    poll_seconds: float = setting(2.0, check=positive_number(), doc="how often kiosk sync looks for new work")


def _regex() -> Check:
    def compiles(value: object) -> bool:
        if not isinstance(value, str) or value == "":
            return False
        try:
            re.compile(value)
        except re.error:
            return False
        return True

    return Check("a regular expression (Python syntax)", compiles)


def _days_map() -> Check:
    return Check(
        "a table of whole days 1-365 (type = 21)",
        lambda v: isinstance(v, dict) and all(
            isinstance(k, str) and isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 365
            for k, d in v.items()
        ),
    )


@dataclass(frozen=True, kw_only=True)
class OfflineSettings:
    """[offline]: what the kiosk does while the ILS cannot be reached (kiosk.ils.offline)."""

    mode: str = setting(
        "checkin", check=one_of("none", "checkin", "checkin_and_checkout"),
        doc="what patrons may do while the ILS is unreachable",
    )
    max_checkouts: int = setting(5, check=integer(0, 100), doc="offline checkouts per patron session")
    loan_days: int = setting(14, check=integer(1, 365), doc="offline due date: today + this many days")
    loan_days_by_type: dict[str, int] = setting(
        default_factory=dict, check=_days_map(), doc="item type -> loan days, when the type is known offline"
    )
    patron_pattern: str = setting(".+", check=_regex(), doc="a card accepted offline must match this fully")
    refuse_usage_types: tuple[str, ...] = setting(
        ("not_for_circulation", "discarded"), check=some_of("ISO 28560 types of usage", USAGE_NAMES),
        doc="an item whose tag states one of these types of usage is not lent offline",
    )
    probe_min_seconds: float = setting(1.0, check=positive_number(), doc="first wait before asking the ILS again")
    probe_max_seconds: float = setting(60.0, check=positive_number(), doc="longest wait between probes")
    idle_probe_seconds: float = setting(
        30.0, check=non_negative_number(), doc="while online and idle, ask the ILS how it is this often (0: never)"
    )


@dataclass(frozen=True, kw_only=True)
class Settings:
    """The whole configuration: one attribute per TOML table."""

    site: SiteSettings
    sip2: Sip2Settings
    circulation: CirculationSettings = dataclasses.field(default_factory=lambda: CirculationSettings())
    returns: ReturnsSettings = dataclasses.field(default_factory=lambda: ReturnsSettings())
    journal: JournalSettings = dataclasses.field(default_factory=lambda: JournalSettings())
    offline: OfflineSettings = dataclasses.field(default_factory=lambda: OfflineSettings())
    printer: PrinterSettings = dataclasses.field(default_factory=lambda: PrinterSettings())
    smtp: SmtpSettings = dataclasses.field(default_factory=lambda: SmtpSettings())
    gpio: GpioSettings = dataclasses.field(default_factory=lambda: GpioSettings())
    rfid: RfidSettings = dataclasses.field(default_factory=lambda: RfidSettings())
    scanner: ScannerSettings = dataclasses.field(default_factory=lambda: ScannerSettings())
    station: StationSettings = dataclasses.field(default_factory=lambda: StationSettings())
    ui: UiSettings = dataclasses.field(default_factory=lambda: UiSettings())
    staff: StaffSettings = dataclasses.field(default_factory=lambda: StaffSettings())
    logging: LoggingSettings = dataclasses.field(default_factory=lambda: LoggingSettings())
    metrics: MetricsSettings = dataclasses.field(default_factory=lambda: MetricsSettings())
    alerts: AlertSettings = dataclasses.field(default_factory=lambda: AlertSettings())
    central_config: CentralConfigSettings = dataclasses.field(default_factory=lambda: CentralConfigSettings())
    doctor: DoctorSettings = dataclasses.field(default_factory=lambda: DoctorSettings())


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    # Cached: resolving the string annotations is ~80 % of a parse otherwise, and a class's hints never change.
    return typing.get_type_hints(cls)


def _subsection(cls: type, field: dataclasses.Field[Any]) -> type | None:
    """The dataclass a field holds when the field is a table of its own, else None."""
    if "check" in field.metadata:
        return None
    hinted = _hints(cls)[field.name]
    return hinted if dataclasses.is_dataclass(hinted) else None


def schema_keys(cls: type = Settings, prefix: str = "") -> dict[str, dataclasses.Field[Any]]:
    """Every configuration key as ``dotted.name -> field``, in declaration order."""
    keys: dict[str, dataclasses.Field[Any]] = {}
    for field in dataclasses.fields(cls):
        sub = _subsection(cls, field)
        if sub is not None:
            keys.update(schema_keys(sub, f"{prefix}{field.name}."))
        else:
            keys[f"{prefix}{field.name}"] = field
    return keys


SECRET_KEYS = frozenset(k for k, f in schema_keys().items() if f.metadata["secret"])


# --------------------------------------------------------------------------------------------------
# Layers: the pure core


@dataclass(frozen=True)
class Layer:
    """One TOML file's bytes, labelled by the path shown in messages."""

    label: str
    data: bytes
    kind: str = "config"  # "defaults" (shipped in the package), "config" or "secrets"
    world_readable: bool = True
    problem: str | None = None  # why the file could not be used (unreadable, unsafe mode)


@dataclass(frozen=True)
class LoadedConfig:
    settings: Settings
    layers: tuple[str, ...]  # labels of the layers read, lowest precedence first
    origins: Mapping[str, str]  # dotted key -> label of the layer that set it (absent: built-in default)
    warnings: tuple[str, ...]


def _show(value: object, *, secret: bool = False) -> str:
    """A value as it would be written in TOML, for "got ..."; a secret only by its kind."""
    if secret or isinstance(value, dict | list):
        kinds = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", dict: "a table"}
        return kinds.get(type(value), "an array" if isinstance(value, list) else "a date/time")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = json.dumps(value if len(value) <= 60 else value[:57] + "...", ensure_ascii=False)
        return shown
    if isinstance(value, int) and abs(value) > 10**30:
        return "a very large integer"
    return str(value)


def _did_you_mean(word: str, candidates: Sequence[str], prefix: str) -> str:
    lowered = {c.lower(): c for c in candidates}
    close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return f' (did you mean "{prefix}{lowered[close[0]]}"?)' if close else ""


def _elsewhere(key: str, dotted_here: str) -> str:
    """Hint for a known key written under the wrong table."""
    homes = [k for k in schema_keys() if k.rsplit(".", 1)[-1] == key and k != dotted_here]
    if not homes:
        return ""
    table = homes[0].rsplit(".", 1)[0]
    return f' (did you mean "{homes[0]}" in [{table}]?)'


_TOML_POSITION = re.compile(r"^(?P<reason>.*) \(at (?:line (?P<line>\d+), column (?P<col>\d+)|end of document)\)$")


def _parse_toml(layer: Layer) -> tuple[dict[str, Any] | None, str | None]:
    """The layer's table, or the one problem line that says why it has none."""
    try:
        text_ = layer.data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = layer.data.count(b"\n", 0, error.start) + 1
        column = error.start - layer.data.rfind(b"\n", 0, error.start)
        return None, f"{layer.label}: line {line}, column {column}: not valid UTF-8"
    try:
        return tomllib.loads(text_), None
    except tomllib.TOMLDecodeError as error:
        match = _TOML_POSITION.match(str(error))
        if match is None:
            return None, f"{layer.label}: TOML syntax error: {error}"
        if match["line"] is None:
            where = f"line {text_.count(chr(10)) + 1} (end of file)"
        else:
            where = f"line {match['line']}, column {match['col']}"
        return None, f"{layer.label}: {where}: TOML syntax error: {match['reason'].lower()}"
    except RecursionError:
        return None, f"{layer.label}: TOML syntax error: arrays or inline tables nested too deeply"
    except ValueError as error:  # tomllib lets int() refuse numbers past Python's digit limit through
        reason = "an integer with too many digits" if "digits" in str(error) else str(error)
        return None, f"{layer.label}: TOML syntax error: {reason}"


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


@dataclass
class _Merge:
    """What the layers add up to so far, and what was wrong with them."""

    secrets_hint: str
    values: dict[str, Any] = dataclasses.field(default_factory=dict)
    origins: dict[str, Layer] = dataclasses.field(default_factory=dict)
    rejected: set[str] = dataclasses.field(default_factory=set)  # keys some layer gave a bad value
    problems: list[str] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)

    def add(self, layer: Layer, cls: type, table: Mapping[str, Any], prefix: str = "") -> None:
        """Check one layer's table against one schema section, recording the values it sets."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        for key, value in table.items():
            # Quoted TOML keys may hold anything, line breaks included: keep each problem one line.
            dotted = prefix + (key if _BARE_KEY.fullmatch(key) else json.dumps(key[:60]))
            field = fields.get(key)
            if field is None:
                kind = "section" if isinstance(value, dict) else "key"
                hint = _did_you_mean(key, list(fields), prefix) or _elsewhere(key, dotted)
                self.problems.append(f"{layer.label}: {dotted}: unknown {kind}{hint}")
                continue
            sub = _subsection(cls, field)
            if sub is not None:
                if isinstance(value, dict):
                    self.add(layer, sub, value, f"{dotted}.")
                else:
                    got = _show(value)
                    self.problems.append(f"{layer.label}: {dotted}: expected a table [{dotted}], got {got}")
                continue
            self._add_value(layer, field, dotted, value)

    def _add_value(self, layer: Layer, field: dataclasses.Field[Any], dotted: str, value: Any) -> None:
        check: Check = field.metadata["check"]
        secret: bool = field.metadata["secret"]
        if not check.accepts(value):
            hint = ""
            if check.choices and isinstance(value, str) and not secret:
                hint = _did_you_mean(value, check.choices, "")
            got = _show(value, secret=secret)
            self.problems.append(f"{layer.label}: {dotted}: expected {check.expected}, got {got}{hint}")
            self.rejected.add(dotted)
            return
        if secret and value and layer.kind != "secrets" and layer.world_readable:
            self.warnings.append(
                f"{layer.label}: {dotted}: secret in a world-readable file; move it to {self.secrets_hint} (chmod 600)"
            )
        self.values[dotted] = check.convert(value)
        self.origins[dotted] = layer


def _build(cls: type, prefix: str, values: Mapping[str, Any], missing: list[str]) -> Any:
    kwargs: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        dotted = f"{prefix}{field.name}"
        sub = _subsection(cls, field)
        if sub is not None:
            kwargs[field.name] = _build(sub, f"{dotted}.", values, missing)
        elif dotted in values:
            kwargs[field.name] = values[dotted]
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            missing.append(dotted)
    return None if missing else cls(**kwargs)


@dataclass(frozen=True)
class Provenance:
    """Which layer set each key, for cross-key problem lines that must name a file."""

    labels: Mapping[str, str]
    kinds: Mapping[str, str]

    def label(self, dotted: str) -> str:
        return self.labels.get(dotted, BUILTIN)

    def kind(self, dotted: str) -> str:
        return self.kinds.get(dotted, "builtin")


# Checks between keys: each gets the settings and their provenance and yields problem lines.
# Later sections append theirs.
CrossCheck = Callable[[Settings, Provenance], Iterator[str]]


def _is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_sip2_transport(settings: Settings, origin: Provenance) -> Iterator[str]:
    sip2 = settings.sip2
    if sip2.tls:
        if (sip2.tls_cert_file is None) != (sip2.tls_key_file is None):
            given = "sip2.tls_cert_file" if sip2.tls_cert_file else "sip2.tls_key_file"
            yield (
                f"{origin.label(given)}: {given}: expected sip2.tls_cert_file and sip2.tls_key_file together "
                f"(a client certificate needs its key), got only {given}"
            )
        return
    if not sip2.allow_plain_tcp:
        yield (
            f"{origin.label('sip2.tls')}: sip2.tls: expected true unless sip2.allow_plain_tcp = true "
            f"(plain TCP sends the SIP2 password and patron data unencrypted), got false"
        )
    elif not _is_loopback(sip2.host) and origin.kind("sip2.allow_plain_tcp") == "defaults":
        yield (
            f"{origin.label('sip2.host')}: sip2.host: expected a loopback address while only the package "
            f"defaults allow plain TCP, got {_show(sip2.host)}: set sip2.tls = true, or set "
            f"sip2.allow_plain_tcp = true in your own {MAIN_FILE} or {DROPIN_DIR} file"
        )


def _check_sip2_encodable(settings: Settings, origin: Provenance) -> Iterator[str]:
    encoding = settings.sip2.encoding
    for dotted in ("site.institution_id", "sip2.username", "sip2.password", "sip2.location"):
        section, key = dotted.split(".")
        value = getattr(getattr(settings, section), key)
        try:
            value.encode(encoding)
        except UnicodeEncodeError:
            shown = _show(value, secret=dotted in SECRET_KEYS)
            yield (
                f"{origin.label(dotted)}: {dotted}: "
                f"expected text that {encoding} (sip2.encoding) can encode, got {shown}"
            )


def _check_offline_probe(settings: Settings, origin: Provenance) -> Iterator[str]:
    offline = settings.offline
    if offline.probe_min_seconds > offline.probe_max_seconds:
        yield (
            f"{origin.label('offline.probe_min_seconds')}: offline.probe_min_seconds: expected at most "
            f"offline.probe_max_seconds ({offline.probe_max_seconds:g}), got {offline.probe_min_seconds:g}"
        )


def _check_journal_retry(settings: Settings, origin: Provenance) -> Iterator[str]:
    journal = settings.journal
    if journal.retry_min_seconds > journal.retry_max_seconds:
        yield (
            f"{origin.label('journal.retry_min_seconds')}: journal.retry_min_seconds: expected at most "
            f"journal.retry_max_seconds ({journal.retry_max_seconds:g}), got {journal.retry_min_seconds:g}"
        )


CROSS_CHECKS: list[CrossCheck] = [
    _check_sip2_transport,
    _check_sip2_encodable,
    _check_journal_retry,
    _check_offline_probe,
    check_printer,
    check_smtp,
    check_gpio,
    check_rfid,
    check_scanner,
    check_ops,
]

# Like CROSS_CHECKS, but what they yield is a warning: the kiosk runs, with less than it could.
CROSS_WARNINGS: list[CrossCheck] = [
    staff_warnings,
]


def parse_layers(
    layers: Sequence[Layer], *, secrets_hint: str = SECRETS_FILE, main_hint: str = MAIN_FILE
) -> LoadedConfig:
    """Merge and validate layers, lowest precedence first; raise ConfigError listing every problem.

    Merging is by leaf key: a layer that sets only ``sip2.port`` keeps every other ``sip2`` key from
    the layers before it, which is the deep merge of tables that TOML users expect. Every layer is
    checked on its own, so a bad value is reported even when a later layer overrides it: it is still
    a mistake in that file. ``secrets_hint`` and ``main_hint`` are the paths named in advice.
    """
    merge = _Merge(secrets_hint)
    for layer in layers:
        if layer.problem is not None:
            merge.problems.append(f"{layer.label}: {layer.problem}")
            continue
        table, problem = _parse_toml(layer)
        if problem is not None:
            merge.problems.append(problem)
        elif table is not None:
            merge.add(layer, Settings, table)
    missing: list[str] = []
    settings = _build(Settings, "", merge.values, missing)
    problems = merge.problems
    # A key whose only value was refused has its problem line already; "required" would be noise.
    problems.extend(
        f"{main_hint}: {key}: required, but no layer sets it" for key in missing if key not in merge.rejected
    )
    labels = {key: layer.label for key, layer in merge.origins.items()}
    if settings is not None:
        provenance = Provenance(labels, {key: layer.kind for key, layer in merge.origins.items()})
        for cross_check in CROSS_CHECKS:
            problems.extend(cross_check(settings, provenance))
        for cross_warning in CROSS_WARNINGS:
            merge.warnings.extend(cross_warning(settings, provenance))
    if problems:
        raise ConfigError(problems, merge.warnings)
    return LoadedConfig(settings, tuple(layer.label for layer in layers), labels, tuple(merge.warnings))


# --------------------------------------------------------------------------------------------------
# The shell: finding and reading the files


def defaults_layer() -> Layer:
    """The package's own defaults.toml (package data, so it also works from an installed wheel)."""
    resource = importlib.resources.files("kiosk").joinpath("defaults.toml")
    return Layer(str(resource), resource.read_bytes(), kind="defaults")


def resolve_secrets_path(
    config_dir: Path, secrets_path: str | os.PathLike[str] | None, environ: Mapping[str, str]
) -> Path:
    """An explicit path wins; then systemd's LoadCredential= copy; then ``<config_dir>/secrets.toml``.

    Under LoadCredential= the service user cannot read /etc/kiosk/secrets.toml (root, 0600), so when
    the credential exists that file is not consulted at all.
    """
    if secrets_path is not None:
        return Path(secrets_path)
    credentials = environ.get("CREDENTIALS_DIRECTORY")
    if credentials:
        candidate = Path(credentials) / SECRETS_FILE
        if candidate.exists():
            return candidate
    return config_dir / SECRETS_FILE


def _read_layer(path: Path, kind: str) -> Layer:
    """One file as a layer; a file that cannot be used becomes a layer that carries its problem."""
    try:
        with path.open("rb") as file:
            # Mode from the open file, not a second lookup by name: what is checked is what is read.
            mode = stat.S_IMODE(os.fstat(file.fileno()).st_mode)
            if kind == "secrets" and mode & 0o077:
                return Layer(
                    str(path),
                    b"",
                    kind,
                    problem=f"mode {mode:04o} lets group or others read this secrets file; "
                    f"refusing it: run chmod 600 {path}",
                )
            data = file.read()
    except OSError as error:
        return Layer(str(path), b"", kind, problem=f"cannot read: {error.strerror or error}")
    return Layer(str(path), data, kind, world_readable=bool(mode & stat.S_IROTH))


def read_layers(config_dir: Path, secrets_path: Path) -> list[Layer]:
    """Every layer that exists, lowest precedence first (a missing file is simply not a layer)."""
    layers = [defaults_layer()]
    candidates = [config_dir / MAIN_FILE]
    dropins = config_dir / DROPIN_DIR
    if dropins.exists():
        try:
            names = sorted(n for n in os.listdir(dropins) if n.endswith(".toml") and not n.startswith("."))
        except OSError as error:
            layers.append(Layer(str(dropins), b"", problem=f"cannot list: {error.strerror or error}"))
            names = []
        candidates.extend(dropins / name for name in names)
    layers.extend(_read_layer(path, "config") for path in candidates if path.exists() or path.is_symlink())
    if secrets_path.exists() or secrets_path.is_symlink():
        layers.append(_read_layer(secrets_path, "secrets"))
    return layers


def load_config(
    config_dir: str | os.PathLike[str] | None = None,
    secrets_path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> LoadedConfig:
    """Read every layer and validate; raise ConfigError with every problem found, in layer order."""
    directory = Path(config_dir) if config_dir is not None else DEFAULT_CONFIG_DIR
    secrets = resolve_secrets_path(directory, secrets_path, os.environ if environ is None else environ)
    layers = read_layers(directory, secrets)
    return parse_layers(layers, secrets_hint=str(secrets), main_hint=str(directory / MAIN_FILE))


def load_settings(
    config_dir: str | os.PathLike[str] | None = None,
    secrets_path: str | os.PathLike[str] | None = None,
) -> Settings:
    """The validated settings for a process to run on; warnings go to the log."""
    loaded = load_config(config_dir, secrets_path)
    for warning in loaded.warnings:
        log.warning("%s", warning)
    return loaded.settings


# --------------------------------------------------------------------------------------------------
# Showing and hashing


def _plain(obj: Any, *, secrets: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in dataclasses.fields(obj):
        value = getattr(obj, field.name)
        if dataclasses.is_dataclass(value):
            out[field.name] = _plain(value, secrets=secrets)
        elif secrets or not field.metadata.get("secret"):
            out[field.name] = list(value) if isinstance(value, tuple) else value
    return out


def config_hash(settings: Settings) -> str:
    """sha256 of the non-secret values: equal settings hash equal however the layers spelled them."""
    plain = _plain(settings, secrets=False)
    canonical = json.dumps(plain, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        # JSON's escapes are TOML's; JSON leaves DEL raw, which TOML forbids in a basic string.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):  # an inline table; keys quoted, since table keys may be any string
        return "{" + ", ".join(f"{_toml_value(str(k))} = {_toml_value(v)}" for k, v in value.items()) + "}"
    return repr(value)


def render(loaded: LoadedConfig) -> str:
    """The merged settings as TOML, secrets masked, each key annotated with the layer that set it."""
    lines = [
        f"# kiosk configuration, sha256 {config_hash(loaded.settings)}",
        "# layers, lowest precedence first:",
    ]
    lines.extend(f"#   {i}. {label}" for i, label in enumerate(loaded.layers, 1))
    current_table = None
    for dotted, field in schema_keys().items():
        table, key = dotted.rsplit(".", 1)
        if table != current_table:
            lines.extend(["", f"[{table}]"])
            current_table = table
        value: Any = loaded.settings
        for part in dotted.split("."):
            value = getattr(value, part)
        source = loaded.origins.get(dotted, BUILTIN)
        if value is None:
            lines.append(f"# {key} is not set ({BUILTIN})")  # TOML has no null: unset is the only None
            continue
        shown = MASK if field.metadata["secret"] and value else value
        lines.append(f"{key} = {_toml_value(shown)}  # {'from ' if source != BUILTIN else ''}{source}")
    return "\n".join(lines) + "\n"


def run_config_get(args: argparse.Namespace) -> int:
    """``kiosk config get KEY``: one setting's effective value after every layer, for scripts (install.sh,
    Ansible) that must act on what the kiosk will read rather than on one file of it. 0 and the value;
    1 when the configuration does not load; 2 for an unknown or secret key (never printed)."""
    keys = schema_keys()
    if args.key not in keys:
        close = difflib.get_close_matches(args.key, list(keys), n=1, cutoff=0.6)
        hint = f' (did you mean "{close[0]}"?)' if close else ""
        print(f"{args.key}: no such setting{hint}", file=sys.stderr)
        return 2
    if args.key in SECRET_KEYS:
        print(f"{args.key}: a secret; not printed", file=sys.stderr)
        return 2
    try:
        loaded = load_config(args.config_dir, args.secrets)
    except ConfigError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return 1
    value: Any = loaded.settings
    for part in args.key.split("."):
        value = getattr(value, part)
    if isinstance(value, bool):
        print("true" if value else "false")
    elif isinstance(value, list | tuple | dict):
        print(json.dumps(value, ensure_ascii=False, default=str))
    else:
        print(value)
    return 0


def run_config_check(args: argparse.Namespace) -> int:
    """``kiosk config check [--show]``: 0 and a summary when valid, else each problem on stderr and 1."""
    try:
        loaded = load_config(args.config_dir, args.secrets)
    except ConfigError as error:
        for warning in error.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        for problem in error.problems:
            print(problem, file=sys.stderr)
        count = len(error.problems)
        print(f"config NOT OK: {count} problem{'s' if count != 1 else ''}", file=sys.stderr)
        return 1
    for warning in loaded.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.show:
        sys.stdout.write(render(loaded))
    count = len(loaded.layers)
    print(f"config OK ({count} layer{'s' if count != 1 else ''}: {', '.join(loaded.layers)})")
    return 0
