"""Keeps one identity's throttle buckets in step with the state directory (issue #17), through
``fleet.ports.BucketMemory`` (the journal's ``buckets`` table):

* **Remember across a crash.** At the start, a bucket another process of the identity recorded —
  crashed or still running — starts from that record's level plus the refill since, instead of
  full (and still learns the server's count before it bursts: ``fleet.azure.bucket_model``).
* **Share with other processes.** Every :data:`TICK_S` this process records its buckets (level
  and pace) and a presence row per subscription it works on (``presence:*`` when it was not
  given any), and reads the others'. A process whose records are fresher than :data:`PEER_S`
  (and, on this host, whose pid still runs) shares a bucket when it has a row for it or a
  presence row for its subscription: each of ``n`` sharing processes takes ``1/n`` of the
  burst, the pace and what the counts say is left. Presence rows are written before this
  process sends anything, so two runs started together split their first bursts too; a run
  that starts while another is mid-burst sees it at once, the other sees the newcomer a tick
  later (a few 429s can slip through in between).

Only subscription-wide buckets are recorded (ARM kinds, Compute's (subscription, region,
policy), Resource Graph); per-resource buckets are many and each is learnt from one answer. The
state directory failing never stops a run: the keeper logs it once and stops.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

import anyio
import structlog

from fleet.azure.bucket_set import BucketSet
from fleet.model import BucketRecord
from fleet.ports import BucketMemory

log = structlog.get_logger("fleet.azure")

TICK_S = 0.25
PEER_S = 5.0
_RECORDED = ("arm:", "compute:", "graph")
Process = tuple[str, int]  # (host, pid)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but not ours, or cannot tell: alive is the safe answer
        return True
    return True


def subscription_of(bucket: str) -> str | None:
    """``arm:<sub>:writes`` / ``compute:<sub>:<region>:<policy>`` -> ``<sub>``."""
    parts = bucket.split(":")
    return parts[1] if len(parts) >= 3 and parts[0] in ("arm", "compute") else None


class BucketKeeper:
    def __init__(
        self,
        buckets: BucketSet,
        memory: BucketMemory,
        identity: str,
        subscriptions: Sequence[str] = (),
        *,
        wall: Callable[[], float] = time.time,
        alive: Callable[[int], bool] = _pid_alive,
    ) -> None:
        self.buckets, self.memory, self.identity = buckets, memory, identity
        self.me: Process = (socket.gethostname(), os.getpid())
        self._presence = [f"presence:{s.lower()}" for s in subscriptions] or ["presence:*"]
        self._wall, self._alive = wall, alive
        self.failed = False

    def _mine(self) -> list[BucketRecord]:
        now, (host, pid) = self._wall(), self.me
        records = [BucketRecord(name, 0.0, 0.0, now, pid, host) for name in self._presence]
        for bucket in self.buckets:
            if bucket.name.startswith(_RECORDED):
                reading = bucket.reading()
                records.append(
                    BucketRecord(bucket.name, reading.level, reading.rate, now, pid, host)
                )
        return records

    async def exchange(self) -> list[BucketRecord] | None:
        """Record this process's rows, read everyone's (None once the state directory failed)."""
        if self.failed:
            return None
        mine = self._mine()
        try:
            return await anyio.to_thread.run_sync(self.memory.exchange, self.identity, mine)
        except Exception as exc:  # a full disk or a locked journal must not stop the run
            self.failed = True
            log.warning("buckets.state_dir_failed", error=str(exc))
            return None

    def remember(self, records: Sequence[BucketRecord]) -> None:
        """Start not-yet-used buckets from the newest record another process left of them."""
        now, newest = self._wall(), {}
        theirs = [r for r in records if (r.host, r.pid) != self.me]
        for r in sorted(theirs, key=lambda r: r.at):
            if not r.bucket.startswith("presence:"):
                newest[r.bucket] = r
        estimates = {b: r.level + r.rate * max(0.0, now - r.at) for b, r in newest.items()}
        self.buckets.remember(estimates)
        if estimates:
            log.info("buckets.remembered", buckets=len(estimates))

    def share(self, records: Sequence[BucketRecord]) -> None:
        """Tell every bucket how many live processes (this one included) draw from it."""
        now = self._wall()
        uses: dict[Process, set[str]] = {}
        for r in records:
            proc = (r.host, r.pid)
            if proc != self.me and now - r.at <= PEER_S:
                uses.setdefault(proc, set()).add(r.bucket)
        live = [
            names for (host, pid), names in uses.items() if host != self.me[0] or self._alive(pid)
        ]

        def peers(name: str) -> int:
            present = {name, "presence:*", f"presence:{subscription_of(name) or '*'}"}
            return 1 + sum(1 for names in live if names & present)

        self.buckets.set_peers(peers)

    async def run(self) -> None:
        """Exchange records every TICK_S until cancelled or the state directory fails."""
        while not self.failed:
            await anyio.sleep(TICK_S)
            records = await self.exchange()
            if records is not None:
                self.share(records)


@asynccontextmanager
async def keeping(
    buckets: BucketSet,
    memory: BucketMemory | None,
    identity: str,
    subscriptions: Sequence[str],
    *,
    first: bool,
) -> AsyncIterator[BucketKeeper | None]:
    """Run a keeper for the block (nothing without ``memory``). ``first``: this process had no
    bucket set for the identity yet, so remembered estimates apply."""
    if memory is None:
        yield None
        return
    keeper = BucketKeeper(buckets, memory, identity, subscriptions)
    records = await keeper.exchange()  # presence first: peers see us before we send anything
    if records is not None:
        if first:
            keeper.remember(records)
        keeper.share(records)
    async with anyio.create_task_group() as tg:
        tg.start_soon(keeper.run)
        try:
            yield keeper
        finally:
            tg.cancel_scope.cancel()
    with anyio.CancelScope(shield=True):
        await keeper.exchange()  # the last word, for a later resume
