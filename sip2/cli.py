"""The ``sip2`` console script: talk to an ILS by hand, the way IT on site has to.

When the kiosk says "the library system does not answer", someone stands next to it with a
laptop and needs to know within a minute whether it is the network, the certificate, the SIP2
account, the patron or the item. So every command makes exactly one kind of request, prints
the decoded answer as a plain table, and ends with an exit code that says who is to blame:

====  =====================================================================================
0     the ILS answered and agreed
1     the ILS answered and refused (ok=0, unknown patron, wrong PIN, login refused)
2     the command line was wrong (nothing was sent)
3     no usable answer: cannot connect, TLS/certificate, timeout, undecodable response
4     the outcome is unknown: a checkout/checkin/renew went out and its answer was lost
====  =====================================================================================

Secrets never reach the terminal: PINs and passwords are masked in the wire log (``-v``) and in
the bytes ``raw`` prints. A PIN given as an argument is visible to everyone in ``ps``, so
``--pin -`` reads it from stdin (without echo on a terminal) instead.
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import Any, NoReturn, TextIO

from sip2.client import ClientConfig, SIP2Client, TLSConfig
from sip2.codec import CR, CRLF, ENCODINGS, checksum, decode_frame
from sip2.errors import (
    LoginFailed,
    OutcomeUnknown,
    SIP2ConnectionError,
    SIP2DecodeError,
    SIP2EncodeError,
    SIP2Error,
    TLSVerificationError,
)
from sip2.fields import (
    FIELD_NAMES,
    SECRET_FIELDS,
    SUPPORTED_MESSAGE_ORDER,
    AlertType,
    CirculationStatus,
    PatronStatus,
    Summary,
    SupportedMessages,
    decode_date,
)
from sip2.masking import MASK, masked_text
from sip2.messages import (
    MESSAGE_TYPES,
    RESPONSE_FOR,
    SAFE_TO_REPEAT,
    ACSStatus,
    Login,
    LoginResponse,
    Message,
    PatronInformationResponse,
    RequestACSResend,
    RequestSCResend,
    Response,
)

PROG = "sip2"


class Exit(IntEnum):
    OK = 0
    REFUSED = 1
    USAGE = 2
    CONNECTION = 3
    OUTCOME_UNKNOWN = 4


class UsageError(Exception):
    """A command line that cannot be acted on; reported before anything is sent."""


# --- reading the command line ---------------------------------------------------------------

ITEM_LISTS: dict[str, Summary] = {
    "hold": Summary.HOLD_ITEMS,
    "overdue": Summary.OVERDUE_ITEMS,
    "charged": Summary.CHARGED_ITEMS,
    "fine": Summary.FINE_ITEMS,
    "recall": Summary.RECALL_ITEMS,
    "unavailable": Summary.UNAVAILABLE_HOLDS,
}

EPILOG = """\
exit codes:
  0  the ILS answered and agreed
  1  the ILS refused (ok=0, unknown patron, wrong PIN, login refused)
  2  usage error (nothing was sent)
  3  cannot connect, TLS/certificate error, timeout, or an undecodable response
  4  outcome unknown: a checkout/checkin/renew was sent and its answer was lost;
     check the item with `sip2 ... item ITEM` before trying again

secrets:
  The SIP2 password comes from --password, --password-file or the SIP2_PASSWORD
  environment variable (in that order). Arguments are visible to other users in `ps`:
  prefer --password-file or SIP2_PASSWORD, and `--pin -` to read a patron PIN from stdin
  (typed without echo on a terminal, or piped: `printf '%s\\n' "$PIN" | sip2 ... --pin -`).
  PINs and passwords are never printed; -v shows wire frames with them masked as ****.

Options may be given before or after the command.
"""


class _Parser(argparse.ArgumentParser):
    """Raises instead of exiting, so ``main`` can report one line and return 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _add_connection_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """The connection options, on the top parser and again on each command.

    On the commands their defaults are SUPPRESS, so an option given before the command is not
    overwritten by the command's default (argparse copies every sub-namespace value back).
    """

    def default(value: Any) -> Any:
        return value if top else argparse.SUPPRESS

    conn = parser.add_argument_group("connection")
    conn.add_argument("--host", default=default(None), help="ILS host name or address (required)")
    conn.add_argument("--port", type=_port, default=default(6001), help="SIP2 port (default 6001)")
    conn.add_argument("--timeout", type=_seconds, default=default(10.0), metavar="S",
                      help="seconds to wait for the connection and for each answer (default 10)")
    conn.add_argument("--encoding", choices=ENCODINGS, default=default("cp850"),
                      help="code page of the ILS (default cp850)")
    conn.add_argument("--no-error-detection", action="store_true", default=default(False),
                      help="send no AY/AZ sequence number and checksum")
    conn.add_argument("--crlf", action="store_true", default=default(False),
                      help="end frames with CR LF instead of CR")
    conn.add_argument("-v", "--verbose", action="count", default=default(0),
                      help="show the wire frames (secrets masked) on stderr")

    tls = parser.add_argument_group("TLS")
    tls.add_argument("--tls", action="store_true", default=default(False), help="connect with TLS")
    tls.add_argument("--ca-file", default=default(None), metavar="F",
                     help="CA certificate(s) to verify the ILS with (default: the system trust store)")
    tls.add_argument("--cert", default=default(None), metavar="F", help="client certificate (PEM)")
    tls.add_argument("--key", default=default(None), metavar="F",
                     help="key of the client certificate (if not in --cert)")
    tls.add_argument("--no-verify", action="store_true", default=default(False),
                     help="do not verify the ILS certificate (diagnosis only)")

    acct = parser.add_argument_group("SIP2 account")
    acct.add_argument("--user", default=default(None), metavar="U",
                      help="SIP2 login user (CN); without it no 93 login is sent")
    acct.add_argument("--password", default=default(None), metavar="P",
                      help="SIP2 login password (CO); visible in `ps`, prefer the two below")
    acct.add_argument("--password-file", default=default(None), metavar="F",
                      help="read the SIP2 password from the first line of F")
    acct.add_argument("--location", default=default(None), metavar="CP",
                      help="location code (CP) of the login; also the checkin location (AP)")
    acct.add_argument("--institution", default=default(""), metavar="AO", help="institution id (AO)")
    acct.add_argument("--terminal-password", default=default(""), metavar="AC",
                      help="terminal password (AC)")


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 1-65535, got {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, got {text}")
    return value


def _pin_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pin", metavar="PIN",
                        help="patron PIN (AD); `-` reads it from stdin, keeping it out of `ps`")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Talk to a library system (ILS) over SIP2 2.00: diagnose logins, patrons, items.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_connection_options(parser, top=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text, epilog=EPILOG,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        _add_connection_options(sub, top=False)
        return sub

    command("login", "connect and log in (93); print the 94 answer and the latency")
    command("status", "ask the ILS status (99); print the 98 flags and supported messages")

    sub = command("patron", "patron information (63): status flags, counts, fines, item lists")
    sub.add_argument("patron_id", metavar="PATRON")
    _pin_option(sub)
    sub.add_argument("--items", choices=tuple(ITEM_LISTS), help="also list these items of the patron")

    sub = command("item", "item information (17): circulation status, due date, location")
    sub.add_argument("item_id", metavar="ITEM")

    sub = command("checkout", "check an item out to a patron (11)")
    sub.add_argument("patron_id", metavar="PATRON")
    sub.add_argument("item_id", metavar="ITEM")
    _pin_option(sub)
    sub.add_argument("--no-block", action="store_true",
                     help="report a checkout that already happened offline (the ILS must not refuse it)")
    sub.add_argument("--nb-due-date", metavar="DATE",
                     help="with --no-block: the due date given to the patron, YYYY-MM-DD (end of that day)"
                          " or YYYY-MM-DDTHH:MM:SS")

    sub = command("checkin", "check an item in (09)")
    sub.add_argument("item_id", metavar="ITEM")
    sub.add_argument("--no-block", action="store_true",
                     help="report a return that already happened offline (the ILS must not refuse it)")
    sub.add_argument("--return-date", metavar="DATE",
                     help="when the item was returned, YYYY-MM-DD (start of that day) or YYYY-MM-DDTHH:MM:SS"
                          " (default: now)")

    sub = command("renew", "renew an item for a patron (29)")
    sub.add_argument("patron_id", metavar="PATRON")
    sub.add_argument("item_id", metavar="ITEM")
    _pin_option(sub)

    sub = command("raw", "send one literal frame and print the raw and decoded answer")
    sub.add_argument("frame", metavar="FRAME",
                     help="the frame text, e.g. '1720250101    120000AOMAIN|AB31234|'")
    sub.add_argument("--as-is", action="store_true",
                     help="send FRAME exactly (only the terminator is added if missing); by default any"
                          " AY/AZ trailer is replaced by a correct sequence number and checksum")
    return parser


@dataclass(frozen=True, slots=True)
class Secrets:
    password: str
    pin: str | None


def _read_secret_line(stream: TextIO, what: str) -> str:
    line = stream.readline()
    if not line:
        raise UsageError(f"{what}: nothing to read")
    return line.rstrip("\r\n")


def read_password(args: argparse.Namespace, environ: Mapping[str, str]) -> str:
    if args.password is not None and args.password_file is not None:
        raise UsageError("give either --password or --password-file, not both")
    if args.password is not None:
        return str(args.password)
    if args.password_file is not None:
        try:
            with open(args.password_file, encoding="utf-8") as f:
                return _read_secret_line(f, f"--password-file {args.password_file}")
        except OSError as exc:
            raise UsageError(f"cannot read --password-file {args.password_file}: {exc.strerror or exc}") from None
    return environ.get("SIP2_PASSWORD", "")


def read_pin(value: str | None) -> str | None:
    """``-`` means stdin: a prompt without echo on a terminal, else the first line of the pipe."""
    if value != "-":
        return value
    stdin = sys.stdin
    if stdin is not None and stdin.isatty():
        try:
            return getpass.getpass("PIN: ")
        except EOFError:
            raise UsageError("--pin -: no PIN typed") from None
    if stdin is None:
        raise UsageError("--pin -: there is no stdin to read the PIN from")
    return _read_secret_line(stdin, "--pin -")


def _check_secret(value: str, what: str, encoding: str) -> None:
    # The codec would refuse these too, but its error messages quote the value; say it here
    # without showing the secret.
    if "|" in value or "\r" in value or "\n" in value:
        raise UsageError(f"the {what} contains '|' or a line break, which SIP2 cannot carry")
    try:
        value.encode(encoding)
    except UnicodeEncodeError:
        raise UsageError(f"the {what} has characters that cannot be sent in {encoding} (see --encoding)") from None


def parse_date(text: str, option: str, *, end_of_day: bool) -> datetime:
    """ISO date or date-time. A bare date means the end of that day for a due date (a book due
    on the 5th may come back all day) and its start for a return date (never in the future)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option}: {text!r} is not YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS") from None
    if value.tzinfo is not None:
        raise UsageError(f"{option}: give the ILS's local time, without a zone")
    if end_of_day and re.fullmatch(r"\d{4}-?\d{2}-?\d{2}", text.strip()):
        value = value.replace(hour=23, minute=59, second=59)
    return value.replace(microsecond=0)


def build_config(args: argparse.Namespace, secrets: Secrets) -> ClientConfig:
    tls_only = [opt for opt, value in (("--ca-file", args.ca_file), ("--cert", args.cert), ("--key", args.key),
                                       ("--no-verify", args.no_verify)) if value]
    if tls_only and not args.tls:
        raise UsageError(f"{', '.join(tls_only)} need(s) --tls")
    if args.key and not args.cert:
        raise UsageError("--key needs --cert")
    if args.no_verify and args.ca_file:
        raise UsageError("--no-verify and --ca-file contradict each other")
    for path, option in ((args.ca_file, "--ca-file"), (args.cert, "--cert"), (args.key, "--key")):
        if path and not os.path.isfile(path):
            raise UsageError(f"{option}: no such file: {path}")
    _check_secret(secrets.password, "SIP2 password", args.encoding)
    _check_secret(args.terminal_password, "terminal password", args.encoding)
    if secrets.pin is not None:
        _check_secret(secrets.pin, "PIN", args.encoding)
    tls = None
    if args.tls:
        tls = TLSConfig(ca_file=args.ca_file, cert_file=args.cert, key_file=args.key, verify=not args.no_verify,
                        ca_file_setting="--ca-file", host_setting="--host")
    return ClientConfig(
        host=args.host,
        port=args.port,
        tls=tls,
        username=args.user,
        password=secrets.password,
        location=args.location,
        institution_id=args.institution,
        terminal_password=args.terminal_password,
        encoding=args.encoding,
        error_detection=not args.no_error_detection,
        terminator=CRLF if args.crlf else CR,
        connect_timeout=args.timeout,
        timeout=args.timeout,
        # One command, one short connection: no 99 after login (``status`` sends its own),
        # hence no heartbeat thread either.
        status_after_login=False,
    )


# --- showing a message ----------------------------------------------------------------------


def message_title(code: str) -> str:
    """``"12"`` -> ``"Checkout Response (12)"``: the class name, spaced."""
    cls = MESSAGE_TYPES.get(code)
    if cls is None:
        return f"message {code}"
    words = re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", cls.__name__)
    return f"{words} ({code})"


def _request_name(code: str) -> str:
    """``"99"`` -> ``"SC status"``: for the BX rows, where "Request" would only repeat."""
    words = message_title(code).rsplit(" (", 1)[0].split()
    return " ".join(w if w.isupper() else w.lower() for w in words)


def _date_text(value: datetime) -> str:
    text = value.strftime("%Y-%m-%d %H:%M:%S")
    zone = value.tzname()
    return f"{text} {zone.strip()}" if zone else text


def _sip2_date_text(text: str) -> str:
    """A due date as the ILS sent it, readable when it is a SIP2 date (servers also send prose)."""
    if len(text) == 18:
        try:
            value = decode_date(text)
        except ValueError:
            return text
        if value is not None:
            return f"{_date_text(value)}  ({text})"
    return text


def _int_text(attr: str, value: int) -> str:
    if attr == "circulation_status":
        try:
            return f"{CirculationStatus(value).name.lower().replace('_', ' ')} ({value:02d})"
        except ValueError:
            return f"{value:02d} (not a SIP2 2.00 status)"
    if attr in ("timeout_period", "retries_allowed") and value == 999:
        return "999 (unknown)"
    if attr == "timeout_period":
        return f"{value:03d} ({value / 10:g} s)"
    return str(value)


def _value_text(attr: str, kind_name: str | None, value: Any) -> str:
    if value is None:
        return "unknown (U)" if kind_name == "ynu" else "(blank)"
    if isinstance(value, bool):
        return "YES" if value else "NO"
    if isinstance(value, datetime):
        return _date_text(value)
    if isinstance(value, int):
        return _int_text(attr, value)
    text = str(value)
    if attr.endswith("_date") and text:
        return _sip2_date_text(text)
    if attr == "alert_type" and text:
        try:
            return f"{text} ({AlertType(text).name.lower().replace('_', ' ')})"
        except ValueError:
            return text
    return text if text else "(empty)"


def describe(msg: Message) -> list[tuple[str, str]]:
    """(label, value) rows for every field the message carries, in wire order.

    Labels are the dataclass attribute names, with the two-letter id for variable fields so IT
    can match a row to the wire log. Absent optional fields are left out; patron status flags
    appear only when set; screen messages are left to the caller to show prominently.
    """
    layout = msg._layout
    field_ids = {attr: fid for fid, attr, _kind, _required in layout.variables}
    fixed_kinds = {attr: kind.name for attr, kind, _start, _end in layout.fixed}
    rows: list[tuple[str, str]] = []
    for f in dataclasses.fields(msg):
        attr = f.name
        if attr in ("extra", "screen_messages"):
            continue
        value = getattr(msg, attr)
        fid = field_ids.get(attr)
        label = attr.replace("_", " ") + (f" ({fid})" if fid else "")
        if fid in SECRET_FIELDS and value:
            rows.append((label, MASK))
        elif isinstance(value, PatronStatus):
            problems = value.problems
            rows.append(("patron status", "no flags set" if not problems else f"{len(problems)} flag(s) set:"))
            rows.extend((name.replace("_", " "), "YES") for name in problems)
        elif isinstance(value, SupportedMessages):
            rows.append((label, value.encode() or "(empty)"))
            rows.extend(
                (f"  {code} {_request_name(code)}", "YES" if code in value else "NO")
                for code in SUPPORTED_MESSAGE_ORDER
            )
        elif isinstance(value, tuple):
            rows.extend((label, item) for item in value)
        elif value is None and attr not in fixed_kinds:
            continue  # an optional variable field the ILS did not send
        else:
            rows.append((label, _value_text(attr, fixed_kinds.get(attr), value)))
    for fid, value in msg.extra:
        name = FIELD_NAMES.get(fid, "unknown field")
        rows.append((f"{name} ({fid})", MASK if fid in SECRET_FIELDS and value else value))
    return rows


def print_message(msg: Message, verdict: str, elapsed: float | None, out: TextIO) -> None:
    timing = f"   [{elapsed * 1000:.1f} ms]" if elapsed is not None else ""
    out.write(f"{message_title(msg.code)}: {verdict}{timing}\n")
    for text in getattr(msg, "screen_messages", ()):
        out.write(f"  >>> {text} <<<\n")
    rows = describe(msg)
    if rows:
        width = min(34, max(len(label) for label, _ in rows))
        out.write("\n")
        for label, value in rows:
            out.write(f"  {label:<{width}}  {value}\n")


# --- deciding the outcome -------------------------------------------------------------------


@dataclass
class Outcome:
    response: Response
    exit: Exit
    verdict: str  # shown in the heading
    error: str | None = None  # the stderr line, when the ILS refused
    elapsed: float | None = None


def _first_screen_message(response: Response) -> str:
    messages = getattr(response, "screen_messages", ())
    return f": {messages[0]}" if messages else ""


def judge(response: Response, what: str) -> Outcome:
    """Refused or not, from the flags any response carries (used for ``raw`` and circulation)."""
    if isinstance(response, RequestSCResend):
        return Outcome(response, Exit.REFUSED, "the ILS could not read the frame",
                       f"the ILS could not read the {what} and asked for it again (96)")
    for attr in ("ok", "payment_accepted", "item_properties_ok", "valid_patron"):
        if getattr(response, attr, None) is False:
            return Outcome(response, Exit.REFUSED, "REFUSED",
                           f"the ILS refused the {what} ({attr}=NO){_first_screen_message(response)}")
    return Outcome(response, Exit.OK, "OK")


def judge_patron(response: PatronInformationResponse, patron_id: str, pin: str | None) -> Outcome:
    if response.valid_patron is False:
        return Outcome(response, Exit.REFUSED, "UNKNOWN PATRON",
                       f"the ILS does not know patron {patron_id!r}{_first_screen_message(response)}")
    if pin is not None and response.valid_patron_password is False:
        return Outcome(response, Exit.REFUSED, "WRONG PIN",
                       f"the PIN of patron {patron_id!r} is wrong{_first_screen_message(response)}")
    problems = response.patron_status.problems
    verdict = "valid patron" if not problems else f"valid patron, {len(problems)} status flag(s) set"
    if response.patron_status.blocks_checkout:
        verdict += " (may not borrow)"
    return Outcome(response, Exit.OK, verdict)


# --- the commands ---------------------------------------------------------------------------


def _timed(fn: Callable[[], Response]) -> tuple[Response, float]:
    start = time.perf_counter()
    response = fn()
    return response, time.perf_counter() - start


def cmd_status(client: SIP2Client, args: argparse.Namespace, secrets: Secrets) -> Outcome:
    response, elapsed = _timed(client.sc_status)
    assert isinstance(response, ACSStatus)
    verdict = "ILS online" if response.online_status else "ILS says it is OFFLINE"
    return Outcome(response, Exit.OK, verdict, elapsed=elapsed)


def cmd_patron(client: SIP2Client, args: argparse.Namespace, secrets: Secrets) -> Outcome:
    summary = ITEM_LISTS[args.items] if args.items else None
    response, elapsed = _timed(lambda: client.patron_information(
        args.patron_id, "" if secrets.pin is None else secrets.pin, summary))
    assert isinstance(response, PatronInformationResponse)
    outcome = judge_patron(response, args.patron_id, secrets.pin)
    outcome.elapsed = elapsed
    return outcome


def cmd_item(client: SIP2Client, args: argparse.Namespace, secrets: Secrets) -> Outcome:
    response, elapsed = _timed(lambda: client.item_information(args.item_id))
    status = getattr(response, "circulation_status", None)
    unknown = not getattr(response, "title", "") and status in (None, CirculationStatus.OTHER)
    if unknown:
        # No ok flag in an 18: ILSs answer an unknown barcode with status 01 "other" and no title.
        return Outcome(response, Exit.REFUSED, "UNKNOWN ITEM",
                       f"the ILS does not know item {args.item_id!r}{_first_screen_message(response)}", elapsed)
    return Outcome(response, Exit.OK, _value_text("circulation_status", None, status), elapsed=elapsed)


def cmd_checkout(client: SIP2Client, args: argparse.Namespace, secrets: Secrets) -> Outcome:
    response, elapsed = _timed(lambda: client.checkout(
        args.patron_id, args.item_id, pin="" if secrets.pin is None else secrets.pin,
        no_block=args.no_block, nb_due_date=args.nb_due))
    outcome = judge(response, "checkout")
    if outcome.exit is Exit.OK:
        outcome.verdict = f"OK, due {_sip2_date_text(getattr(response, 'due_date', '') or '?')}"
    outcome.elapsed = elapsed
    return outcome


def cmd_checkin(client: SIP2Client, args: argparse.Namespace, secrets: Secrets) -> Outcome:
    response, elapsed = _timed(lambda: client.checkin(args.item_id, no_block=args.no_block, return_date=args.returned))
    outcome = judge(response, "checkin")
    if outcome.exit is Exit.OK and getattr(response, "alert", False):
        alert = getattr(response, "alert_type", None)
        outcome.verdict = "OK, ALERT" + (f" {_value_text('alert_type', None, alert)}" if alert else "")
    outcome.elapsed = elapsed
    return outcome


def cmd_renew(client: SIP2Client, args: argparse.Namespace, secrets: Secrets) -> Outcome:
    response, elapsed = _timed(lambda: client.renew(
        args.patron_id, args.item_id, pin="" if secrets.pin is None else secrets.pin))
    outcome = judge(response, "renewal")
    if outcome.exit is Exit.OK:
        outcome.verdict = f"OK, due {_sip2_date_text(getattr(response, 'due_date', '') or '?')}"
    outcome.elapsed = elapsed
    return outcome


COMMANDS: dict[str, Callable[[SIP2Client, argparse.Namespace, Secrets], Outcome]] = {
    "status": cmd_status,
    "patron": cmd_patron,
    "item": cmd_item,
    "checkout": cmd_checkout,
    "checkin": cmd_checkin,
    "renew": cmd_renew,
}


def run_login(config: ClientConfig, out: TextIO) -> Exit:
    """Connect without the client's own login, then send the 93 ourselves to show the 94."""
    if config.username is None:
        raise UsageError("login needs --user")
    client = SIP2Client(dataclasses.replace(config, username=None))
    try:
        start = time.perf_counter()
        client.connect()
        connected = time.perf_counter() - start
        response, elapsed = _timed(lambda: client.request(
            Login(login_user_id=config.username or "", login_password=config.password,
                  location_code=config.location)))
    finally:
        client.close()
    assert isinstance(response, LoginResponse)
    verdict = "login OK" if response.ok else "LOGIN REFUSED"
    print_message(response, verdict, elapsed, out)
    connect = "TCP + TLS connect" if config.tls else "TCP connect"
    out.write(f"\n  {connect:<17}  {connected * 1000:.1f} ms\n  {'93 -> 94':<17}  {elapsed * 1000:.1f} ms\n")
    if not response.ok:
        sys.stderr.write(f"{PROG}: {config.host}:{config.port} refused the SIP2 login for user"
                         f" {config.username!r}{_first_screen_message(response)}\n")
        return Exit.REFUSED
    return Exit.OK


# --- raw frames -----------------------------------------------------------------------------

_TRAILER = re.compile(r"AY\dAZ[0-9A-Fa-f]{4}$")
_BARE_AZ = re.compile(r"AZ[0-9A-Fa-f]{4}$")


def build_raw_frame(text: str, *, as_is: bool, encoding: str, error_detection: bool,
                    sequence: int, terminator: bytes) -> bytes:
    """The bytes to send for ``raw``: the user's text, with a correct trailer unless ``as_is``."""
    if as_is:
        try:
            data = text.encode(encoding)
        except UnicodeEncodeError as exc:
            raise UsageError(f"the frame cannot be written in {encoding}: {text[exc.start:exc.end]!r}") from None
        return data if data.endswith(b"\r") else data + terminator
    body = text.rstrip("\r\n")
    for escaped in ("\\n", "\\r"):  # a frame pasted from a log shows its CR as "\r"
        body = body.removesuffix(escaped)
    code = body[:2]
    if code not in MESSAGE_TYPES:
        raise UsageError(f"{code!r} is not a SIP2 2.00 command code (use --as-is to send it anyway)")
    try:
        data = body.encode(encoding)
    except UnicodeEncodeError as exc:
        raise UsageError(f"the frame cannot be written in {encoding}: {body[exc.start:exc.end]!r}") from None
    if not error_detection:
        return data + terminator
    if code in ("96", "97"):
        data = _BARE_AZ.sub("", body).encode(encoding) + b"AZ"
    else:
        data = _TRAILER.sub("", body).encode(encoding) + b"AY%dAZ" % sequence
    return data + checksum(data).encode("ascii") + terminator


def shown_bytes(raw: bytes, encoding: str) -> str:
    """The exact bytes as a Python literal, with PIN/password values replaced by ``****``."""
    text = raw.decode(encoding, errors="surrogateescape")
    core = text.rstrip("\r\n")
    masked = masked_text(core) + text[len(core):] if core else text
    return repr(masked.encode(encoding, errors="surrogateescape"))


def run_raw(config: ClientConfig, args: argparse.Namespace, out: TextIO) -> Exit:
    # Sequence numbers count per connection: the login, if any, took 0.
    sequence = 1 if config.username is not None and config.error_detection else 0
    data = build_raw_frame(args.frame, as_is=args.as_is, encoding=config.encoding,
                           error_detection=config.error_detection, sequence=sequence,
                           terminator=config.terminator)
    code = data[:2].decode("ascii", errors="replace")
    client = SIP2Client(config)
    try:
        client.connect()
        out.write(f"sent:     {shown_bytes(data, config.encoding)}\n")
        try:
            received, elapsed = client.exchange_raw(data, config.timeout)
        except SIP2ConnectionError as exc:
            if code in SAFE_TO_REPEAT or code == RequestACSResend.code:
                raise
            sys.stderr.write(f"{PROG}: outcome of the {message_title(code)} frame unknown: the answer was lost"
                             f" ({_clean(str(exc))})\n")
            return Exit.OUTCOME_UNKNOWN
    finally:
        client.close()
    out.write(f"received: {shown_bytes(received, config.encoding)}   [{elapsed * 1000:.1f} ms]\n\n")
    try:
        frame = decode_frame(received, encoding=config.encoding)
    except SIP2DecodeError as exc:
        raise SIP2DecodeError(f"cannot decode the answer: {exc.reason}", exc.raw) from exc
    response = frame.message
    if not isinstance(response, Response):
        raise SIP2DecodeError(f"the ILS answered with a request ({message_title(response.code)})", received)
    outcome = judge(response, "frame")
    expected = RESPONSE_FOR.get(code)
    if expected is not None and not isinstance(response, expected | RequestSCResend):
        outcome.verdict += f" (but a {message_title(expected.code)} was expected)"
    print_message(response, outcome.verdict, None, out)
    if outcome.error:
        sys.stderr.write(f"{PROG}: {outcome.error}\n")
    return outcome.exit


# --- main -----------------------------------------------------------------------------------


def _describe_connection(config: ClientConfig) -> str:
    tls = ""
    if config.tls is not None:
        tls = " with TLS (" + ("no verification" if not config.tls.verify else
                               f"CA {config.tls.ca_file or 'system trust store'}") + ")"
    who = f" as {config.username!r}" if config.username is not None else " without login"
    return (f"connecting to {config.host}:{config.port}{tls}{who}, {config.encoding},"
            f" {'AY/AZ' if config.error_detection else 'no error detection'},"
            f" {'CRLF' if config.terminator == CRLF else 'CR'}")


def _clean(message: str) -> str:
    return re.sub(r"\[Errno -?\d+\] ", "", message)


class _WireLog:
    """-v: the client's (already masked) frame log on stderr, for the duration of one command."""

    def __init__(self, verbosity: int) -> None:
        self.verbosity = verbosity
        self.handler = logging.StreamHandler(sys.stderr)
        self.handler.setFormatter(logging.Formatter("%(message)s"))
        self.loggers = [logging.getLogger("sip2.wire"), logging.getLogger("sip2.client")]
        self.levels = [lg.level for lg in self.loggers]

    def __enter__(self) -> _WireLog:
        if self.verbosity:
            for lg in self.loggers:
                lg.addHandler(self.handler)
                lg.setLevel(logging.DEBUG)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.verbosity:
            for lg, level in zip(self.loggers, self.levels, strict=True):
                lg.removeHandler(self.handler)
                lg.setLevel(level)


def check_dates(args: argparse.Namespace) -> None:
    """Parse the date options into ``args.nb_due`` / ``args.returned`` before anything is sent."""
    nb_due_date = getattr(args, "nb_due_date", None)
    if nb_due_date and not args.no_block:
        raise UsageError("--nb-due-date needs --no-block (the SC gives a due date only for offline checkouts)")
    args.nb_due = parse_date(nb_due_date, "--nb-due-date", end_of_day=True) if nb_due_date else None
    return_date = getattr(args, "return_date", None)
    args.returned = parse_date(return_date, "--return-date", end_of_day=False) if return_date else None


def run(args: argparse.Namespace, out: TextIO) -> Exit:
    if not args.host:
        raise UsageError(f"--host is required (see `{PROG} --help`)")
    check_dates(args)
    secrets = Secrets(read_password(args, os.environ), read_pin(getattr(args, "pin", None)))
    config = build_config(args, secrets)
    with _WireLog(args.verbose):
        if args.verbose:
            sys.stderr.write(_describe_connection(config) + "\n")
        if args.command == "login":
            return run_login(config, out)
        if args.command == "raw":
            return run_raw(config, args, out)
        client = SIP2Client(config)
        try:
            client.connect()
            outcome = COMMANDS[args.command](client, args, secrets)
        finally:
            client.close()
    print_message(outcome.response, outcome.verdict, outcome.elapsed, out)
    if outcome.error:
        sys.stderr.write(f"{PROG}: {outcome.error}\n")
    return outcome.exit


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sip2`` console script; returns the exit code (see the module doc)."""
    out = sys.stdout
    args: argparse.Namespace | None = None

    def fail(code: Exit, message: str) -> int:
        sys.stderr.write(f"{PROG}: {message}\n")
        return int(code)

    try:
        args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
        return int(run(args, out))
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else int(Exit.USAGE)
    except UsageError as exc:
        return fail(Exit.USAGE, str(exc))
    except LoginFailed as exc:
        return fail(Exit.REFUSED, str(exc))
    except OutcomeUnknown as exc:
        item = getattr(exc.request, "item_id", None)
        hint = f"; check with `{PROG} ... item {item}` before trying again" if item else ""
        return fail(Exit.OUTCOME_UNKNOWN, _clean(str(exc)) + hint + _login_hint(args, exc))
    except TLSVerificationError as exc:
        return fail(Exit.CONNECTION, _clean(str(exc)))
    except SIP2ConnectionError as exc:
        return fail(Exit.CONNECTION, _clean(str(exc)) + _login_hint(args, exc))
    except SIP2DecodeError as exc:
        return fail(Exit.CONNECTION, f"the ILS sent something that is not SIP2: {exc}")
    except SIP2EncodeError as exc:
        return fail(Exit.USAGE, f"cannot send that: {exc}")
    except SIP2Error as exc:
        return fail(Exit.CONNECTION, str(exc))
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted\n")
        return 130


def _login_hint(args: argparse.Namespace | None, error: SIP2Error) -> str:
    """Many ILSs hang up on a first request that is not a 93: say so when that may be why."""
    closed = "closed the connection" in str(error)
    if closed and args is not None and getattr(args, "user", None) is None and args.command != "login":
        return " (no --user was given: does the ILS require a SIP2 login?)"
    return ""


if __name__ == "__main__":
    sys.exit(main())
