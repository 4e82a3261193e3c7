"""Fuzzing at scale: 10^6 inputs per parser of untrusted bytes; only typed errors, no input over 100 ms.

The targets (SIP2 decoder, tag data models, FEIG and 3M frames, ESC/POS status, config loader, barcode
scanners, PC/SC answers) and their adapters are in ``fuzz_targets.py``. Each target runs on its own:

* engine ``atheris`` (the default when installed: ``pip install -e .[fuzz]``): libFuzzer's
  coverage-guided mutations, with sip2/, kiosk/ and tomllib instrumented, in a child process per target
  (libFuzzer ends the process when it is done); the seed corpus is written fresh each run from the
  codecs' own encoders, and libFuzzer's -dict gets the target's tokens;
* engine ``mutate`` (the fallback): random bytes and havoc mutations of the same seeds, no coverage.

Every input is timed by the CPU time of the thread that runs it (``time.thread_time_ns``), not by the
wall clock: on a shared machine a ``nice``d fuzzer waits for the CPU, and a 2-core machine under load
made 8 ms inputs take 100-200 ms of wall time on every re-run (62 false hangs in one run). One over
``--hang-ms`` is re-run three times and counted as a hang only if even the fastest re-run is over.
Throughput (exec/s) is still wall time. What escapes an
adapter that is not the target's typed error is a crash: the input and its traceback go to
``artifacts/fuzz/<target>/`` (a few inputs per distinct place in the code), and fuzzing goes on.

Baseline, measured in the same process just before fuzzing: the same adapter fed the unmutated seed
corpus, round after round. ``ratio`` = fuzzing exec/s / baseline exec/s: what the engine and the
mutated inputs (longer, stranger, more error paths) cost per execution against valid inputs.

Run: ``nice -n 10 .venv/bin/python bench/fuzz.py [--runs N] [--target NAME ...] [--engine mutate]``;
``--report`` prints the table again from each target's last ``stats.json``; ``--strict`` exits 1 on a
crash or hang (a benchmark reports by default, like the others).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import hashlib
import json
import shutil
import subprocess
import sys
import time
import traceback
from array import array
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

if TYPE_CHECKING:
    from fuzz_targets import Target

DEFAULT_RUNS = 1_000_000
HANG_MS = 100.0
INSTRUMENTED = "sip2,kiosk,tomllib"
SAVED_PER_SIGNATURE = 5
SAVED_HANGS = 20


@dataclass
class Stats:
    """One target's run, as the worker reports it to the table."""

    target: str
    engine: str
    inputs: int = 0
    seconds: float = 0.0
    baseline_inputs: int = 0
    baseline_seconds: float = 0.0
    typed: int = 0  # inputs refused with the typed error (those the adapter lets out)
    crashes: int = 0  # inputs on which something else came out
    signatures: dict[str, int] = field(default_factory=dict)  # "Error at file:line" -> inputs
    hangs: int = 0
    slow_not_reproduced: int = 0
    max_ms: float = 0.0
    p99_ms: float = 0.0
    p50_ms: float = 0.0
    note: str = ""

    @property
    def exec_per_s(self) -> float:
        return self.inputs / self.seconds if self.seconds else 0.0

    @property
    def baseline_per_s(self) -> float:
        return self.baseline_inputs / self.baseline_seconds if self.baseline_seconds else 0.0


class Recorder:
    """Runs one target's adapter on each input: times it, sorts out typed errors, keeps crashes and hangs.

    ``clock`` (wall time, for exec/s) and ``cost_clock`` (CPU time of this thread, for each input's
    cost and the hang rule), both in nanoseconds, are injectable so the rule can be tested without
    waiting."""

    def __init__(
        self,
        target: Target,
        out_dir: Path,
        engine: str,
        *,
        hang_ms: float = HANG_MS,
        clock: Callable[[], int] = time.perf_counter_ns,
        cost_clock: Callable[[], int] = time.thread_time_ns,
    ) -> None:
        self.target = target
        self.out_dir = out_dir
        self.hang_ns = hang_ms * 1e6  # a float, so float("inf") turns the hang rule off
        self.clock = clock
        self.cost_clock = cost_clock
        self.stats = Stats(target.name, engine)
        self.times = array("q")
        self._first: int | None = None
        self._last = 0
        self._excluded = 0

    def __call__(self, data: bytes) -> None:
        started = self.clock()
        if self._first is None:
            self._first = started
        cost_started = self.cost_clock()
        try:
            self.target.adapter(data)
        except self.target.errors:
            self.stats.typed += 1
        except Exception as exc:
            self._crash(data, exc)
        cost = self.cost_clock() - cost_started
        ended = self.clock()
        self.times.append(cost)
        if cost > self.hang_ns:
            self._slow(data, cost)
            self._excluded += self.clock() - ended  # the re-runs are not fuzzing time
        self._last = ended

    def _crash(self, data: bytes, exc: Exception) -> None:
        signature = _signature(exc)
        self.stats.crashes += 1
        seen = self.stats.signatures.get(signature, 0)
        self.stats.signatures[signature] = seen + 1
        if seen < SAVED_PER_SIGNATURE:
            name = f"crash-{_short(signature.encode())}-{_short(data)}"
            trace = "".join(traceback.format_exception(exc))
            self._save(name, data, f"{signature}\ninput {data!r}\n\n{trace}")

    def _slow(self, data: bytes, elapsed: int) -> None:
        retimed = []
        for _ in range(3):
            started = self.cost_clock()
            with contextlib.suppress(Exception):
                self.target.adapter(data)
            retimed.append(self.cost_clock() - started)
        if min(retimed) <= self.hang_ns:
            self.stats.slow_not_reproduced += 1
            return
        self.stats.hangs += 1
        if self.stats.hangs <= SAVED_HANGS:
            shown = ", ".join(f"{t / 1e6:.1f}" for t in [elapsed, *retimed])
            self._save(f"hang-{_short(data)}", data, f"{len(data)} bytes, ms: {shown}\ninput {data!r}\n")

    def _save(self, name: str, data: bytes, text: str) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        (self.out_dir / name).write_bytes(data)
        (self.out_dir / f"{name}.txt").write_text(text)

    def finish(self) -> Stats:
        stats = self.stats
        stats.inputs = len(self.times)
        stats.seconds = (self._last - self._first - self._excluded) / 1e9 if self._first is not None else 0.0
        if self.times:
            ordered = sorted(self.times)
            stats.max_ms = ordered[-1] / 1e6
            stats.p99_ms = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] / 1e6
            stats.p50_ms = ordered[len(ordered) // 2] / 1e6
        return stats


def _signature(exc: BaseException) -> str:
    """Exception type and the innermost line of project code it came from: one entry per bug."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if f.filename.startswith(str(ROOT)) and "/.venv/" not in f.filename]
    frame = (ours or frames)[-1] if (ours or frames) else None
    where = f"{Path(frame.filename).resolve().relative_to(ROOT)}:{frame.lineno}" if frame and ours else "?"
    return f"{type(exc).__name__} at {where}"


def _short(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()[:12]


def measure_baseline(target: Target, seeds: list[bytes], stats: Stats, seconds: float) -> None:
    """The adapter over the unmutated seeds, whole rounds, until ``seconds`` have passed."""
    count = 0
    started = time.perf_counter()
    while True:
        for data in seeds:
            with contextlib.suppress(*target.errors):
                target.adapter(data)
        count += len(seeds)
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            break
    stats.baseline_inputs, stats.baseline_seconds = count, elapsed


def _fresh_dir(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def _write_dict(path: Path, tokens: Iterable[bytes]) -> None:
    """libFuzzer's -dict format: one quoted word per line, bytes outside printable ASCII as \\xNN."""
    lines = []
    for token in tokens:
        escaped = "".join(chr(b) if 0x20 <= b < 0x7F and b not in b'"\\' else f"\\x{b:02X}" for b in token)
        lines.append(f'"{escaped}"')
    path.write_text("\n".join(lines) + "\n")


# --- the atheris worker: one target per process ------------------------------------------------------------


def atheris_worker(args: argparse.Namespace) -> None:
    import atheris

    with atheris.instrument_imports(include=args.instrument.split(",")):
        from fuzz_targets import TARGETS  # the parsers are imported here, so they are instrumented

    target = TARGETS[args.worker]
    out = Path(args.out) / target.name
    seeds_dir = _fresh_dir(out / "seeds")
    seeds = target.seeds()
    for data in seeds:
        (seeds_dir / _short(data)).write_bytes(data)
    corpus_dir = out / "corpus"
    if not args.keep_corpus:
        _fresh_dir(corpus_dir)
    corpus_dir.mkdir(parents=True, exist_ok=True)

    recorder = Recorder(target, out, f"atheris {_atheris_version()}", hang_ms=args.hang_ms)
    measure_baseline(target, seeds, recorder.stats, args.baseline_seconds)

    def report() -> None:
        Path(args.stats).write_text(json.dumps(asdict(recorder.finish())))

    # atheris counts the runs itself and then exits through Python, so atexit handlers run (libFuzzer's own
    # -runs ends the process from C, and they would not).
    atexit.register(report)
    flags = [
        sys.argv[0],
        str(corpus_dir),
        str(seeds_dir),
        f"-atheris_runs={args.runs}",
        f"-seed={args.seed}",
        f"-max_len={args.max_len or target.max_len}",
        "-timeout=10",  # a real infinite loop: libFuzzer stops and writes timeout-<sha1> there
        f"-artifact_prefix={out}/",
        "-reload=0",
    ]
    if target.tokens:
        _write_dict(out / "tokens.dict", target.tokens)
        flags.append(f"-dict={out / 'tokens.dict'}")
    atheris.Setup(flags, recorder)
    atheris.Fuzz()


def _atheris_version() -> str:
    try:
        from importlib.metadata import version

        return version("atheris")
    except Exception:
        return "?"


def run_atheris(target: str, args: argparse.Namespace) -> Stats:
    stats_path = Path(args.out) / target / "stats.json"
    stats_path.unlink(missing_ok=True)
    stats_path.parent.mkdir(parents=True, exist_ok=True)
    log_path = Path(args.out) / target / "libfuzzer.log"
    command = [
        sys.executable, __file__, "--worker", target, "--runs", str(args.runs), "--seed", str(args.seed),
        "--out", args.out, "--stats", str(stats_path), "--hang-ms", str(args.hang_ms),
        "--max-len", str(args.max_len), "--baseline-seconds", str(args.baseline_seconds),
        "--instrument", args.instrument,
    ]
    if args.keep_corpus:
        command.append("--keep-corpus")
    with log_path.open("wb") as log:
        returncode = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False).returncode
    if not stats_path.exists():
        return Stats(target, "atheris", note=f"worker died (exit {returncode}): see {log_path}")
    stats = Stats(**json.loads(stats_path.read_text()))
    if returncode != 0:
        stats.note = f"libFuzzer stopped early (exit {returncode}): see {log_path}"
    return stats


# --- the fallback engine, in this process ---------------------------------------------------------------


def run_mutate(name: str, args: argparse.Namespace) -> Stats:
    from fuzz_targets import TARGETS, generate

    target = TARGETS[name]
    seeds = target.seeds()
    _fresh_dir(Path(args.out) / name)
    recorder = Recorder(target, Path(args.out) / name, "mutate (no coverage)", hang_ms=args.hang_ms)
    measure_baseline(target, seeds, recorder.stats, args.baseline_seconds)
    for data in generate(target, args.runs, args.seed, seeds):
        recorder(data)
    stats = recorder.finish()
    (Path(args.out) / name / "stats.json").write_text(json.dumps(asdict(stats)))
    return stats


# --- the table ------------------------------------------------------------------------------------------

HEADER = ("target", "inputs", "exec/s", "baseline exec/s", "ratio", "max ms", "p99 ms", "crashes", "hangs")


def row(stats: Stats) -> tuple[str, ...]:
    ratio = stats.exec_per_s / stats.baseline_per_s if stats.baseline_per_s else 0.0
    return (
        stats.target,
        f"{stats.inputs:,}",
        f"{stats.exec_per_s:,.0f}",
        f"{stats.baseline_per_s:,.0f}",
        f"{ratio:.2f}",
        f"{stats.max_ms:.1f}",
        f"{stats.p99_ms:.2f}",
        str(stats.crashes),
        str(stats.hangs),
    )


def print_table(results: list[Stats]) -> None:
    rows = [HEADER, *(row(s) for s in results)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    for r in rows:
        cells = (cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(r, widths, strict=True)))
        print("  ".join(cells))
    for stats in results:
        for signature, count in stats.signatures.items():
            print(f"  {stats.target}: {count} input(s): {signature}")
        if stats.slow_not_reproduced:
            print(f"  {stats.target}: {stats.slow_not_reproduced} input(s) over the hang limit once, "
                  "under it on all three re-runs (machine noise, not hangs)")
        if stats.note:
            print(f"  {stats.target}: {stats.note}")


def markdown(results: list[Stats]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row(s)) + " |" for s in results]
    return "\n".join(lines) + "\n"


def report(names: list[str], out: Path) -> int:
    """The table from the targets' last runs (each can be run on its own, at its own time)."""
    results = []
    for name in names:
        path = out / name / "stats.json"
        if path.exists():
            results.append(Stats(**json.loads(path.read_text())))
        else:
            print(f"  {name}: no stats.json in {path.parent}: not run yet", file=sys.stderr)
    print_table(results)
    (out / "summary.md").write_text(markdown(results))
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help="inputs per target (default 10^6)")
    parser.add_argument("--target", action="append", help="run only this target (repeatable); see --list")
    parser.add_argument("--list", action="store_true", help="list the targets and exit")
    parser.add_argument("--engine", choices=("auto", "atheris", "mutate"), default="auto")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--hang-ms", type=float, default=HANG_MS)
    parser.add_argument("--max-len", type=int, default=0, help="longest input atheris makes (default: the target's)")
    parser.add_argument("--baseline-seconds", type=float, default=2.0)
    parser.add_argument("--out", default=str(ROOT / "artifacts" / "fuzz"))
    parser.add_argument("--instrument", default=INSTRUMENTED, help="packages atheris instruments for coverage")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a crash or hang was found")
    parser.add_argument("--report", action="store_true",
                        help="print the table of the last run of each target from its stats.json, run nothing")
    parser.add_argument("--keep-corpus", action="store_true", help="start from the corpus a previous run grew")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--stats", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _engine(choice: str) -> str:
    if choice != "auto":
        return choice
    try:
        import atheris  # noqa: F401
    except ImportError:
        print("atheris is not installed (pip install -e .[fuzz]): falling back to the mutation fuzzer, "
              "without coverage feedback", file=sys.stderr)
        return "mutate"
    return "atheris"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        atheris_worker(args)
        return 0
    from fuzz_targets import TARGETS

    if args.list:
        for target in TARGETS.values():
            print(f"{target.name:16} {target.parser}")
        return 0
    names = args.target or list(TARGETS)
    unknown = sorted(set(names) - set(TARGETS))
    if unknown:
        print(f"unknown target(s) {unknown}; known: {list(TARGETS)}", file=sys.stderr)
        return 2
    if args.report:
        return report(names, Path(args.out))
    engine = _engine(args.engine)
    run = run_atheris if engine == "atheris" else run_mutate
    print(f"engine {engine}, {args.runs:,} inputs per target, hang limit {args.hang_ms:g} ms, seed {args.seed}",
          flush=True)
    results = []
    for name in names:
        started = time.perf_counter()
        stats = run(name, args)
        results.append(stats)
        print(f"  {name}: {stats.inputs:,} inputs in {time.perf_counter() - started:.0f} s, "
              f"{stats.crashes} crashes, {stats.hangs} hangs {stats.note}", flush=True)
    print()
    print_table(results)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps([asdict(s) for s in results], indent=1))
    (out / "summary.md").write_text(markdown(results))
    found = any(s.crashes or s.hangs or s.note for s in results)
    return 1 if found and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
