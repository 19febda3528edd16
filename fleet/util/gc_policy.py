"""The cyclic garbage collector's pace while a run is going: fewer, larger collections.

A run keeps a large, long-lived heap (every target, its task and its state; ~270 MB at 10,000
targets) and allocates quickly (a few hundred objects per HTTP request). At CPython's default
thresholds (700, 10, 10) that heap is walked by a full collection every time it grows by a
quarter, and the young generations are collected thousands of times: 2.4-2.6 of ~30 CPU-seconds
of the client on mixed-10k (issue #16, measured with ``gc.callbacks``). With the thresholds
below, and with what existed before the run frozen out of the collections (``gc.freeze``: the
selection, the clients, the imported SDK), the same run spends ~0.9 s, at about the same peak
memory (mixed-10k 276 MB as before; vms-2k 145 MB against 134): what fleet frees is nearly all
freed by reference counting, not by the collector.

``fewer_collections()`` is re-entrant and counted (``fleet serve`` may run several jobs at once):
the first run in sets the thresholds, the last one out puts back what it found.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

RUN_THRESHOLDS = (20_000, 50, 100)

_lock = threading.Lock()
_active = 0
_saved: tuple[int, int, int] | None = None


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """``RUN_THRESHOLDS``, and the heap from before frozen, while at least one run is inside;
    the earlier thresholds, and every object collectable again, after."""
    global _active, _saved
    with _lock:
        if _active == 0:
            _saved = gc.get_threshold()
            gc.set_threshold(*RUN_THRESHOLDS)
            gc.freeze()
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0 and _saved is not None:
                gc.unfreeze()
                gc.set_threshold(*_saved)
                _saved = None
