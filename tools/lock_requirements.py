"""Write ``requirements.lock``: the kiosk's runtime dependencies as resolved in this virtualenv, pinned.

Why a lock at all: ``pyproject.toml`` says what the kiosk can run with (``>=`` ranges); a kiosk
fleet should run what was tested, and ``pip-audit`` needs exact versions to say whether a known
vulnerability applies. Why from the installed virtualenv and not a resolver: the versions the tests
ran against are the ones worth pinning, and this needs nothing but the standard library and
``packaging`` (which pip's test tools already bring).

Only runtime dependencies: ``library-kiosk``'s own requirements and theirs, without the ``test``
extra (pytest, hypothesis...) that never reaches a kiosk. Environment markers are evaluated for this
machine; the header names it, since a Raspberry Pi may differ in platform-specific dependencies.

    .venv/bin/python tools/lock_requirements.py            # (re)write requirements.lock
    .venv/bin/python tools/lock_requirements.py --check    # exit 1 if it is not what the venv has
"""

from __future__ import annotations

import argparse
import importlib.metadata as metadata
import platform
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PROJECT = "library-kiosk"
ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"


def project_requirements(pyproject: Path = ROOT / "pyproject.toml") -> list[Requirement]:
    """The project's own runtime requirements, from pyproject.toml: an editable install's metadata
    is only as fresh as the last ``pip install -e``."""
    with pyproject.open("rb") as file:
        return [Requirement(text) for text in tomllib.load(file)["project"]["dependencies"]]


def runtime_closure(roots: list[Requirement]) -> dict[str, str]:
    """Canonical name -> installed version of everything ``roots`` need to run, theirs included."""
    pinned: dict[str, str] = {}
    wanted: dict[str, set[str]] = {}  # extras already followed per package
    todo = [(r.name, set(r.extras)) for r in roots if r.marker is None or r.marker.evaluate({"extra": ""})]
    while todo:
        name, asked = todo.pop()
        key = canonicalize_name(name)
        seen = wanted.setdefault(key, set())
        if key in pinned and asked <= seen:
            continue
        seen |= asked
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise SystemExit(f"lock: {name} is required but not installed in {sys.prefix}") from None
        pinned[key] = dist.version
        for text in dist.requires or []:
            requirement = Requirement(text)
            marker = requirement.marker
            if marker is not None and not any(marker.evaluate({"extra": e}) for e in (seen or {""})):
                continue
            todo.append((requirement.name, set(requirement.extras)))
    return dict(sorted(pinned.items()))


def render(pins: dict[str, str]) -> str:
    head = [
        f"# Runtime dependencies of {PROJECT}, pinned as installed: regenerate with `./dev lock`.",
        f"# Resolved on {platform.system()} {platform.machine()}, CPython {platform.python_version()}.",
        "# Install a kiosk with: pip install -c requirements.lock .   Audit with: ./dev audit",
    ]
    return "\n".join([*head, *(f"{name}=={version}" for name, version in pins.items())]) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare with the file; exit 1 if it differs")
    parser.add_argument("--output", type=Path, default=LOCK, help="where to write (default requirements.lock)")
    args = parser.parse_args(argv)
    pins = runtime_closure(project_requirements())
    body = render(pins)
    # The header's machine line may differ between machines; the pins are what must match.
    pins_only = [line for line in body.splitlines() if not line.startswith("#")]
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if [line for line in current.splitlines() if not line.startswith("#")] != pins_only:
            print(f"{args.output} differs from this virtualenv: run ./dev lock", file=sys.stderr)
            return 1
        print(f"{args.output}: {len(pins)} pins match the virtualenv")
        return 0
    args.output.write_text(body, encoding="utf-8")
    print(f"wrote {args.output}: {len(pins)} runtime dependencies")
    return 0


if __name__ == "__main__":
    sys.exit(main())
