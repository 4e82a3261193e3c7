"""The block size of the tags a reader met lately, so the next read of the same tag need not ask again.

Why bounded: a reader meets every tag that ever crosses its field. A returns bin's chute sees each
book returned, month after month, and a plain dict keyed by UID grew by one entry per book for as
long as the process ran (bench/returns_memory.py). Only the tags in the field now, or just seen, are
read again soon: a pad's stack is a few dozen tags at most. So the :data:`KEEP` most recently used are
kept and the oldest forgotten; a forgotten tag that comes back costs one system-information request.

Not thread-safe by itself: a reader serves one frame at a time, and so uses this from one thread.
"""

from __future__ import annotations

from collections import OrderedDict

#: How many tags' block sizes are kept: far more than any stack on a pad, far fewer than a library.
KEEP = 512


class BlockSizes:
    """UID -> block size in bytes, least recently used forgotten first beyond ``keep`` tags."""

    def __init__(self, keep: int | None = None) -> None:
        self.keep = KEEP if keep is None else keep
        if self.keep < 1:
            raise ValueError(f"keep must be at least 1, got {self.keep}")
        self._sizes: OrderedDict[bytes, int] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sizes)

    def get(self, uid: bytes) -> int | None:
        """The block size known for ``uid`` (it becomes the most recently used), None if unknown."""
        key = bytes(uid)
        size = self._sizes.get(key)
        if size is None:
            return None
        self._sizes.move_to_end(key)
        return size

    def __setitem__(self, uid: bytes, size: int) -> None:
        key = bytes(uid)
        self._sizes[key] = size
        self._sizes.move_to_end(key)
        while len(self._sizes) > self.keep:
            self._sizes.popitem(last=False)

    def setdefault(self, uid: bytes, size: int) -> int:
        """The size known for ``uid``, or ``size`` remembered for it."""
        known = self.get(uid)
        if known is not None:
            return known
        self[uid] = size
        return size
