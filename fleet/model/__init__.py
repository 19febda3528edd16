"""fleet's vocabulary: frozen dataclasses and StrEnums, one noun per module, no I/O and no
Azure SDK types (Azure's camelCase stays in ``fleet.azure``). Imports nothing from fleet
outside this package; every layer may import it.

    secret    Secret — a string that never prints
    targets   Target, TargetKind, Selector, TagMatch (and what a selector matches)
    script    ScriptSpec, ScriptSource, SourceKind, Parameter
    rollout   RolloutPolicy, Order, Amount, HealthGate; RolloutPlan, Batch; the records
              RolloutRecord, BatchRecord, GateRecord
    job       JobSpec, Concurrency, Mode
    calls     Invocation, Launched, RunView, CallError, RUN_ID_PARAMETER
    commands  BuiltinCommand — a built-in run command of Azure's catalog
    hygiene   fleet's marker, Cleanup, ListedRunCommand, Deleted (what fleet leaves on VMs)
    results   Status, TargetResult, RunReport, ArmCounters, Progress
    plan      RunPlan — what a run will do, decided before anything is sent
"""

from fleet.model.calls import RUN_ID_PARAMETER, CallError, Invocation, Launched, RunView
from fleet.model.commands import BuiltinCommand
from fleet.model.hygiene import (
    Cleanup,
    Deleted,
    DeleteReason,
    ListedRunCommand,
    is_fleets,
    marker_tags,
)
from fleet.model.job import Concurrency, JobSpec, Mode
from fleet.model.plan import RunPlan
from fleet.model.results import ArmCounters, Progress, RunReport, Status, TargetResult
from fleet.model.rollout import (
    Amount,
    Batch,
    BatchRecord,
    GateRecord,
    HealthGate,
    Order,
    RolloutPlan,
    RolloutPolicy,
    RolloutRecord,
)
from fleet.model.script import Parameter, ScriptSource, ScriptSpec, SourceKind, run_limit_s
from fleet.model.secret import Secret
from fleet.model.targets import Selector, TagMatch, Target, TargetKind, name_matches, tags_match

__all__ = [
    "RUN_ID_PARAMETER",
    "Amount",
    "ArmCounters",
    "Batch",
    "BatchRecord",
    "BuiltinCommand",
    "CallError",
    "Cleanup",
    "Concurrency",
    "DeleteReason",
    "Deleted",
    "GateRecord",
    "HealthGate",
    "Invocation",
    "JobSpec",
    "Launched",
    "ListedRunCommand",
    "Mode",
    "Order",
    "Parameter",
    "Progress",
    "RolloutPlan",
    "RolloutPolicy",
    "RolloutRecord",
    "RunPlan",
    "RunReport",
    "RunView",
    "ScriptSource",
    "ScriptSpec",
    "Secret",
    "Selector",
    "SourceKind",
    "Status",
    "TagMatch",
    "Target",
    "TargetKind",
    "TargetResult",
    "is_fleets",
    "marker_tags",
    "name_matches",
    "run_limit_s",
    "tags_match",
]
