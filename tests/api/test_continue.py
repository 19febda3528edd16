"""Going on after a halt (``fleet resume --continue``) with the library: a run the error budget
stopped takes its NotStarted targets up again, the failures from before do not spend the budget
a second time, excluded targets are Skipped, nothing finished runs twice; a run that halted
needs ``past_halt`` to be taken up at all. In-memory ARM, a real journal."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet import api
from fleet.api.resume import Continuation
from fleet.errors import SpecError
from fleet.journal import Journal
from fleet.model import Amount, Order, Status
from fleet.ports import Backend
from tests.engine.test_rollout_runner import RecordingArm, job, statuses
from tests.fakes import Behaviour, make_target

pytestmark = pytest.mark.anyio


async def test_continue_past_the_error_budget(tmp_path: Path) -> None:
    arm = RecordingArm()
    for i in range(8):  # vm-00 and vm-01 fail: the second failure exceeds max_errors 1
        arm.add(make_target(f"vm-{i:02}"), Behaviour(duration=2, exit_code=1 if i < 2 else 0))
    backend, spec = Backend(arm, arm), job(concurrency=1, order=Order.NAME, max_errors=Amount(1))
    journal = Journal.open(tmp_path / "state")
    first = await api.run_async(spec, backend, journal=journal)
    assert first.ended == "halted-by-error-budget"
    assert list(statuses(first).values()).count(Status.NOT_STARTED) == 6
    with pytest.raises(SpecError, match="--continue"):  # a halted run is not resumed by default
        api.take_over(journal, first.run_id, spec)
    how = Continuation(past_halt=True, exclude=("vm-05",))
    again = await api.resume_async(first.run_id, journal, spec, backend, how=how)
    assert again.ended == "completed", again.ended_detail  # the 2 old failures did not count
    got = statuses(again)
    assert (got["vm-00"], got["vm-01"], got["vm-05"]) == (Status.FAILED,) * 2 + (Status.SKIPPED,)
    assert all(got[f"vm-0{i}"] is Status.SUCCEEDED for i in (2, 3, 4, 6, 7))
    vm_05 = next(r for r in again.results if r.target.name == "vm-05")
    assert "excluded when the run was resumed" in (vm_05.reason or "")
    assert all(len(arm.job_puts(name)) == (name != "vm-05") for name in arm.targets)
    assert journal.run(first.run_id).ended == "completed"
    shown = api.report_from_journal(journal, first.run_id)
    assert statuses(shown) == got  # the journal agrees with the report
