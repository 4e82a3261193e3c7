"""The ``kiosk`` command: one entry point for the kiosk's processes and IT's tools.

Each subcommand lives in the module that owns it; this file only wires argparse to them, so a
missing optional dependency of one subcommand never breaks another.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from kiosk import __version__


def _config_check(args: argparse.Namespace) -> int:
    from kiosk.config import run_config_check

    return run_config_check(args)


def _config_get(args: argparse.Namespace) -> int:
    from kiosk.config import run_config_get

    return run_config_get(args)


def _config_pull(args: argparse.Namespace) -> int:
    from kiosk.ops.central_config import run_config_pull

    return run_config_pull(args)


def _doctor(args: argparse.Namespace) -> int:
    from kiosk.ops.doctor import run_doctor

    return run_doctor(args)


def _ils_sim(args: argparse.Namespace) -> int:
    # Demo wiring: the only place kiosk/ reaches into hardware_mocks/, and only when asked.
    from hardware_mocks.ils.cli import add_arguments, run_ils_sim

    parser = argparse.ArgumentParser(prog="kiosk ils-sim", description="the simulated ILS (a real SIP2 server)")
    add_arguments(parser)
    return run_ils_sim(parser.parse_args(args.passthrough))


def _demo(args: argparse.Namespace) -> int:
    from kiosk.demo.command import run_demo

    return run_demo(args)


def _staff_pin(args: argparse.Namespace) -> int:
    from kiosk.staff_pin import run_staff_pin

    return run_staff_pin(args)


def _run(args: argparse.Namespace) -> int:
    from kiosk.run import run_kiosk

    return run_kiosk(args)


def _sync(args: argparse.Namespace) -> int:
    from kiosk.sync.cli import run_sync

    return run_sync(args)


def _queue(args: argparse.Namespace) -> int:
    from kiosk.sync.cli import run_queue

    return run_queue(args)


def _journal_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config-dir", default=None, help="directory holding kiosk.toml (default /etc/kiosk)")
    parser.add_argument("--secrets", default=None, help="secrets file (default <config-dir>/secrets.toml)")
    parser.add_argument("--journal", default=None, help="journal file (default: [journal] path)")


def _add_sync_and_queue(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sync = commands.add_parser("sync", help="replay offline transactions to the ILS (its own process)")
    sync.add_argument("--once", action="store_true", help="replay what is queued and exit (1: ILS unreachable)")
    _journal_arguments(sync)
    sync.set_defaults(func=_sync)

    queue = commands.add_parser("queue", help="staff: offline transactions and rejected replays")
    actions = queue.add_subparsers(dest="queue_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="transactions not settled yet (queued, in flight, for staff)")
    listing.add_argument("--all", action="store_true", help="every transaction in the journal")
    listing.add_argument("--limit", type=int, default=None, help="show at most this many")
    report = actions.add_parser("report", help="exceptions report: what staff must look at")
    report.add_argument("--csv", action="store_true", help="CSV for a spreadsheet instead of text")
    retry = actions.add_parser("retry", help="replay a rejected (or unknown) offline transaction again")
    retry.add_argument("id", type=int)
    resolve = actions.add_parser("resolve", help="mark a transaction as dealt with by staff")
    resolve.add_argument("id", type=int)
    resolve.add_argument("--note", default=None, help="what was done, kept with the transaction")
    for parser in (listing, report, retry, resolve):
        _journal_arguments(parser)
        parser.set_defaults(func=_queue)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk", description="Library self-service kiosk")
    parser.add_argument("--version", action="version", version=f"kiosk {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    config = commands.add_parser("config", help="validate and show the merged configuration")
    config_commands = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    check = config_commands.add_parser("check", help="validate every config layer; exit 1 on problems")
    check.add_argument("--show", action="store_true", help="print the merged settings, secrets masked")
    check.add_argument("--config-dir", default=None, help="directory holding kiosk.toml (default /etc/kiosk)")
    check.add_argument("--secrets", default=None, help="secrets file (default <config-dir>/secrets.toml)")
    check.set_defaults(func=_config_check)
    get = config_commands.add_parser("get", help="print one setting's effective value (secrets refused)")
    get.add_argument("key", help="dotted name, e.g. central_config.url")
    get.add_argument("--config-dir", default=None, help="directory holding kiosk.toml (default /etc/kiosk)")
    get.add_argument("--secrets", default=None, help="secrets file (default <config-dir>/secrets.toml)")
    get.set_defaults(func=_config_get)
    pull = config_commands.add_parser(
        "pull", help="fetch the central config bundle over HTTPS, verify and apply it (0 ok, 1 refused, 2 failed)")
    pull.add_argument("--restart", action="append", default=[], metavar="UNIT",
                      help="systemctl try-restart UNIT when the bundle changed (repeatable)")
    pull.add_argument("--config-dir", default=None, help="directory holding kiosk.toml (default /etc/kiosk)")
    pull.add_argument("--secrets", default=None, help="secrets file (default <config-dir>/secrets.toml)")
    pull.set_defaults(func=_config_pull)

    sim = commands.add_parser("ils-sim", help="run the simulated ILS (a real SIP2 server)", add_help=False)
    sim.set_defaults(func=_ils_sim, passthrough_ok=True)

    demo = commands.add_parser(
        "demo", help="the kiosk on simulated hardware: a window with the hardware panel, or without a display "
                     "a scripted session photographed into a folder")
    demo.add_argument("--headless", action="store_true",
                      help="run the photographed session offscreen even where a display is available")
    demo.add_argument("--out", default=None, metavar="DIR",
                      help="where the headless session writes its screenshots and the receipt "
                           "(default: ./demo-output/<date-time>)")
    demo.add_argument("--step-seconds", type=float, default=15.0, metavar="S",
                      help="headless: how long each step may take to reach its screen (default 15)")
    demo.add_argument("--returns-bin", action="store_true",
                      help="with a display: an unattended returns bin instead of a self-check kiosk")
    demo.add_argument("--config-dir", default=None,
                      help="a site's kiosk.toml to try under the demo's devices (default: the package defaults)")
    demo.add_argument("--secrets", default=None, help="secrets file (default <config-dir>/secrets.toml)")
    demo.set_defaults(func=_demo)

    run = commands.add_parser("run", help="run the kiosk station from the configuration, with its touch screen")
    run.add_argument("--headless", action="store_true", help="no screen (a returns bin needs none)")
    run.add_argument("--config-dir", default=None, help="directory holding kiosk.toml (default /etc/kiosk)")
    run.add_argument("--secrets", default=None, help="secrets file (default <config-dir>/secrets.toml)")
    run.set_defaults(func=_run)

    _add_sync_and_queue(commands)

    staff_pin = commands.add_parser("staff-pin", help="make the hash of a staff PIN for [staff] pin_hash")
    staff_pin.add_argument("--stdin", action="store_true", help="read the PIN from one line of standard input")
    staff_pin.set_defaults(func=_staff_pin)

    doctor = commands.add_parser(
        "doctor", help="check config, clock, ILS, devices, disk and queue (exit 0 OK, 1 WARN, 2 FAIL)")
    doctor.add_argument("--json", action="store_true", help="results as JSON (same exit code)")
    doctor.add_argument("--direct", action="store_true",
                        help="probe reader, scanner, printer and GPIO here even while a kiosk runs (stop it first)")
    doctor.add_argument("--config-dir", default=None, help="directory holding kiosk.toml (default /etc/kiosk)")
    doctor.add_argument("--secrets", default=None, help="secrets file (default <config-dir>/secrets.toml)")
    doctor.set_defaults(func=_doctor)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if getattr(args, "passthrough_ok", False):
        args.passthrough = rest
    elif rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    func: Callable[[argparse.Namespace], int] = args.func
    return func(args)


if __name__ == "__main__":
    sys.exit(main())
