"""Resuming a run that crashed while a target was being rebooted, against the in-memory fake
and a real journal: the journal says what the first process did (an intent to restart, maybe
Azure's acceptance), the fake says what "Azure" did, and the resumed run never restarts a VM
twice, sends a restart Azure proves never arrived, and finishes the wait."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from fleet.api import Backend, prepare, resume_async
from fleet.api.lifecycle import begin
from fleet.engine.runner import EngineSettings
from fleet.journal import Journal
from fleet.journal.codec import final_detail, view_detail
from fleet.journal.records import Phase
from fleet.model import (
    CallError,
    JobSpec,
    MachineView,
    RebootOutcome,
    RestartAccepted,
    RunReport,
    Status,
    TargetResult,
)
from tests.engine.kit import MARKER
from tests.engine.kit import reboot_job as job
from tests.fakes import FORBIDDEN, VIRTUAL_TIME, Behaviour, FakeArm, make_target

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, object]]:
    return VIRTUAL_TIME


async def crashed_while_rebooting(
    tmp_path: Path, arm: FakeArm, *, after: str | None = None
) -> tuple[Journal, JobSpec, Backend]:
    """A journal as the first process left it: the script done, the restart journaled (and
    ``after``: "accepted", "refused", "lost", "unknown"), no final result."""
    spec = job()
    backend = Backend(targets=arm, run_commands=arm, machines=arm)
    plan = await prepare(spec, backend, run_id="r1")
    journal = Journal.open(tmp_path / "state")
    writer = await begin(journal, plan, None)
    (target,) = plan.targets
    writer.intent_put(target.id, "fleet-patch", "r1")
    writer.put_accepted(target.id)
    script = TargetResult(target, Status.SUCCEEDED, exit_code=0, output=f"x\n{MARKER}\n")
    baseline = await arm.view(target)
    assert isinstance(baseline, MachineView)
    detail = {
        "script": final_detail(script),
        "required": "marker",
        "baseline": view_detail(baseline),
    }
    writer.intent_reboot(target.id, detail)
    lost = CallError(0, "ServiceResponseError", "Connection reset by peer")
    if after == "accepted":
        writer.reboot_accepted(target.id, "https://fake/operations/1")
    elif after == "refused":
        writer.reboot_failed(target.id, FORBIDDEN, arrived=False)
    elif after == "lost":
        writer.reboot_failed(target.id, lost, arrived=False)
    elif after == "unknown":
        writer.reboot_failed(target.id, lost, arrived=None)
    writer.close()  # the process died: no end, no final
    assert journal.target_states("r1")[target.id].phase is Phase.REBOOTING
    return journal, spec, backend


async def resume(journal: Journal, spec: JobSpec, backend: Backend) -> RunReport:
    return await resume_async("r1", journal, spec, backend, settings=EngineSettings())


async def arrived_before_the_crash(arm: FakeArm) -> None:
    """The first process's restart reached "Azure" (its answer never got journaled)."""
    target = arm.targets["vm"]
    assert isinstance(await arm.restart(target), RestartAccepted)
    arm.restart_requests.clear()
    await anyio.sleep(5)


@pytest.mark.parametrize("after", [None, "accepted", "unknown"])
async def test_a_restart_that_arrived_is_never_sent_again(
    tmp_path: Path, after: str | None
) -> None:
    arm = FakeArm()
    arm.add(make_target("vm"), Behaviour(output=MARKER))
    journal, spec, backend = await crashed_while_rebooting(tmp_path, arm, after=after)
    await arrived_before_the_crash(arm)
    (result,) = (await resume(journal, spec, backend)).results
    assert arm.restart_requests["vm"] == 0 and len(arm.restarts["vm"]) == 1
    assert result.status is Status.SUCCEEDED and result.output.endswith(f"{MARKER}\n")
    assert result.reboot is not None and result.reboot.outcome is RebootOutcome.DONE
    assert result.reboot.required == "marker" and result.reboot.restarts == 1
    assert journal.run("r1").ended == "completed"


@pytest.mark.parametrize("after", [None, "lost", "unknown"])
async def test_a_restart_proven_lost_is_sent_once(tmp_path: Path, after: str | None) -> None:
    arm = FakeArm()
    arm.add(make_target("vm"), Behaviour(output=MARKER))
    journal, spec, backend = await crashed_while_rebooting(tmp_path, arm, after=after)
    (result,) = (await resume(journal, spec, backend)).results
    assert arm.restart_requests["vm"] == 1 and len(arm.restarts["vm"]) == 1
    assert result.reboot is not None and result.reboot.outcome is RebootOutcome.DONE
    assert result.reboot.restarts == 2  # the first process's intent and this one's


async def test_a_refused_restart_is_reported_not_resent(tmp_path: Path) -> None:
    arm = FakeArm()
    arm.add(make_target("vm"), Behaviour(output=MARKER))
    journal, spec, backend = await crashed_while_rebooting(tmp_path, arm, after="refused")
    (result,) = (await resume(journal, spec, backend)).results
    assert not arm.restart_requests
    assert result.status is Status.ACCESS_DENIED
    assert result.reboot is not None and result.reboot.outcome is RebootOutcome.REFUSED


async def test_the_timeout_counts_from_the_first_request(tmp_path: Path) -> None:
    arm = FakeArm()
    arm.add(make_target("vm"), Behaviour(output=MARKER, agent_never=True))
    journal, spec, backend = await crashed_while_rebooting(tmp_path, arm, after="accepted")
    await arrived_before_the_crash(arm)
    t0 = anyio.current_time()
    (result,) = (await resume(journal, spec, backend)).results
    assert result.status is Status.REBOOT_TIMED_OUT
    assert anyio.current_time() - t0 <= 900 + 60
    assert arm.restart_requests["vm"] == 0


async def test_unknown_and_unreadable_is_error_not_resent(tmp_path: Path) -> None:
    arm = FakeArm()
    arm.add(make_target("vm"), Behaviour(output=MARKER))
    journal, spec, backend = await crashed_while_rebooting(tmp_path, arm)
    arm.behaviour["vm"].view_faults = 100
    (result,) = (await resume(journal, spec, backend)).results
    assert not arm.restart_requests
    assert result.status is Status.ERROR and "fate is unknown" in (result.reason or "")
    assert result.reboot is not None and result.reboot.requested is None
