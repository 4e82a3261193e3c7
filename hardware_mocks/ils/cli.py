"""``kiosk ils-sim``: run the simulated ILS on its own until SIGINT or SIGTERM.

This module is imported whenever ``kiosk`` builds its argument parser, so it imports only
argparse-level things at the top; the server and SQLite load in :func:`run_ils_sim`.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from types import FrameType

from sip2.codec import ENCODINGS
from sip2.dialects import DIALECTS


def login_pair(text: str) -> tuple[str, str]:
    """``user:password`` (the password may be empty, or contain colons)."""
    user, sep, password = text.partition(":")
    if not sep or not user:
        raise argparse.ArgumentTypeError(f"expected user:password, got {text!r}")
    if any(c in text for c in "|\r\n"):
        raise argparse.ArgumentTypeError("a SIP2 login may not contain |, CR or LF")
    return user, password


def _positive(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=6001, help="TCP port; 0 picks a free one (default 6001)")
    parser.add_argument(
        "--db",
        default=None,
        help="SQLite file holding the library; created from the sample data if missing "
        "(default: a fresh in-memory copy of the sample data, lost on exit)",
    )
    parser.add_argument(
        "--data",
        default=None,
        help="JSON sample data to seed a new library from (default: the packaged sample_library.json)",
    )
    parser.add_argument(
        "--dialect",
        default="generic",
        choices=sorted(DIALECTS),
        help="behave like this kind of ILS (encoding, renewals, no-block dates)",
    )
    parser.add_argument(
        "--encoding", default=None, choices=ENCODINGS, help="wire character set (default: the dialect's)"
    )
    parser.add_argument(
        "--login",
        dest="logins",
        action="append",
        type=login_pair,
        metavar="USER:PASSWORD",
        help="accepted SIP2 login (93 CN:CO); repeat for more (default demo with an empty password, "
        "as in the kiosk's built-in settings)",
    )
    parser.add_argument(
        "--repeated-checkout",
        choices=("renews", "refuses"),
        default=None,
        help="a second checkout to the same patron (default: the dialect's)",
    )
    parser.add_argument(
        "--nb-due-date",
        choices=("honour", "ignore"),
        default=None,
        help="use the SC's due date on no-block checkouts (default: the dialect's)",
    )
    parser.add_argument(
        "--return-date",
        choices=("honour", "ignore"),
        default=None,
        help="use the SC's return date on no-block checkins (default: the dialect's)",
    )
    parser.add_argument(
        "--not-on-loan-checkin",
        choices=("ok", "refused"),
        default=None,
        help="answer to a checkin of an item not on loan (default: the dialect's)",
    )
    parser.add_argument("--tls-cert", default=None, help="PEM certificate: serve SIP2 over TLS")
    parser.add_argument("--tls-key", default=None, help="PEM private key for --tls-cert")
    parser.add_argument("--latency", type=_positive, default=0.0, help="seconds added to every answer")
    parser.add_argument(
        "--idle-timeout",
        type=_positive,
        default=None,
        help="close a session idle this many seconds, silently (SIPServer uses 60)",
    )
    parser.add_argument(
        "--no-login-required",
        action="store_true",
        help="answer requests on connections that never sent a 93 login",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every frame (PINs masked)")


def behaviour_overrides(args: argparse.Namespace) -> dict[str, bool]:
    """The behaviour switches given on the command line (the rest come from the dialect)."""
    chosen = {
        "repeated_checkout_renews": args.repeated_checkout and args.repeated_checkout == "renews",
        "honours_nb_due_date": args.nb_due_date and args.nb_due_date == "honour",
        "honours_return_date": args.return_date and args.return_date == "honour",
        "not_on_loan_checkin_ok": args.not_on_loan_checkin and args.not_on_loan_checkin == "ok",
    }
    given = {
        "repeated_checkout_renews": args.repeated_checkout,
        "honours_nb_due_date": args.nb_due_date,
        "honours_return_date": args.return_date,
        "not_on_loan_checkin_ok": args.not_on_loan_checkin,
    }
    return {name: bool(chosen[name]) for name, value in given.items() if value is not None}


def run_ils_sim(args: argparse.Namespace) -> int:
    import json
    import ssl

    from hardware_mocks.ils.app import DEFAULT_ACCOUNTS
    from hardware_mocks.ils.faults import Faults
    from hardware_mocks.ils.library import Behaviour, Library
    from hardware_mocks.ils.simulator import IlsSimulator

    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    if bool(args.tls_cert) != bool(args.tls_key):
        print("ils-sim: --tls-cert and --tls-key go together", file=sys.stderr)
        return 2
    context = None
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            context.load_cert_chain(args.tls_cert, args.tls_key)
        except (OSError, ssl.SSLError) as exc:
            print(f"ils-sim: cannot load the TLS certificate or key: {exc}", file=sys.stderr)
            return 2
    data = None
    if args.data:
        try:
            with open(args.data, encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError) as exc:
            print(f"ils-sim: cannot read {args.data}: {exc}", file=sys.stderr)
            return 2
    accounts = dict(args.logins) if args.logins else dict(DEFAULT_ACCOUNTS)
    behaviour = Behaviour.for_dialect(args.dialect, **behaviour_overrides(args))
    library = Library.open(args.db, data=data, behaviour=behaviour)
    faults = Faults()
    if args.latency:
        faults.latency(args.latency)
    sim = IlsSimulator(
        library,
        host=args.host,
        port=args.port,
        dialect=args.dialect,
        encoding=args.encoding,
        behaviour=behaviour,
        accounts=accounts,
        ssl_context=context,
        idle_timeout=args.idle_timeout,
        require_login=not args.no_login_required,
        faults=faults,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            sim.start()
        except OSError as exc:
            print(f"ils-sim: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
            return 1
        host, port = sim.address
        print(
            f"ILS simulator listening on {host}:{port} ({'TLS' if context else 'plain TCP'}, "
            f"dialect {sim.dialect}, encoding {sim.encoding}, institution {library.institution_id}, "
            f"logins {', '.join(sorted(accounts))})",
            flush=True,
        )
        while not stop.wait(0.5):
            pass
        return 0
    finally:
        sim.stop()
        library.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
