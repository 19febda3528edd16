"""Tests of the run journal (fleet.journal), plus the small builders they share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fleet.model import (
    JobSpec,
    Parameter,
    ScriptSource,
    ScriptSpec,
    Secret,
    Selector,
    SourceKind,
    Target,
    TargetKind,
)

SUB = "00000000-0000-0000-0000-0000000000aa"
PROTECTED_VALUE = "Pr0tected-Value-7f3c9"
PASSWORD = "RunAs-Passw0rd-91be2"
SAS = "sv=2024&sig=SAS-Signature-e41d"
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def make_spec(name: str = "patch", *, script: str = "apt-get upgrade -y") -> JobSpec:
    """A spec carrying every kind of secret: protected parameter, run-as password, SAS token."""
    return JobSpec(
        name=name,
        selector=Selector(subscriptions=(SUB,), resource_groups=("rg-web",)),
        script=ScriptSpec(
            default=ScriptSource(SourceKind.INLINE, script),
            windows=ScriptSource(SourceKind.URI, f"https://st.blob.core.windows.net/s/p.ps1?{SAS}"),
            parameters=(Parameter("MODE", "full"),),
            protected_parameters=(Parameter("TOKEN", Secret(PROTECTED_VALUE)),),
            run_as_user="patcher",
            run_as_password=Secret(PASSWORD),
            timeout_s=900,
        ),
        source="jobs/patch.yaml",
    )


def make_target(i: int, **overrides: object) -> Target:
    fields: dict[str, object] = {
        "id": f"/subscriptions/{SUB}/resourceGroups/rg-web/providers/Microsoft.Compute/"
        f"virtualMachines/vm-{i:05d}",
        "name": f"vm-{i:05d}",
        "kind": TargetKind.VM,
        "subscription": SUB,
        "resource_group": "rg-web",
        "location": "westeurope",
        "zone": str(1 + i % 3),
        "os": "linux",
    }
    fields.update(overrides)
    return Target(**fields)  # type: ignore[arg-type]


def make_targets(n: int) -> list[Target]:
    return [make_target(i) for i in range(n)]


class FakeClock:
    """A wall clock for the journal's timestamps that advances one second per reading."""

    def __init__(self, start: datetime = EPOCH) -> None:
        self.moment = start

    def __call__(self) -> datetime:
        self.moment += timedelta(seconds=1)
        return self.moment
