"""Scaffolding the engine tests share instead of a copy per test file: the engine's
``Recorder`` kept in memory (every transition per target, in order, and views of it the tests
assert on; the rollout's events are not kept), and the reboot tests' job."""

from __future__ import annotations

from fleet.model import (
    CallError,
    Invocation,
    JobSpec,
    Reboot,
    RebootPolicy,
    RolloutPolicy,
    ScriptSource,
    ScriptSpec,
    Selector,
    SourceKind,
    Target,
    TargetResult,
)
from fleet.ports import NullRecorder

#: What the reboot tests' scripts print when their VM needs a restart.
MARKER = "REBOOT REQUIRED"


def reboot_job(
    mode: Reboot = Reboot.IF_REQUIRED, *, timeout_s: int = 900, **rollout: object
) -> JobSpec:
    """A patch job that reboots (``mode``) the VMs whose output says ``MARKER``, waiting up to
    ``timeout_s`` for each; ``rollout``: the rest of its rollout policy."""
    policy = RebootPolicy(mode, marker=MARKER, timeout_s=timeout_s)
    script = ScriptSpec(ScriptSource(SourceKind.INLINE, "patch"), timeout_s=600)
    return JobSpec("patch", Selector(), script, rollout=RolloutPolicy(reboot=policy, **rollout))


class MemoryRecorder(NullRecorder):
    """``log``: (target name, what, detail) in order. The detail of an ``intent`` is the
    invocation's run id, of ``accepted`` Azure's handle (action mode; else None), of
    ``put_failed`` whether the request arrived (its error is in ``errors``), of ``final`` the
    status."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str, object]] = []
        self.errors: list[tuple[str, CallError]] = []

    async def intent(self, target: Target, invocation: Invocation) -> None:
        self.log.append((target.name, "intent", invocation.run_id))

    def accepted(self, target: Target, handle: str | None = None) -> None:
        self.log.append((target.name, "accepted", handle))

    def put_failed(self, target: Target, error: CallError, *, arrived: bool | None) -> None:
        self.log.append((target.name, "put_failed", arrived))
        self.errors.append((target.name, error))

    def final(self, result: TargetResult) -> None:
        self.log.append((result.target.name, "final", result.status))

    def entries(self, name: str, *, final: bool = True) -> list[tuple[str, object]]:
        """(what, detail) of target ``name``, in order (without its final result: ``final``
        off)."""
        return [
            (what, detail)
            for who, what, detail in self.log
            if who == name and (final or what != "final")
        ]

    def steps(self, name: str) -> list[str]:
        """What happened to target ``name`` before its final result, in order."""
        return [what for what, _ in self.entries(name, final=False)]

    def failures(self, name: str) -> list[tuple[CallError, object]]:
        """Each refused or lost request of target ``name``: its error and whether it arrived."""
        arrived = [d for what, d in self.entries(name) if what == "put_failed"]
        errors = [error for who, error in self.errors if who == name]
        return list(zip(errors, arrived, strict=True))
