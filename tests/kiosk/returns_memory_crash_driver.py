"""A returns bin's memory being written as fast as it can, for the SIGKILL test in
tests/kiosk/test_shell_returns_memory.py.

Run as ``python tests/kiosk/returns_memory_crash_driver.py PATH``. It opens the memory at ``PATH``
(reading what a killed predecessor left), then for n = the remembered n + 1, + 2, ... has
:func:`state` (n) written and, once :meth:`ReturnsMemory.flush` says the file holds it, prints
``n``, flushed. The test kills it with SIGKILL at a random moment: the writer thread is almost always
inside a write then.
"""

from __future__ import annotations

import sys

from kiosk.circulation.returns import Remembered, ReturnException
from kiosk.shell.returns_memory import ReturnsMemory


def state(n: int) -> Remembered:
    """The n-th memory: every part depends on n, so a mixture of two writes is recognisable. Every
    seventh one clears the exceptions (the write that also empties the WAL)."""
    exceptions = tuple(
        ReturnException(seq=10 * n + i, item_id=f"3123400{n:06d}{i}", bin="exceptions", reason="returns.refused",
                        detail="d" * (n % 50), title=f"Title {n}-{i}")
        for i in range(n % 7)
    )
    counts = (("holds", n), ("transit", n // 2), ("reshelve", 3 * n), ("exceptions", n % 5))
    return Remembered(counts, exceptions, f"jam {n}" if n % 3 == 0 else "")


def n_of(memory: Remembered) -> int:
    return dict(memory.counts).get("holds", 0)


def main(path: str) -> None:
    memory = ReturnsMemory.open(path)
    n = n_of(memory.remembered)
    print(f"READY {n}", flush=True)
    while True:
        n += 1
        memory.remember(state(n))
        if not memory.flush(10.0):
            print("STUCK", flush=True)
            return
        print(n, flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
