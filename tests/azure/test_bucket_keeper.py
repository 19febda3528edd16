"""fleet.azure.bucket_keeper over the journal's real ``buckets`` table: a crashed process's last
estimate starts the next one's buckets, live processes of one identity split the buckets they
share (dead or silent ones do not), and a failing state directory never stops a run."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from fleet.azure.bucket_keeper import BucketKeeper, keeping
from fleet.azure.bucket_set import BucketSet
from fleet.azure.limits import ThrottleLimits
from fleet.azure.request_class import RequestClass
from fleet.journal.buckets import BucketJournal
from fleet.model import BucketRecord

pytestmark = pytest.mark.anyio

ID = "0123456789abcdef"
WRITES = RequestClass("sub-1", "writes")
OTHER_SUB = RequestClass("sub-2", "writes")


class Wall:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def _keeper(
    memory: BucketJournal, wall: Wall, pid: int, subs: Sequence[str] = ("sub-1",), **kw: object
) -> BucketKeeper:
    buckets = BucketSet(ThrottleLimits.published(), clock=lambda: 0.0)  # time stands still
    keeper = BucketKeeper(buckets, memory, ID, subs, wall=wall, **kw)  # type: ignore[arg-type]
    keeper.me = ("host-a", pid)
    return keeper


async def test_a_crashed_processs_estimate_starts_the_next_one(tmp_path: Path) -> None:
    wall = Wall()
    with BucketJournal(tmp_path) as memory:
        crashed = _keeper(memory, wall, pid=1)
        (bucket,) = crashed.buckets.buckets_for(WRITES, None)
        bucket.restore(4.0)  # what it could still spend when it was killed
        await crashed.exchange()
        wall.now += 2.0
        resumed = _keeper(memory, wall, pid=2, alive=lambda pid: False)
        records = await resumed.exchange()
        assert records is not None
        resumed.remember(records)
        resumed.share(records)
    (fresh,) = resumed.buckets.buckets_for(WRITES, None)
    assert fresh.available() == pytest.approx(4.0 + 9.0 * 2.0)  # + refill since
    assert fresh.model.peers == 1  # the dead process shares nothing
    assert not fresh.model.known  # and the first answer is still awaited before a burst


async def test_live_processes_on_one_subscription_split_its_buckets(tmp_path: Path) -> None:
    wall = Wall()
    with BucketJournal(tmp_path) as memory:
        first = _keeper(memory, wall, pid=1)
        second = _keeper(memory, wall, pid=2)
        elsewhere = _keeper(memory, wall, pid=3, subs=("sub-2",))
        for keeper in (first, second, elsewhere, first):
            records = await keeper.exchange()
            assert records is not None
            keeper.share(records)
    (ours,) = first.buckets.buckets_for(WRITES, None)
    (theirs,) = first.buckets.buckets_for(OTHER_SUB, None)
    assert ours.model.peers == 2  # first and second present on sub-1 before either sent
    assert theirs.model.peers == 2  # the third works on sub-2
    assert ours.reading().rate == pytest.approx(4.5)


async def test_silent_and_dead_peers_stop_counting(tmp_path: Path) -> None:
    wall = Wall()
    with BucketJournal(tmp_path) as memory:
        gone = _keeper(memory, wall, pid=1)
        await gone.exchange()
        me = _keeper(memory, wall, pid=2, alive=lambda pid: pid != 1)
        records = await me.exchange()
        assert records is not None
        me.share(records)
        (bucket,) = me.buckets.buckets_for(WRITES, None)
        assert bucket.model.peers == 1  # pid 1 no longer runs on this host
        other_host = _keeper(memory, wall, pid=1)
        other_host.me = ("host-b", 1)
        await other_host.exchange()
        records = await me.exchange()
        assert records is not None
        me.share(records)
        assert bucket.model.peers == 2  # cannot check a pid on another host: its heartbeat
        wall.now += 6.0
        records = await me.exchange()
        assert records is not None
        me.share(records)
        assert bucket.model.peers == 1  # silent for longer than PEER_S


class Broken:
    def exchange(self, identity: str, mine: Sequence[BucketRecord]) -> list[BucketRecord]:
        raise OSError("disk full")


async def test_a_failing_state_directory_never_stops_the_run() -> None:
    buckets = BucketSet(ThrottleLimits.published())
    async with keeping(buckets, Broken(), ID, ("sub-1",), first=True) as keeper:
        assert keeper is not None and keeper.failed
        (bucket,) = buckets.buckets_for(WRITES, None)
        await bucket.acquire()
        assert bucket.reading().in_flight == 1  # admitted: the run goes on


async def test_keeping_records_presence_first_and_the_last_word_at_the_end(tmp_path: Path) -> None:
    buckets = BucketSet(ThrottleLimits.published())
    with BucketJournal(tmp_path) as memory:
        async with keeping(buckets, memory, ID, ("SUB-1",), first=True) as keeper:
            assert keeper is not None
            present = memory.exchange("another-identity", [])
            assert present == []
            rows = memory.exchange(ID, [])
            assert [r.bucket for r in rows] == ["presence:sub-1"]
            (bucket,) = buckets.buckets_for(WRITES, None)
            await bucket.acquire()
            bucket.answered(120)
        rows = memory.exchange(ID, [])
    last = {r.bucket: r for r in rows}
    assert last["arm:sub-1:writes"].level == pytest.approx(110, abs=1)  # 120 less the cushion
    async with keeping(buckets, None, ID, (), first=True) as nothing:
        assert nothing is None
