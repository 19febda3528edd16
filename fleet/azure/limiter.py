"""Waiting for a token of one of Azure's throttling buckets, so fleet is never throttled.

:class:`Bucket` is a queue around a :class:`fleet.azure.bucket_model.BucketModel` (pure: what may
be spent now and how fast — learn before bursting, counts only lower a known level, adapt to
others, share between processes). The buckets of one identity, keyed as Azure keys its own, are
:class:`fleet.azure.bucket_set.BucketSet`; the published numbers and fleet's share of them are
:mod:`fleet.azure.limits`.

Waiting is first come, first served: requests queue per bucket; only the first in line waits —
for the time the model says, or until an answer, a count or a peer change may let it go sooner —
and each admission lets the next one try. A bucket works on whichever asyncio event loop calls it
(its futures and events are made by each call), one loop at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable

import anyio

from fleet.azure.bucket_model import BucketLimits, BucketModel, BucketReading

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class Bucket:
    """One bucket's queue around its :class:`BucketModel`."""

    def __init__(
        self,
        limits: BucketLimits,
        *,
        name: str = "",
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.name = name
        self.model = BucketModel(limits)
        self._clock = clock
        self._sleep = sleep
        self._queue: deque[asyncio.Future[None]] = deque()
        self._changed: asyncio.Future[None] | None = None  # what a nap waits on

    def __repr__(self) -> str:
        return f"Bucket({self.name!r}, {self.model.limits})"

    @property
    def limits(self) -> BucketLimits:
        return self.model.limits

    async def acquire(self) -> float:
        """Wait for this request's turn and a token; return the seconds waited. The caller must
        :meth:`answered` (or :meth:`untake`, if it never sends) for every token taken."""
        start = self._clock()
        me: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append(me)
        try:
            if self._queue[0] is not me:
                await me  # the one before us was admitted (or left)
            while (wait := self.model.wait(self._clock())) > 0:
                await self._nap(wait)
            self.model.take(self._clock())
        finally:
            self._leave(me)
        return self._clock() - start

    def try_take(self) -> bool:
        """Take a token now if nobody is queued and the model admits one (no waiting: the fast
        path of most requests); False, with nothing taken, otherwise."""
        if self._queue:
            return False
        now = self._clock()
        if self.model.wait(now) > 0:
            return False
        self.model.take(now)
        return True

    def _leave(self, me: asyncio.Future[None]) -> None:
        head = bool(self._queue) and self._queue[0] is me
        with contextlib.suppress(ValueError):
            self._queue.remove(me)
        if head and self._queue and not self._queue[0].done():
            self._queue[0].set_result(None)

    async def _nap(self, seconds: float) -> None:
        """Sleep ``seconds`` (``inf``: no limit), or less if the bucket changes meanwhile."""
        loop = asyncio.get_running_loop()
        changed: asyncio.Future[None] = loop.create_future()
        self._changed = changed
        if math.isinf(seconds):
            await changed
        elif self._sleep is asyncio.sleep:  # a timer handle, not a task and a task group (#16)
            timer = loop.call_later(seconds, _wake, changed)
            try:
                await changed
            finally:
                timer.cancel()
        else:  # an injected sleep (a test's clock): it runs as a task of its own
            async with anyio.create_task_group() as tg:

                async def timer_task() -> None:
                    await self._sleep(seconds)
                    _wake(changed)

                tg.start_soon(timer_task)
                await changed
                tg.cancel_scope.cancel()

    def _poke(self) -> None:
        if self._changed is not None:
            _wake(self._changed)

    def answered(self, count: int | None = None, *, charged: bool = True) -> None:
        """The request holding a token was answered, with the server's count if it gave one."""
        self.model.answered(self._clock(), count, charged=charged)
        self._poke()

    def untake(self) -> None:
        """A token was taken for a request that will not be sent."""
        self.model.untake(self._clock())
        self._poke()

    def throttled(self, seconds: float) -> None:
        """A 429 named this bucket: nobody acquires before ``seconds`` from now."""
        self.model.throttled(self._clock(), seconds)

    def pause(self, seconds: float) -> None:
        self.model.pause(self._clock(), seconds)

    def paused_for(self) -> float:
        return max(0.0, self.model.paused_until - self._clock())

    def set_peers(self, peers: int) -> None:
        if peers != self.model.peers:
            self.model.set_peers(self._clock(), peers)
            self._poke()

    def restore(self, level: float) -> None:
        self.model.restore(self._clock(), level)
        self._poke()

    def reading(self) -> BucketReading:
        return self.model.reading(self._clock())

    def available(self) -> float:
        return self.reading().level


def _wake(changed: asyncio.Future[None]) -> None:
    if not changed.done():
        changed.set_result(None)
