"""Engine tunables (``EngineSettings``), what one run's engine parts share (``RunContext``) and
the default clock (the event loop's)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace

import anyio

from fleet.engine.polling import PollSettings
from fleet.ports import Clock
from fleet.secrets import Secrets


@dataclass(frozen=True)
class WatchSettings:
    """The storage watch's tunables (``completion: storage``, ``fleet.engine.storage_watch``);
    Azure-seconds unless said otherwise."""

    poll_s: float = 5.0  # between looks at the container while targets wait
    tail_bytes: int = 4096  # read from the end of a grown stdout blob
    suspect_s: float = 300.0  # no record this long after launch: ask ARM (nothing learned yet)
    suspect_factor: float = 2.0  # later: after this x the 95th percentile of completion times
    min_suspect_s: float = 60.0
    learn_after: int = 5  # completions before the percentile is trusted
    recheck_s: float = 30.0  # a waiting target re-reads its suspect time this often
    blind_after: int = 3  # consecutive failed looks (no answer, 5xx) before giving up

    def scaled(self, time_scale: float) -> WatchSettings:
        k = max(time_scale, 1e-9)
        return replace(
            self, poll_s=self.poll_s / k, suspect_s=self.suspect_s / k,
            min_suspect_s=self.min_suspect_s / k, recheck_s=self.recheck_s / k,
        )  # fmt: skip


@dataclass(frozen=True)
class EngineSettings:
    time_scale: float = 1.0  # >1 only against an emulator running K times faster than Azure
    poll: PollSettings = field(default_factory=PollSettings)
    storage: WatchSettings = field(default_factory=WatchSettings)  # completion: storage
    wedge_grace_s: float = 120.0  # Azure-seconds past the script timeout before "Wedged"
    put_unknown_retries: int = 3  # re-reads of a PUT whose fate is unknown before giving up
    # Azure-seconds between a PUT of unknown fate and the read that decides whether it arrived:
    # a PUT still being processed inside Azure must not be read as a lost one.
    put_settle_s: float = 5.0
    progress_interval_s: float = 0.25  # wall seconds between progress callbacks
    # PUTs per subscription allowed to wait in the throttle queue at once: enough to keep its
    # write bucket busy (Azure admits ~10/s), few enough that a stop holds back the rest.
    puts_in_flight: int = 32
    interrupt_call_s: float = 60.0  # Azure-seconds for the last read / delete when stopping
    # At Azure's per-VM limit: how often to free a slot and PUT again (another tool may take
    # the slot first), and how a deletion is waited for (Azure-seconds: first read, longest
    # gap between reads, longest wait in all).
    reclaim_rounds: int = 3
    delete_poll_s: float = 2.0
    delete_poll_max_s: float = 15.0
    delete_wait_s: float = 300.0
    # Reboots (``fleet.engine.reboot``): how a restarting VM's instance view is read — its own
    # planner, so it learns how long VMs take to come back (Azure-seconds: a scout's first read
    # 15 s after the restart, never two reads of one VM within 5 s, none more than a minute
    # apart: Low Cost Get VM allows 12 reads a minute per VM; never hurried at a run's tail) —
    # and how long fleet waits after a restart's answer was lost before reading whether it
    # arrived.
    reboot_poll: PollSettings = field(
        default_factory=lambda: PollSettings(
            first_delay_s=15.0,
            growth=1.5,
            min_gap_s=5.0,
            max_gap_s=60.0,
            recheck_s=5.0,
            tail_reads_per_s=0.0,
        )
    )
    restart_settle_s: float = 10.0

    def engine_s(self, azure_s: float) -> float:
        """Azure seconds (rollout pauses, deadlines, grace) as engine seconds."""
        return azure_s / max(self.time_scale, 1e-9)


class AnyioClock:
    """The event loop's clock. On asyncio it asks the running loop directly: ``anyio``'s own
    functions find the backend first on every call, and the engine reads the clock and sleeps
    a few times per poll of every target (#16); anyio's cancel scopes cancel an asyncio sleep
    all the same. Elsewhere (trio) it goes through anyio."""

    def now(self) -> float:
        try:
            return asyncio.get_running_loop().time()
        except RuntimeError:  # not on asyncio
            return anyio.current_time()

    async def sleep(self, seconds: float) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # not on asyncio
            await anyio.sleep(seconds)
            return
        await asyncio.sleep(seconds)


@dataclass(frozen=True)
class RunContext:
    """What every engine part of one run shares: the run id (each PUT's ``FLEET_RUN_ID``), the
    settings, the clock and the run's secrets (to redact whatever Azure hands back)."""

    run_id: str
    settings: EngineSettings
    clock: Clock
    secrets: Secrets
