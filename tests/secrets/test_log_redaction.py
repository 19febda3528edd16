"""The logs redact the secrets of the run the logging task belongs to: no process-global
registry, so two runs in one process (the future ``fleet serve``) each redact their own."""

from __future__ import annotations

import anyio
import pytest
import structlog

from fleet.api import Backend, run_async
from fleet.engine.runner import EngineSettings
from fleet.model import (
    JobSpec,
    Parameter,
    Progress,
    ScriptSource,
    ScriptSpec,
    Secret,
    Selector,
    SourceKind,
)
from fleet.ports import RunObserver
from fleet.secrets import Secrets, current, using
from tests.fakes import VIRTUAL_TIME, Behaviour, FakeArm, make_target

log = structlog.get_logger("tests")
pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> object:
    return VIRTUAL_TIME


def job(name: str, secret: str) -> JobSpec:
    script = ScriptSpec(
        ScriptSource(SourceKind.INLINE, "echo $TOKEN"),
        protected_parameters=(Parameter("TOKEN", Secret(secret)),),
    )
    return JobSpec(name, Selector(names=(f"{name}-*",)), script)


async def test_two_concurrent_runs_each_redact_their_own_secret_in_logs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    arm = FakeArm()
    for name in ("alpha", "beta"):
        arm.add(make_target(f"{name}-1"), Behaviour(duration=5.0))
    secrets = {"alpha": "alpha-S3cret-value", "beta": "beta-S3cret-value"}
    seen: dict[str, int] = {"alpha": 0, "beta": 0}

    class Leaky(RunObserver):  # a careless observer logs the secret
        def __init__(self, name: str) -> None:
            self.name = name

        def progress(self, progress: Progress) -> None:
            seen[self.name] += 1
            log.warning("careless.observer", note=f"{self.name} token is {secrets[self.name]}")

    async def one(name: str) -> None:
        await run_async(
            job(name, secrets[name]), Backend(arm, arm), settings=EngineSettings(),
            observer=Leaky(name),
        )  # fmt: skip

    async with anyio.create_task_group() as tg:
        tg.start_soon(one, "alpha")
        tg.start_soon(one, "beta")
    err = capsys.readouterr().err
    assert seen["alpha"] and seen["beta"]
    assert "alpha token is ***" in err and "beta token is ***" in err
    assert not any(secret in err for secret in secrets.values())
    assert current() == Secrets()  # nothing leaks out of the runs


async def test_using_is_scoped_to_the_task_that_set_it() -> None:
    inside: list[Secrets] = []

    async def other() -> None:
        inside.append(current())

    async with anyio.create_task_group() as tg:
        with using(Secrets.of(["mine-only"])):
            assert current().values == ("mine-only",)
        tg.start_soon(other)
    assert inside == [Secrets()]
