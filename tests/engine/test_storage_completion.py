"""Completion seen in storage, on the in-memory fakes in virtual time: a wrapped script's record
ends the wait without an ARM read; targets without one are asked about in ARM (when suspect,
then at their deadline) and get the result ARM polling gives; a container fleet cannot read
sends every target back to ARM polling; stderr's last bytes landing after stdout's are waited
for; full outputs are read back, capped and grouped by their whole text."""

from __future__ import annotations

import dataclasses

import pytest

from fleet.api import Backend, prepare, run_async
from fleet.engine.runner import EngineSettings
from fleet.errors import SpecError
from fleet.model import (
    CallError,
    Completion,
    JobSpec,
    Mode,
    OutputSpec,
    OutputStorage,
    RunReport,
    ScriptSource,
    ScriptSpec,
    Selector,
    SourceKind,
)
from fleet.report.groups import group_results
from fleet.util import completion
from tests.fakeblobs import FAKE_SAS, FakeBlobs, factory
from tests.fakes import VIRTUAL_TIME, Behaviour, FakeArm, make_target

pytestmark = pytest.mark.anyio

TIMEOUT_S = 600
STORAGE = OutputStorage("https://acct.blob.core.windows.net", "out")


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, object]]:
    return VIRTUAL_TIME


def job(mode: Completion | None, max_bytes: int = 8 * 2**20) -> JobSpec:
    script = ScriptSpec(
        ScriptSource(SourceKind.INLINE, "#!/bin/sh\necho hi\n"), timeout_s=TIMEOUT_S
    )
    output = None if mode is None else OutputSpec(STORAGE, None, max_bytes, mode)
    return JobSpec("check", Selector(), script, output=output)


def fleet_of(arm: FakeArm) -> FakeArm:
    arm.add(make_target("ok-1"), Behaviour(duration=20, output="status: OK\n"))
    arm.add(make_target("ok-2"), Behaviour(duration=35, output="status: OK\n"))
    arm.add(make_target("fails"), Behaviour(duration=15, exit_code=3, error="disk full\n"))
    arm.add(make_target("no-agent"), Behaviour(agent_not_ready=True))
    arm.add(make_target("wedged"), Behaviour(wedged=True))
    arm.add(make_target("killed"), Behaviour(duration=TIMEOUT_S + 100))
    for i in range(8):  # enough completions for the watcher to learn their times
        arm.add(make_target(f"more-{i}"), Behaviour(duration=10 + 3 * i, output="status: OK\n"))
    return arm


async def run(arm: FakeArm, spec: JobSpec, blobs: FakeBlobs | None = None) -> RunReport:
    outputs = None if blobs is None else factory(blobs)
    backend = Backend(targets=arm, run_commands=arm, outputs=outputs)
    plan = await prepare(spec, backend, run_id="run-7")
    return await run_async(plan, backend, settings=EngineSettings(wedge_grace_s=120.0))


def verdicts(report: RunReport) -> dict[str, tuple[object, ...]]:
    return {
        r.target.name: (r.status, r.exit_code, r.reason, r.execution_state) for r in report.results
    }


async def test_storage_completion_reports_what_arm_polling_reports_with_few_reads() -> None:
    by_arm = await run(fleet_of(FakeArm()), job(None))
    arm = fleet_of(FakeArm())
    blobs = FakeBlobs(arm)
    by_storage = await run(arm, job(Completion.STORAGE), blobs)

    assert verdicts(by_storage) == verdicts(by_arm)
    ended = {"ok-1", "ok-2", "fails", *(f"more-{i}" for i in range(8))}
    assert all(arm.gets[name] == 0 for name in ended)  # the record said it: no ARM read
    # no record: asked once when suspect, once at the deadline
    assert {n: arm.gets[n] for n in ("no-agent", "wedged", "killed")} == {
        "no-agent": 2, "wedged": 2, "killed": 2
    }  # fmt: skip
    assert by_storage.storage is not None and by_storage.storage.total > 0
    assert by_storage.results[0].full_output is not None


async def test_the_script_is_wrapped_and_the_blobs_carry_a_sas() -> None:
    arm = fleet_of(FakeArm())
    await run(arm, job(Completion.STORAGE), FakeBlobs(arm))
    sent = arm.puts["ok-1"][0]
    assert completion.unwrap(sent.source.value) == ("#!/bin/sh\necho hi\n", "run-7")
    assert sent.output_blobs is not None
    assert sent.output_blobs.stdout.writable_url().endswith("run-7/ok-1/stdout?" + FAKE_SAS)
    plain = fleet_of(FakeArm())
    await run(plain, job(Completion.ARM), FakeBlobs(plain))
    assert plain.puts["ok-1"][0].source.value == "#!/bin/sh\necho hi\n"  # arm: not wrapped


async def test_full_output_is_read_back_without_the_record() -> None:
    arm = fleet_of(FakeArm())
    report = await run(arm, job(Completion.STORAGE), FakeBlobs(arm))
    fails = next(r for r in report.results if r.target.name == "fails")
    assert (fails.output, fails.error) == ("", "disk full\n")
    assert fails.full_output is not None and fails.full_output.complete
    assert fails.full_output.stderr.size == len(b"disk full\n") + len(completion.record("run-7", 3))
    assert fails.full_output.stderr.saved == len(b"disk full\n")
    no_agent = next(r for r in report.results if r.target.name == "no-agent")
    assert no_agent.full_output is not None and no_agent.full_output.stdout.size is None
    assert not no_agent.full_output.complete and "never created" in (
        no_agent.full_output.note or ""
    )
    wedged = next(r for r in report.results if r.target.name == "wedged")  # still Running
    assert wedged.full_output is not None and not wedged.full_output.complete
    assert "may still be growing" in (wedged.full_output.note or "")


async def test_a_container_fleet_cannot_read_sends_everyone_back_to_arm_polling() -> None:
    by_arm = await run(fleet_of(FakeArm()), job(None))
    arm = fleet_of(FakeArm())
    missing = CallError(404, "ContainerNotFound", "The specified container does not exist.")
    report = await run(arm, job(Completion.STORAGE), FakeBlobs(arm, failure=missing))
    assert verdicts(report) == verdicts(by_arm)
    assert arm.gets["ok-1"] >= 1  # polled in ARM after all
    ok = next(r for r in report.results if r.target.name == "ok-1")
    assert ok.full_output is not None and "ContainerNotFound" in (ok.full_output.note or "")


async def test_stderr_landing_after_stdout_is_waited_for() -> None:
    arm = fleet_of(FakeArm())
    report = await run(arm, job(Completion.STORAGE), FakeBlobs(arm, stderr_lag=7.0))
    fails = next(r for r in report.results if r.target.name == "fails")
    assert fails.error == "disk full\n" and arm.gets["fails"] == 0


async def test_outputs_are_capped_at_max_bytes_keeping_their_end() -> None:
    arm = FakeArm()
    long_out = "".join(f"line {i:05d}\n" for i in range(2000))  # 22 KB
    arm.add(make_target("chatty"), Behaviour(duration=5, output=long_out, error="E" * 500))
    report = await run(arm, job(Completion.STORAGE, max_bytes=4096), FakeBlobs(arm))
    full = report.results[0].full_output
    assert full is not None
    assert (full.stdout.truncated, full.stderr.truncated) == (True, False)
    assert full.stdout.saved + full.stderr.saved <= 4096 + len(completion.record("run-7", 0))
    assert report.results[0].output.endswith("line 01999\n")


async def test_groups_compare_whole_outputs_not_their_last_4_kb() -> None:
    tail = "".join(f"same line {i:04d} of the report\n" for i in range(300))  # > 4 KB
    arm = FakeArm()
    arm.add(make_target("a"), Behaviour(duration=5, output="checked: alpha\n" + tail))
    arm.add(make_target("b"), Behaviour(duration=5, output="checked: bravo\n" + tail))
    with_blobs = await run(arm, job(Completion.ARM), FakeBlobs(arm))
    first, second = (r.output for r in with_blobs.results)
    assert first == second  # the last 4 KB are the same
    assert len(group_results(with_blobs.results)) == 2  # the first lines differ
    tails_only = [dataclasses.replace(r, full_output=None) for r in with_blobs.results]
    assert len(group_results(tails_only)) == 1


async def test_a_library_caller_asking_output_storage_in_action_mode_is_refused_unsent() -> None:
    """The job file and the flags refuse it first (``fleet.spec.modes``); a JobSpec built in
    code is refused when the run opens its outputs, before any command is sent."""
    arm = fleet_of(FakeArm())
    blobs = FakeBlobs(arm)
    spec = dataclasses.replace(job(Completion.STORAGE), mode=Mode.ACTION)
    backend = Backend(targets=arm, run_commands=arm, outputs=factory(blobs), action_commands=arm)
    plan = await prepare(spec, backend, run_id="run-8")
    with pytest.raises(SpecError, match="output storage in mode: action") as info:
        await run_async(plan, backend, settings=EngineSettings(wedge_grace_s=120.0))
    assert info.value.exit_code == 2
    assert not arm.puts
