"""The returns bin's memory over thousands of drops in one incarnation: a leak, or warm-up?

Why: the simulated day (bench/day.py) saw the returns bin's RSS still rising after 400 drops (about
0.35 MB per 100 drops), but the day paces drops by patron sessions and SIGKILLs the bin now and then,
so it never gives one incarnation thousands of drops. A returns bin in a library takes a few hundred
books a day and runs for weeks: memory that grows with every drop, or with every book ever seen,
however slowly, ends in ``MemoryMax``; memory that grows while bounded caches fill and then stops
is warm-up.

How: the returns bin alone, ``kiosk run --headless`` with a returns-bin configuration, the real
console script and nothing added, against the simulated world of tests/soak (soak_world.World: the
simulated ILS over SIP2/TCP, a FEIG reader on a pty under the chute). The driver acts only as people
do: the public drop a book that is on loan into the chute (it falls on once its alarm is back on and
the ILS has heard of the return, as in tests/soak/soak_day.py), and the desk lends it again to the
same patron over its own SIP2 connection to the ILS (the ``sip2`` library's client, as any staff
client would; the desk turns the tag's alarm off as it lends). The kiosk does not know any of it.

Options:

* ``--sorter mock-gpio`` (the default) gives the bin a diverter and a slot lock on gpiozero's own
  MockFactory pins (``GPIOZERO_PIN_FACTORY=mock`` in its environment, as a site sets ``lgpio``), as the
  soak's returns bin now has too. ``--sorter none`` measures a bin without one: its first RouteToBin
  fails ("no bin diverter configured"), the sorter is faulted and the slot closed from the first item
  on, and every item dropped anyway waits in the bin's pipeline for a sorter that never comes back
  (the soak's returns bin was such a bin until this script found it).
* ``--with-sync`` runs ``kiosk sync`` beside each bin, as a site deploys it (kiosk-returns +
  kiosk-sync): with the soak's retention of 0 days the journal's settled rows are purged, so the
  journal file stops growing. Without it (the default: the bin alone) the journal grows by a row per
  drop, and SQLite's page cache (2 MiB per connection by default) grows with it until full.
* ``--books`` sets how many different books cycle through the chute (default: one per drop, every
  drop a new book, as in a library's collection). Growth per *different tag* (bounded caches filling)
  and growth per *drop* are told apart by running with fewer books than drops: once every book has
  been seen, only per-drop growth is left.

The sign on the slot (open/closed) and the exceptions count are read from the bin's own /metrics
(on a free loopback port) at each sample, as a person reads the sign; the bins' counts, exceptions
and sorter fault from its memory file at the end.

The baseline, in the same run and for the same wall time: a **twin** returns bin in a world of its
own, started and warmed with the same first drops, then left idle while the first one takes the
drops (heartbeats, probes, timers and journal polls go on in both). Printed every ``--every`` drops:
both RSS figures (``VmRSS`` from /proc) and the drop rate; then end/start for both, the growth per
100 drops in the first and the last third of the run and their ratio (about 1: linear growth, a leak;
about 0: warm-up that has levelled off), and the busy bin's growth against the idle twin's.

``--probe``: the busy bin runs under a tiny wrapper (this file's ``--child``: production code is
untouched) that, on SIGUSR1 (handled on the headless main loop), writes what its heaps hold: Python's
allocated blocks, SQLite's heap (``sqlite3_memory_used`` of the library the ``sqlite3`` module runs
on) and glibc malloc's bytes in use; the driver asks at each sample and prints them beside the RSS, so
growth is placed in Python objects, SQLite's page caches, or neither (fragmentation). ``--trace``
also starts ``tracemalloc`` before the kiosk is imported and prints the allocation sites that grew
most between the warm point and the end, and over the last third (a site still growing there is the
leak; tracing costs CPU and memory, so its RSS is not comparable with an untraced run; free lists
and 512-entry lru_caches show up as growth too).

Run: ``.venv/bin/python bench/returns_memory.py [--drops 3000] [--books N] [--sorter mock-gpio|none]
[--with-sync] [--every 100] [--warm 10] [--probe | --trace] [--workdir DIR]``; about 0.25 s per drop
(the desk's checkout included) on a loaded 2-core machine, so 3,000 drops take about 13 minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import pickle
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__" and "--child" not in sys.argv:
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "tests" / "soak"))

#: How long one drop may take before the run gives up (the kiosk is stuck, not slow).
DROP_DEADLINE = 60.0
POLL = 0.04
#: Stack depth kept by tracemalloc in ``--trace`` runs.
TRACE_FRAMES = 12


# --------------------------------------------------------------------------------------------------
# The child: ``kiosk`` itself, and on SIGUSR1 what its heaps hold (and a tracemalloc snapshot)


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


def _heap_probes() -> dict[str, Callable[[], int]]:
    """Readers of the process's own heaps: SQLite's (the library the ``sqlite3`` module runs on) and
    glibc malloc's bytes in use; whichever this platform has."""
    import _sqlite3

    probes: dict[str, Callable[[], int]] = {"python_blocks": sys.getallocatedblocks}
    try:
        used = ctypes.CDLL(_sqlite3.__file__).sqlite3_memory_used
        used.restype = ctypes.c_int64
        probes["sqlite_bytes"] = lambda: int(used())
    except (OSError, AttributeError):
        pass
    try:
        mallinfo2 = ctypes.CDLL(None).mallinfo2
        mallinfo2.restype = _MallInfo2
        probes["malloc_bytes"] = lambda: int(mallinfo2().uordblks + mallinfo2().hblkhd)
    except (OSError, AttributeError):
        pass
    return probes


def child(outdir: Path, mode: str, kiosk_argv: list[str]) -> int:
    """``kiosk <kiosk_argv>``; each SIGUSR1 writes ``heap-<n>.json`` (and in ``trace`` mode, under
    tracemalloc started before the kiosk is imported, ``snapshot-<n>.pickle`` first)."""
    import tracemalloc

    if mode == "trace":
        tracemalloc.start(TRACE_FRAMES)
    probes = _heap_probes()
    taken = [0]

    def dump(_signum: int, _frame: object) -> None:
        taken[0] += 1
        if mode == "trace":
            snapshot = tracemalloc.take_snapshot().filter_traces((
                tracemalloc.Filter(False, tracemalloc.__file__),
                tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
            ))
            with (outdir / f"snapshot-{taken[0]}.pickle").open("wb") as out:
                pickle.dump(snapshot, out, protocol=pickle.HIGHEST_PROTOCOL)
        heap = {name: probe() for name, probe in probes.items()}
        if mode == "trace":
            heap["traced_bytes"] = tracemalloc.get_traced_memory()[0]
        partial = outdir / f"heap-{taken[0]}.partial"
        partial.write_text(json.dumps(heap))
        partial.rename(outdir / f"heap-{taken[0]}.json")  # last: the driver waits for this one

    signal.signal(signal.SIGUSR1, dump)
    from kiosk.cli import main

    return main(kiosk_argv)


# --------------------------------------------------------------------------------------------------
# The driver

#: The sorter (the demo's wiring): every bin reachable, the slot lock wired, a position held until the
#: next item (no 2 s hold per item: drops come faster here). On gpiozero's own MockFactory pins, chosen
#: the way a site chooses lgpio: ``GPIOZERO_PIN_FACTORY`` in the service's environment.
MOCK_SORTER = {"diverter_bins": {"holds": [5], "transit": [6], "reshelve": [], "exceptions": [5, 6]},
               "diverter_hold_seconds": 0.0, "slot_pin": 25}
MOCK_PINS = {"GPIOZERO_PIN_FACTORY": "mock"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def configure(kiosk_toml: Path, *, sorter: bool) -> str:
    """Add to soak_world's returns-bin configuration: /metrics on a free loopback port (the driver
    reads the slot's sign there, as a person reads it on the bin) and, with ``sorter``, a diverter.
    Without one the bin faults at its first item ("no bin diverter configured") and closes the slot,
    as the soak's returns bin does; the public here, as there, drop into it all the same."""
    import tomllib

    from kiosk.demo.hardware import toml_document

    tables = tomllib.loads(kiosk_toml.read_text())
    port = free_port()
    tables["metrics"] = {"listen": f"127.0.0.1:{port}"}
    if sorter:
        tables["gpio"] = MOCK_SORTER
    kiosk_toml.write_bytes(toml_document(tables))
    return f"http://127.0.0.1:{port}/metrics"


def sign(metrics_url: str) -> dict[str, float]:
    """The returns bin's slot and exceptions as its /metrics tell them ({} when it does not answer)."""
    import urllib.request

    wanted = ("kiosk_returns_accepting", "kiosk_returns_exceptions")
    try:
        with urllib.request.urlopen(metrics_url, timeout=10) as reply:
            text = reply.read().decode()
    except OSError:
        return {}
    return {line.split()[0]: float(line.split()[1]) for line in text.splitlines() if line.startswith(wanted)}


class ReturnsBin:
    """A world (tests/soak), its returns bin process, the public at the chute and the desk."""

    def __init__(self, workdir: Path, *, books: int, seed: int, probe: str, sorter: bool, sync: bool) -> None:
        from soak_world import World

        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        # Each patron has at most 10 books (the library's rule), so enough patrons for the books on loan.
        self.world = World(workdir, patrons=max(120, books // 8 + 1), books=books + 50, on_loan=books, seed=seed)
        self.sorter = sorter
        self.with_sync = sync
        self.metrics_url = ""
        #: the books the run cycles through, each with the patron who has it (and gets it again)
        self.loans = {loan["item"]: loan["patron"] for loan in self.world.data["loans"]}
        self.cycle = list(self.loans)
        #: "" (the console script itself), "probe" (heap figures on SIGUSR1), "trace" (and tracemalloc)
        self.mode = probe
        self.probes = workdir / "probes"
        self.process = None
        self.sync = None  # ``kiosk sync`` beside it, with --with-sync
        self.desk = None
        self.drops = 0

    def start(self) -> None:
        from soak_processes import KIOSK, Process, sync
        from soak_world import INSTITUTION, SIP2_PASSWORD, SIP2_USER

        from sip2.client import ClientConfig, SIP2Client

        self.world.start()
        config = self.world.config_dir("returns-bin")
        self.metrics_url = configure(config / "kiosk.toml", sorter=self.sorter)
        kiosk_argv = ["run", "--headless", "--config-dir", str(config)]
        if self.mode:
            self.probes.mkdir(exist_ok=True)
            argv = [sys.executable, str(Path(__file__).resolve()), "--child", str(self.probes), self.mode, "--",
                    *kiosk_argv]
        else:
            argv = [str(KIOSK), *kiosk_argv]
        self.process = Process("returns-kiosk", argv, self.workdir, env=MOCK_PINS if self.sorter else None)
        self.process.start()
        if self.with_sync:
            self.sync = sync("returns-sync", config, self.workdir)
            self.sync.start()
        ils = self.world.ils
        assert ils is not None
        self.desk = SIP2Client(ClientConfig(host=ils.host, port=ils.port, username=SIP2_USER, password=SIP2_PASSWORD,
                                            institution_id=INSTITUTION, timeout=10.0))

    def stop(self) -> None:
        if self.desk is not None:
            with contextlib.suppress(Exception):
                self.desk.close()
        if self.process is not None:
            code = self.process.stop()
            if code not in (0, None):
                print(f"{self.workdir.name}: the returns bin exited with {code} on SIGTERM", flush=True)
        if self.sync is not None:
            self.sync.stop()
        self.world.stop()

    @property
    def pid(self) -> int:
        assert self.process is not None and self.process.pid is not None
        return self.process.pid

    def rss_kb(self) -> int:
        assert self.process is not None
        value = self.process.rss_kb()
        if value is None:
            raise RuntimeError(f"the returns bin in {self.workdir} is not running (see returns-kiosk.log)")
        return value

    def _last_seq(self, item: str) -> int:
        ils = self.world.ils
        assert ils is not None
        rows = ils.library.ledger(item=item)
        return rows[-1].seq if rows else 0

    def drop_next(self) -> float:
        """The next book through the chute, then back on loan from the desk; seconds the drop took."""
        item = self.cycle[self.drops % len(self.cycle)]
        seconds = self.drop(item)
        self.lend(item)
        self.drops += 1
        return seconds

    def drop(self, item: str) -> float:
        """A person drops ``item`` (on loan, alarm off) into the chute; it falls on once its alarm is
        back on and the ILS recorded the return, as soak_day's returns bin does."""
        from hardware_mocks.ils.library import ItemStatus
        from kiosk.hardware.rfid.security import SecurityScheme, SecurityState

        chute, ils = self.world.chute, self.world.ils
        assert chute is not None and ils is not None
        found = ils.library.item(item)
        if found is None or found.status is not ItemStatus.ON_LOAN:
            status = found.status if found else "unknown"
            raise RuntimeError(f"{item} is not on loan ({status}): the desk did not lend it")
        before = self._last_seq(item)
        started = time.monotonic()
        tag = chute.place_item(item)
        sim = chute.simulator.tag(tag.uid)
        assert sim is not None
        on_loan = SecurityScheme().wanted(SecurityState.ON_LOAN)
        sim.afi, sim.eas = on_loan.afi, bool(on_loan.eas)
        try:
            while time.monotonic() - started < DROP_DEADLINE:
                tags = [t for t in chute.tags_on_pad() if t.barcode == item]
                if tags and all(t.security_on for t in tags) and self._last_seq(item) > before:
                    return time.monotonic() - started
                if self.process is None or not self.process.alive:
                    raise RuntimeError(f"the returns bin in {self.workdir} died (see returns-kiosk.log)")
                time.sleep(POLL)
            raise TimeoutError(f"drop {self.drops} ({item}) not handled within {DROP_DEADLINE:g} s")
        finally:
            chute.remove(item)

    def lend(self, item: str) -> None:
        """The desk lends the returned book to its patron again (over SIP2; no PIN at the desk)."""
        assert self.desk is not None
        answer = self.desk.checkout(self.loans[item], item, pin=None)
        if not answer.ok:
            raise RuntimeError(f"the desk could not lend {item}: {answer}")

    # -- tracing -----------------------------------------------------------------------------------

    def probe(self) -> tuple[dict[str, int], Path | None]:
        """Ask the probed bin what its heaps hold (and, traced, for a tracemalloc snapshot): the
        figures and the snapshot's file; ({}, None) when it runs as the console script itself."""
        if not self.mode:
            return {}, None
        before = set(self.probes.glob("heap-*.json"))
        os.kill(self.pid, signal.SIGUSR1)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            new = set(self.probes.glob("heap-*.json")) - before
            if new:
                heap = new.pop()
                snapshot = heap.with_name(heap.name.replace("heap-", "snapshot-")).with_suffix(".pickle")
                return json.loads(heap.read_text()), snapshot if snapshot.exists() else None
            time.sleep(0.1)
        raise TimeoutError("no heap figures from the returns bin within 120 s")


def sign_text(metrics_url: str) -> str:
    found = sign(metrics_url)
    if not found:
        return "(no /metrics answer)"
    slot = {1.0: "open", 0.0: "CLOSED"}.get(found.get("kiosk_returns_accepting", -1.0), "?")
    return f"slot {slot}, {found.get('kiosk_returns_exceptions', 0):.0f} exceptions"


def remembered(workdir: Path) -> str:
    """The bins' counts and the exceptions' reasons the returns bin left in its memory file."""
    import sqlite3

    path = workdir / "returns" / "journal.returns-bin.sqlite"
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            counts = dict(db.execute("select bin, count from bin_counts order by position").fetchall())
            reasons = dict(db.execute("select reason, count(*) from exceptions group by reason").fetchall())
            fault = [r[0] for r in db.execute("select fault from sorter")]
    except sqlite3.Error as exc:
        return f"unreadable ({exc})"
    return f"routed {counts}, exceptions {reasons}, sorter fault {fault[0] if fault and fault[0] else 'none'}"


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def per_100(samples: list[tuple[int, int]], first: int, last: int) -> float:
    """RSS growth in kB per 100 drops between two sample indexes (least squares over the samples)."""
    span = samples[first:last + 1]
    if len(span) < 2:
        return float("nan")
    xs = [d for d, _ in span]
    ys = [r for _, r in span]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    return 100 * sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx if sxx else float("nan")


def print_trace_diff(old: Path, new: Path, label: str, top: int = 15) -> None:
    import tracemalloc

    with old.open("rb") as a, new.open("rb") as b:
        before, after = pickle.load(a), pickle.load(b)
    total = sum(s.size for s in after.statistics("filename")) - sum(s.size for s in before.statistics("filename"))
    print(f"\ntracemalloc, {label}: traced memory {total / 1024:+.0f} KiB; the sites that grew most:")
    for stat in after.compare_to(before, "lineno")[:top]:
        print(f"  {stat.size_diff / 1024:+8.1f} KiB {stat.count_diff:+7d} blocks  {stat.traceback[0]}")
    print(f"tracemalloc, {label}: the same, by full traceback, top 3:")
    for stat in after.compare_to(before, "traceback")[:3]:
        print(f"  {stat.size_diff / 1024:+8.1f} KiB {stat.count_diff:+7d} blocks")
        for line in stat.traceback.format()[-2 * TRACE_FRAMES:]:
            print(f"      {line}")
    del tracemalloc


def run(args: argparse.Namespace) -> int:
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="kiosk-returns-memory-"))
    sorter = args.sorter == "mock-gpio"
    mode = "trace" if args.trace else "probe" if args.probe else ""
    busy = ReturnsBin(workdir / "busy", books=args.books or args.drops, seed=args.seed, probe=mode,
                      sorter=sorter, sync=args.with_sync)
    idle = ReturnsBin(workdir / "idle", books=args.warm, seed=args.seed, probe="", sorter=sorter,
                      sync=args.with_sync)
    print(f"returns bin memory: {args.drops} drops in one incarnation ({len(busy.cycle)} books), sampled every "
          f"{args.every}; sorter: {args.sorter}; {'kiosk sync beside each; ' if args.with_sync else ''}"
          f"an idle twin as the baseline; {mode + 'd; ' if mode else ''}"
          f"logs in {workdir}; load average {load_average()}", flush=True)
    rows: list[tuple[int, int, int, float, float]] = []  # drops, busy kB, idle kB, seconds, mean drop s
    snapshots: dict[int, Path] = {}
    heaps: list[tuple[int, int, dict[str, int]]] = []  # drops, busy RSS kB, what the busy bin's heaps hold

    def probe() -> None:
        heap, path = busy.probe()
        if heap:
            heaps.append((busy.drops, busy.rss_kb(), heap))
        if path is not None:
            snapshots[busy.drops] = path

    started = time.monotonic()
    try:
        for bin_ in (busy, idle):
            bin_.start()
        for bin_ in (busy, idle):  # the same warm-up for both: every path taken, every connection open
            for _ in range(args.warm):
                bin_.drop_next()
        warm_at = time.monotonic()
        rows.append((args.warm, busy.rss_kb(), idle.rss_kb(), warm_at - started, 0.0))
        probe()
        print(f"warm after {args.warm} drops each ({warm_at - started:.0f} s): busy {rows[0][1] / 1024:.1f} MB, "
              f"idle {rows[0][2] / 1024:.1f} MB; the busy bin's sign: {sign_text(busy.metrics_url)}", flush=True)
        spent = 0.0
        since = 0
        while busy.drops < args.drops:
            spent += busy.drop_next()
            since += 1
            if busy.drops % args.every == 0 or busy.drops == args.drops:
                rows.append((busy.drops, busy.rss_kb(), idle.rss_kb(), time.monotonic() - started, spent / since))
                probe()
                d, b, i, s, mean = rows[-1]
                print(f"{d:6d} drops  busy {b / 1024:6.1f} MB  idle {i / 1024:6.1f} MB  {s:6.0f} s  "
                      f"{mean:.2f} s per drop  load {load_average()}  {sign_text(busy.metrics_url)}", flush=True)
                spent, since = 0.0, 0
    finally:
        wall = time.monotonic() - started
        for bin_ in (busy, idle):
            bin_.stop()
    report(rows, wall, args)
    print(f"the busy bin's memory file at the end: {remembered(busy.workdir)}")
    report_heaps(heaps)
    if snapshots:
        marks = sorted(snapshots)
        third = marks[len(marks) * 2 // 3]
        print_trace_diff(snapshots[marks[0]], snapshots[marks[-1]], f"drop {marks[0]} -> {marks[-1]}")
        print_trace_diff(snapshots[third], snapshots[marks[-1]], f"the last third, drop {third} -> {marks[-1]}")
    return 0


def report_heaps(heaps: list[tuple[int, int, dict[str, int]]]) -> None:
    """Where the busy bin's RSS went: Python's blocks, SQLite's heap, glibc malloc's bytes in use."""
    if len(heaps) < 2:
        return
    names = [n for n in ("traced_bytes", "python_blocks", "sqlite_bytes", "malloc_bytes") if n in heaps[0][2]]
    titles = {"traced_bytes": "tracemalloc (MB)", "python_blocks": "Python blocks (k)",
              "sqlite_bytes": "SQLite heap (MB)", "malloc_bytes": "malloc in use (MB)"}

    def cell(name: str, value: int) -> str:
        return f"{value / 1000:.1f}" if name == "python_blocks" else f"{value / 2**20:.2f}"

    print()
    print("| drops | RSS (MB) | " + " | ".join(titles[n] for n in names) + " |")
    print("|---" * (2 + len(names)) + "|")
    for drops, rss, heap in heaps:
        print(f"| {drops} | {rss / 1024:.1f} | " + " | ".join(cell(n, heap[n]) for n in names) + " |")
    n = len(heaps)
    last = (n - 1 - n // 3, n - 1)
    slopes = [f"RSS {per_100([(d, r) for d, r, _ in heaps], *last):+.1f} kB"]
    for name in names:
        unit = 1 if name == "python_blocks" else 1024
        series = [(d, h[name] / unit) for d, _, h in heaps]
        slopes.append(f"{titles[name].split(' (')[0]} {per_100(series, *last):+.1f}{'' if unit == 1 else ' kB'}")
    print(f"growth per 100 drops over the last third (drops {heaps[last[0]][0]}-{heaps[last[1]][0]}): "
          + ", ".join(slopes))


def report(rows: list[tuple[int, int, int, float, float]], wall: float, args: argparse.Namespace) -> None:
    print()
    print("| drops | busy bin RSS (MB) | idle twin RSS (MB) | wall (s) |")
    print("|---|---|---|---|")
    for d, b, i, s, _ in rows:
        print(f"| {d} | {b / 1024:.1f} | {i / 1024:.1f} | {s:.0f} |")
    if len(rows) < 4:
        print("too few samples for slopes")
        return
    (d0, b0, i0, *_), (d1, b1, i1, *_) = rows[0], rows[-1]
    busy = [(d, b) for d, b, *_ in rows]
    idle = [(d, i) for d, _, i, *_ in rows]
    n = len(rows)
    first, last = (0, n // 3), (n - 1 - n // 3, n - 1)
    bf, bl = per_100(busy, *first), per_100(busy, *last)
    idf, idl = per_100(idle, *first), per_100(idle, *last)
    print()
    print(f"end/start (after {d0} -> {d1} drops): busy {b1 / b0:.3f} ({(b1 - b0) / 1024:+.1f} MB), "
          f"idle twin {i1 / i0:.3f} ({(i1 - i0) / 1024:+.1f} MB) over the same {rows[-1][3] - rows[0][3]:.0f} s")
    print(f"growth per 100 drops, kB (least squares): busy first third (drops {busy[first[0]][0]}-"
          f"{busy[first[1]][0]}) {bf:+.1f}, last third (drops {busy[last[0]][0]}-{busy[last[1]][0]}) {bl:+.1f}, "
          f"last/first {bl / bf if bf else float('nan'):.2f}; idle twin over the same wall time "
          f"{idf:+.1f} / {idl:+.1f}")
    print(f"busy minus idle, whole run: {((b1 - b0) - (i1 - i0)) / max(d1 - d0, 1) * 100:+.1f} kB per 100 drops")
    print(f"wall time {wall:.0f} s ({wall / max(d1, 1):.2f} s per drop incl. the desk's checkout); "
          f"load average {load_average()}")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--child"]:
        if len(argv) < 4 or argv[2] not in ("probe", "trace") or argv[3] != "--":
            raise SystemExit("usage: returns_memory.py --child DIR probe|trace -- KIOSK_ARGS...")
        return child(Path(argv[1]), argv[2], argv[4:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drops", type=int, default=3000)
    parser.add_argument("--every", type=int, default=100, help="sample RSS every this many drops")
    parser.add_argument("--warm", type=int, default=10, help="drops each bin takes before the first sample")
    parser.add_argument("--books", type=int, default=0,
                        help="books cycling between the chute and the desk (0: one per drop, every drop a new book)")
    parser.add_argument("--with-sync", action="store_true",
                        help="run `kiosk sync` beside each bin, as deployed: the journal is purged (retention 0 days)")
    parser.add_argument("--sorter", choices=("mock-gpio", "none"), default="mock-gpio",
                        help="a diverter on gpiozero's mock pins, or none (the soak's bin: faulted from item 1)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--probe", action="store_true",
                        help="the busy bin reports its heaps (Python, SQLite, malloc) at each sample")
    parser.add_argument("--trace", action="store_true", help="--probe, and tracemalloc snapshots of the busy bin")
    parser.add_argument("--workdir", default=None)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
