"""Importing python-escpos without its side effects on the process.

``escpos.capabilities`` runs three things at import (python-escpos 3.1, checked in its source):

* ``environ.get("ESCPOS_CAPABILITIES_PICKLE_DIR", mkdtemp())``: the default argument is evaluated
  whatever the variable says, so every import leaves an empty directory in /tmp, even with the
  variable set (setting it only moves the pickle). The import runs here with ``tempfile.tempdir``
  pointing into the kiosk's cache, and the empty directory is removed afterwards;
* a pickle cache of its printer database, written to that directory: it goes to the kiosk's cache
  directory (systemd's ``CacheDirectory=``, else ``$XDG_CACHE_HOME/kiosk``), where it survives restarts;
* ``logging.basicConfig()``: when the process has not configured logging yet, that installs a root
  handler, after which the kiosk's own ``basicConfig`` (format, level) silently does nothing. A
  handler it added is removed again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType

_lock = threading.Lock()


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where the kiosk keeps what it can rebuild: systemd's CacheDirectory= first."""
    env = os.environ if environ is None else environ
    systemd = env.get("CACHE_DIRECTORY", "").split(":")[0]
    if systemd:
        return Path(systemd)
    xdg = env.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "kiosk"


def load_escpos(cache: Path | None = None) -> ModuleType:
    """``escpos.printer``, imported once per process with the side effects above contained."""
    with _lock:
        if "escpos.printer" in sys.modules:
            return sys.modules["escpos.printer"]
        pickle_dir = (cache or cache_dir()) / "escpos"
        pickle_dir.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("ESCPOS_CAPABILITIES_PICKLE_DIR", str(pickle_dir))
        scratch = Path(tempfile.mkdtemp(prefix="import-", dir=pickle_dir))
        root = logging.getLogger()
        handlers = list(root.handlers)
        saved_tempdir = tempfile.tempdir
        tempfile.tempdir = str(scratch)
        try:
            import escpos.printer as printer
        finally:
            tempfile.tempdir = saved_tempdir
            if not handlers:
                for handler in [h for h in root.handlers if h not in handlers]:
                    root.removeHandler(handler)
            for leftover in scratch.iterdir():
                with contextlib.suppress(OSError):
                    leftover.rmdir()  # only empty directories: anything else is not ours to delete
            with contextlib.suppress(OSError):
                scratch.rmdir()
        return printer
