"""One set of throttle buckets per identity in this process (issue #17, "share within fleet").

Every backend of one identity (``fleet.azure.identity``) in a process — several runs of
``fleet serve``, a library caller opening several connections — draws from the same
:class:`fleet.azure.limiter.BucketSet`: Azure counts their requests together, so must fleet. The
set lives while at least one backend holds it; after the last one leaves it is dropped, and the
next backend starts from the state directory's estimate (or learns the buckets afresh), as a new
process would. The first holder's limits are the set's limits.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from fleet.azure.bucket_set import BucketSet

_lock = threading.Lock()
_sets: dict[str, tuple[BucketSet, int]] = {}


@contextmanager
def shared_buckets(
    identity: str, make: Callable[[], BucketSet]
) -> Iterator[tuple[BucketSet, bool]]:
    """The bucket set of ``identity`` (made by ``make`` for its first holder) and whether this
    holder made it, held until the block ends."""
    with _lock:
        found = _sets.get(identity)
        made = found is None
        buckets, holders = (make(), 0) if found is None else found
        _sets[identity] = (buckets, holders + 1)
    try:
        yield buckets, made
    finally:
        with _lock:
            buckets, holders = _sets[identity]
            if holders <= 1:
                del _sets[identity]
            else:
                _sets[identity] = (buckets, holders - 1)


def holders(identity: str) -> int:
    """How many backends hold ``identity``'s set now (0: none is kept)."""
    with _lock:
        found = _sets.get(identity)
    return 0 if found is None else found[1]
