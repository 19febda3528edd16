"""The task queues as the server sees them: every worker sets the same server-side limit on a
subscription's write queue (fleet's share of its write budget, per launch of 8 targets), and
a run whose subscription no worker serves is refused before anything is sent."""

from __future__ import annotations

from dataclasses import replace

import anyio
import pytest
from temporalio.client import Client

from fleet.api import prepare
from fleet.errors import ConnectionSetupError, SpecError
from fleet.model import Mode, OutputSpec, OutputStorage, Reboot, RebootPolicy
from fleet.temporal import names
from fleet.temporal.client import check_supported
from fleet.temporal.queues import check_workers, unserved, write_limit
from tests import simkit
from tests.e2e.harness import job
from tests.temporal.conftest import Space
from tests.temporal.harness import on_temporal

pytestmark = pytest.mark.anyio


async def applied_limit(client: Client, subscription: str) -> float:
    """The write queue's limit once the server applied the worker's (it reports its default,
    4,000 a second, for a moment after the first poll)."""
    with anyio.fail_after(60):
        while (limit := await write_limit(client, subscription)) is None:  # noqa: ASYNC110 - the server's state
            await anyio.sleep(0.2)
    return limit


def test_the_write_budget_is_fleets_share_of_the_smaller_azure_limit() -> None:
    # ARM: 10 writes/s per subscription and principal; Compute Update VM: 500/min per region
    assert names.write_budget_per_s() == pytest.approx(0.9 * 500 / 60)
    assert names.write_rate() == pytest.approx(7.5 / names.LAUNCH_CHUNK)
    assert names.write_rate(time_scale=20) == pytest.approx(20 * 7.5 / 8)
    assert names.launches_in_flight() == 4  # 32 PUTs, as the local engine's puts_in_flight
    assert names.launches_in_flight(50) == 94  # 2 s of 46.9 launches/s


async def test_workers_set_the_server_side_limit_and_unserved_runs_are_refused(
    space: Space,
) -> None:
    profile = simkit.profile("pair")
    east, west = (s.id for s in profile.subscriptions)
    async with on_temporal(space, profile, time_scale=20, subscriptions=[[east]]) as fleet:
        limit = await applied_limit(fleet.client, east)
        # the worker's read queue poller may register a moment after its write queue's
        with anyio.fail_after(60):
            while await unserved(fleet.client, [east]):  # noqa: ASYNC110 - the server's state
                await anyio.sleep(0.2)
        missing = await unserved(fleet.client, [east, west])
        plan = await prepare(job("refused"), fleet.backend)  # both subscriptions' targets
        with pytest.raises(ConnectionSetupError, match=f"no fleet worker serves {west}"):
            await check_workers(fleet.client, plan)
    assert limit == pytest.approx(names.write_rate(time_scale=20), rel=1e-3)
    assert missing == [west]


def test_a_job_that_reboots_is_refused_before_anything_is_sent() -> None:
    """The workers' watch does not restart VMs (issue #19's reboots run locally only), nor
    keeps outputs in blobs (#11), nor reads an action run command's operation; checked the
    same way."""
    spec = job("plain")
    check_supported(spec)  # no reboot: goes
    policy = RebootPolicy(Reboot.IF_REQUIRED, exit_codes=(100,))
    rebooting = replace(spec, rollout=replace(spec.rollout, reboot=policy))
    with pytest.raises(SpecError, match=r"reboots after the script .* not supported on Temporal"):
        check_supported(rebooting)
    storage = OutputStorage("https://acct.blob.core.windows.net", "outputs")
    stored = replace(spec, output=OutputSpec(storage))
    with pytest.raises(SpecError, match=r"output storage .* not supported on Temporal"):
        check_supported(stored)
    with pytest.raises(SpecError, match=r"the action run command .* not supported on Temporal"):
        check_supported(replace(spec, mode=Mode.ACTION))
