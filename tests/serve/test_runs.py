"""The service's runs on the in-memory fake Azure, a real journal and a real service store:
every fire an ordinary journaled run, never two of one job at once, regressions evaluated into
alerts, a run that cannot start raises one run-failure alert, and a run stopped with the
service is resumed by the next one."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import pytest

from fleet.api.history import report_from_journal
from fleet.errors import SelectionError
from fleet.journal import Journal
from fleet.model import AlertKind, Selector, Target
from fleet.ports import Backend
from fleet.schedule import Firing
from fleet.serve import store as st
from fleet.serve.jobs import ServedJob
from fleet.serve.runs import RunManager
from fleet.serve.store import ServeStore
from fleet.spec import Connection, load_job
from tests.fakeblobs import FakeBlobs, factory
from tests.fakes import Behaviour, FakeArm, make_target

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 1, 1, tzinfo=UTC)
JOB = """\
name: {name}
targets: {{names: ["vm-*"]}}
script: {{inline: "check"}}
schedule: {{every: 1m}}
alerts: {{webhooks: [{{url: {{env: HOOK}}}}]}}
"""


@pytest.fixture
def anyio_backend() -> str:
    # Real time, not tests.fakes' virtual clock: the journal writes in worker threads, and a
    # virtual clock would race ahead of them. The fake Azure runs 100 times faster instead.
    return "asyncio"


def served(tmp: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> ServedJob:
    monkeypatch.setenv("HOOK", "http://127.0.0.1:9/hook")
    path = tmp / f"{name}.yaml"
    path.write_text(JOB.format(name=name))
    return ServedJob(load_job(path), path)


class Fleet:
    def __init__(self, tmp: Path) -> None:
        self.arm = FakeArm()
        for i in range(3):
            self.arm.add(make_target(f"vm-{i}"), Behaviour(duration=0.3, pickup=0.05))
        self.backend = Backend(targets=self.arm, run_commands=self.arm, time_scale=100)
        self.journal = Journal.open(tmp / "state")
        self.store = ServeStore(tmp / "state")


@asynccontextmanager
async def manager(fleet: Fleet, jobs: Sequence[ServedJob]) -> AsyncIterator[RunManager]:
    async with anyio.create_task_group() as tg:
        yield RunManager({j.name: j for j in jobs}, fleet.backend, fleet.journal, fleet.store,
                         Connection(), tg)  # fmt: skip
        tg.cancel_scope.cancel()


def fire(job: str) -> Firing:
    return Firing(job, NOW, NOW)


async def until(check: Callable[[], Any]) -> None:
    with anyio.fail_after(120):
        while not check():  # noqa: ASYNC110 - conditions on the journal and the store
            await anyio.sleep(0.02)


async def test_fires_become_journaled_runs_never_two_of_a_job_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet = Fleet(tmp_path)
    a, b = served(tmp_path, "alpha", monkeypatch), served(tmp_path, "beta", monkeypatch)
    async with manager(fleet, [a, b]) as runs:
        first = runs.launch(fire("alpha"))
        assert first is not None and runs.launch(fire("alpha")) is None  # overlap: refused
        other = runs.launch(fire("beta"))
        assert other is not None and set(runs.busy) == {"alpha", "beta"}
        await until(lambda: not runs.busy)
        again = runs.launch(fire("alpha"))
        assert again not in (None, first)
        await until(lambda: not runs.busy)
    ended = {r.run_id: r.ended for r in fleet.journal.runs()}
    assert ended == {first: "completed", other: "completed", again: "completed"}
    assert {j: c for j, c in fleet.arm.executions.items()} == {f"vm-{i}": 3 for i in range(3)}
    assert [x.state for x in fleet.store.open_launches()] == []


async def test_a_regression_is_evaluated_into_one_pending_alert(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet = Fleet(tmp_path)
    job = served(tmp_path, "alpha", monkeypatch)
    async with manager(fleet, [job]) as runs:
        baseline = runs.launch(fire("alpha"))
        await until(lambda: not runs.busy)
        fleet.arm.behaviour["vm-1"].exit_code = 1
        failing = runs.launch(fire("alpha"))
        await until(lambda: not runs.busy)
    assert fleet.store.evaluated(str(baseline)) and fleet.store.evaluated(str(failing))
    [alert] = fleet.store.alerts()
    assert (alert.kind, alert.run_id, alert.targets) == (AlertKind.REGRESSION, failing, ("vm-1",))
    assert [(p.webhook, p.body["previous_run_id"]) for p in fleet.store.pending()] == [
        ("HOOK", baseline)
    ]


async def test_a_run_that_cannot_start_alerts_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet = Fleet(tmp_path)

    async def refused(selector: Selector, *, need_os: bool) -> list[Target]:
        raise SelectionError("Azure refused the query")

    monkeypatch.setattr(fleet.arm, "select", refused)
    job = served(tmp_path, "alpha", monkeypatch)
    async with manager(fleet, [job]) as runs:
        ids = [runs.launch(fire("alpha")) for _ in range(1)]
        await until(lambda: not runs.busy)
        ids.append(runs.launch(fire("alpha")))
        await until(lambda: not runs.busy)
    assert fleet.journal.runs() == []  # nothing was recorded: nothing was sent
    [alert] = fleet.store.alerts()
    assert alert.kind is AlertKind.RUN_FAILURE and alert.run_id == ids[0]
    assert "the run could not start: Azure refused the query" in alert.summary
    assert all(fleet.store.evaluated(str(i)) for i in ids)


async def test_a_run_stopped_with_the_service_is_resumed_by_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet = Fleet(tmp_path)
    for behaviour in fleet.arm.behaviour.values():
        behaviour.duration = 3.0  # long enough to stop the service in the middle
    job = served(tmp_path, "alpha", monkeypatch)
    async with manager(fleet, [job]) as runs:
        run_id = runs.launch(fire("alpha"))
        await until(lambda: fleet.arm.executions.total() == 3)  # launched, not finished
    assert fleet.journal.run(str(run_id)).ended == "crashed"
    assert [x.run_id for x in fleet.store.open_launches()] == [run_id]
    async with manager(fleet, [job]) as runs:
        runs.resume_left()
        assert runs.busy == {"alpha": run_id} and runs.launch(fire("alpha")) is None
        await until(lambda: not runs.busy)
    record = fleet.journal.run(str(run_id))
    assert (record.ended, record.resumes) == ("completed", 1)
    assert dict(fleet.arm.executions) == {f"vm-{i}": 1 for i in range(3)}  # none ran twice
    assert fleet.store.evaluated(str(run_id)) and fleet.store.open_launches() == []


async def test_a_launch_the_journal_never_saw_never_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet = Fleet(tmp_path)
    job = served(tmp_path, "alpha", monkeypatch)
    fleet.store.launching("20260101-000000-abcdef", "alpha", NOW, NOW)
    async with manager(fleet, [job]) as runs:
        runs.resume_left()
        assert not runs.busy
    assert fleet.store.open_launches() == []
    row = fleet.store._rows("SELECT state, detail FROM launches")[0]
    assert row[0] == st.NEVER_STARTED and "nothing was sent" in row[1]


async def test_a_job_with_output_storage_keeps_full_outputs_beside_the_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As ``fleet run`` does: the whole output read from the blobs is kept under
    ``STATE_DIR/outputs`` (what ``fleet show RUN_ID --target NAME`` prints)."""
    fleet = Fleet(tmp_path)
    fleet.arm.behaviour["vm-0"].output = "first line\n" + "more\n" * 2000
    fleet.backend = dataclasses.replace(fleet.backend, outputs=factory(FakeBlobs(fleet.arm)))
    monkeypatch.setenv("HOOK", "http://127.0.0.1:9/hook")
    path = tmp_path / "blobs.yaml"
    storage = "{account_url: 'https://acct.blob.core.windows.net', container: out}"
    path.write_text(JOB.format(name="blobs") + f"output: {{storage: {storage}}}\n")
    async with manager(fleet, [ServedJob(load_job(path), path)]) as runs:
        run_id = runs.launch(fire("blobs"))
        await until(lambda: not runs.busy)
    report = report_from_journal(fleet.journal, str(run_id))
    vm0 = next(r for r in report.results if r.target.name == "vm-0")
    assert vm0.full_output is not None and vm0.full_output.stdout.path is not None
    kept = Path(vm0.full_output.stdout.path)
    assert kept.is_relative_to(tmp_path / "state" / "outputs")
    assert await anyio.Path(kept).read_text() == "first line\n" + "more\n" * 2000
