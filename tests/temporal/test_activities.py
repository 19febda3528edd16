"""The activities' exactly-once rule and their answers, driven directly (no Temporal) on the
in-memory fleet in virtual time: a retried launch — the worker that ran it may have sent the
PUTs before it died — reads Azure first and sends only the PUTs that never arrived; a watch
gives back a failure that spends the error budget at once; a job this worker cannot build
fails the activity for good."""

from __future__ import annotations

import pytest
from temporalio.exceptions import ApplicationError

from fleet.api import Backend
from fleet.model import JobSpec
from fleet.temporal.activities import RunActivities
from fleet.temporal.codec import Json, target_to_json
from tests.engine.test_rollout_runner import RecordingArm, fleet, job
from tests.fakes import VIRTUAL_TIME

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, object]]:
    return VIRTUAL_TIME


def activities(arm: RecordingArm, spec: JobSpec) -> RunActivities:
    return RunActivities(Backend(arm, arm), job_spec=lambda _job: spec)


def launch_payload(arm: RecordingArm, run_id: str = "run-1") -> Json:
    targets = [target_to_json(t) for t in arm.targets.values()]
    return {"job": {"name": "patch"}, "run_id": run_id, "unit": None, "targets": targets}


async def test_a_retried_launch_never_sends_a_put_that_arrived() -> None:
    arm, spec = fleet(5), job()
    acts = activities(arm, spec)
    await acts.launch_targets(launch_payload(arm))  # the worker sent them, then died
    again = await acts.launch_targets(launch_payload(arm), retried=True)
    assert all(len(puts) == 1 for puts in arm.puts.values()) and len(arm.puts) == 5
    assert all("launched" in outcome for outcome in again["outcomes"])
    assert again["arm"]["requests"] == {}  # the fake is not ARM: nothing counted


async def test_a_retried_launch_sends_what_never_arrived_once() -> None:
    arm, spec = fleet(4), job()
    acts = activities(arm, spec)
    first = launch_payload(arm)
    await acts.launch_targets({**first, "targets": first["targets"][:2]})  # died halfway
    again = await acts.launch_targets(launch_payload(arm), retried=True)
    assert {n: len(p) for n, p in arm.puts.items()} == {f"vm-0{i}": 1 for i in range(4)}
    assert all("launched" in o for o in again["outcomes"])


async def test_a_retried_launch_of_a_new_run_replaces_the_last_runs_command() -> None:
    arm, spec = fleet(3), job()
    acts = activities(arm, spec)
    await acts.launch_targets(launch_payload(arm, "run-0"))  # an earlier run's, same name
    await acts.launch_targets(launch_payload(arm, "run-1"), retried=True)
    assert [[i.run_id for i in arm.puts[n]] for n in sorted(arm.puts)] == [["run-0", "run-1"]] * 3


async def test_a_watch_gives_back_a_failure_that_spends_the_budget_at_once() -> None:
    arm, spec = fleet(4, duration=100), job()
    arm.behaviour["vm-02"].duration, arm.behaviour["vm-02"].exit_code = 10, 1
    acts = activities(arm, spec)
    await acts.launch_targets(launch_payload(arm))
    items = [{"target": target_to_json(t), "elapsed_s": 0.0} for t in arm.targets.values()]
    payload = {**launch_payload(arm), "targets": items, "until": 4, "max_s": 600}
    answer = await acts.watch_targets({**payload, "budget": True})
    assert [r["target"]["name"] for r in answer["results"]] == ["vm-02"]
    assert answer["results"][0]["status"] == "Failed"
    everything = await acts.watch_targets({**payload, "budget": False})
    assert sorted(r["status"] for r in everything["results"]) == ["Failed"] + ["Succeeded"] * 3


async def test_a_job_this_worker_cannot_build_fails_for_good(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from fleet.spec import load_job
    from fleet.spec.portable import portable

    path = tmp_path / "secret.yaml"
    path.write_text(
        "name: secret\ntargets: {all: true}\nscript:\n  inline: echo hi\n"
        "  protected_parameters: {TOKEN: {env: ONLY_ON_THE_CLIENT}}\n"
    )
    document = portable(
        load_job(path, env={"ONLY_ON_THE_CLIENT": "x" * 12}).document,
        {"ONLY_ON_THE_CLIENT": "x" * 12},
    )
    arm = fleet(1)
    acts = RunActivities(Backend(arm, arm), env={})
    with pytest.raises(ApplicationError) as failed:
        await acts.launch_targets({**launch_payload(arm), "job": document.to_json()})
    assert failed.value.non_retryable and "ONLY_ON_THE_CLIENT" in str(failed.value)
    assert not arm.puts
