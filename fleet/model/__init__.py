"""fleet's vocabulary: frozen dataclasses and StrEnums, one noun per module, no I/O and no
Azure SDK types (Azure's camelCase stays in ``fleet.azure``). Imports nothing from fleet
outside this package; every layer may import it.

    secret    Secret — a string that never prints
    targets   Target, TargetKind, Selector, TagMatch (and what a selector matches)
    script    ScriptSpec, ScriptSource, SourceKind, Parameter
    rollout   RolloutPolicy, Order, Amount, HealthGate; RolloutPlan, Batch; the records
              RolloutRecord, BatchRecord, GateRecord
    output    OutputSpec, OutputStorage, Completion; OutputBlobs, BlobRef, BlobState;
              FullOutput, StreamCopy, StorageCounters (full outputs through append blobs)
    job       JobSpec, Concurrency, Mode
    calls     Invocation, Launched, RunView, CallError, RUN_ID_PARAMETER
    commands  BuiltinCommand — a built-in run command of Azure's catalog
    hygiene   fleet's marker, Cleanup, ListedRunCommand, Deleted (what fleet leaves on VMs)
    reboot    Reboot, RebootPolicy, MachineView, RestartAccepted, RebootOutcome, RebootRecord
    status    Status — a target's final outcome
    results   TargetResult, RunReport, ArmCounters, Progress
    plan      RunPlan — what a run will do, decided before anything is sent
    forecast  Forecast — each target's expected run time, learned from the job's past runs
    expect    Expectations, ValueCheck, Verdict, Judgement — a target's pass/fail and why
    schedule  Schedule, Blackout, Missed — when ``fleet serve`` runs a job
    alerts    AlertPolicy, Webhook, AlertKind, BodyFormat — whom it tells about changes
    buckets   BucketRecord — a process's last word on a throttling bucket (state directory)
"""

from fleet.model.alerts import AlertKind, AlertPolicy, BodyFormat, Webhook
from fleet.model.buckets import BucketRecord
from fleet.model.calls import RUN_ID_PARAMETER, CallError, Invocation, Launched, RunView
from fleet.model.commands import BuiltinCommand
from fleet.model.expect import Expectations, Judgement, ValueCheck, Verdict
from fleet.model.forecast import Forecast
from fleet.model.hygiene import (
    Cleanup,
    Deleted,
    DeleteReason,
    ListedRunCommand,
    is_fleets,
    marker_tags,
)
from fleet.model.job import Concurrency, JobSpec, Mode
from fleet.model.output import (
    STREAMS,
    BlobRef,
    BlobState,
    Completion,
    FullOutput,
    OutputBlobs,
    OutputSpec,
    OutputStorage,
    StorageCounters,
    StreamCopy,
    blob_name,
)
from fleet.model.plan import RunPlan
from fleet.model.reboot import (
    REBOOT_TIMEOUT_S,
    MachineView,
    Reboot,
    RebootOutcome,
    RebootPolicy,
    RebootRecord,
    RestartAccepted,
)
from fleet.model.results import ArmCounters, Progress, RunReport, TargetResult
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
from fleet.model.schedule import Blackout, Missed, Schedule
from fleet.model.script import (
    Parameter,
    ScriptIdentity,
    ScriptSource,
    ScriptSpec,
    SourceKind,
    run_limit_s,
)
from fleet.model.secret import Secret
from fleet.model.status import Status
from fleet.model.targets import (
    Selector,
    TagMatch,
    Target,
    TargetKind,
    name_matches,
    tags_match,
    unmatched_globs,
)

__all__ = [
    "REBOOT_TIMEOUT_S",
    "RUN_ID_PARAMETER",
    "STREAMS",
    "AlertKind",
    "AlertPolicy",
    "Amount",
    "ArmCounters",
    "Batch",
    "BatchRecord",
    "Blackout",
    "BlobRef",
    "BlobState",
    "BodyFormat",
    "BucketRecord",
    "BuiltinCommand",
    "CallError",
    "Cleanup",
    "Completion",
    "Concurrency",
    "DeleteReason",
    "Deleted",
    "Expectations",
    "Forecast",
    "FullOutput",
    "GateRecord",
    "HealthGate",
    "Invocation",
    "JobSpec",
    "Judgement",
    "Launched",
    "ListedRunCommand",
    "MachineView",
    "Missed",
    "Mode",
    "Order",
    "OutputBlobs",
    "OutputSpec",
    "OutputStorage",
    "Parameter",
    "Progress",
    "Reboot",
    "RebootOutcome",
    "RebootPolicy",
    "RebootRecord",
    "RestartAccepted",
    "RolloutPlan",
    "RolloutPolicy",
    "RolloutRecord",
    "RunPlan",
    "RunReport",
    "RunView",
    "Schedule",
    "ScriptIdentity",
    "ScriptSource",
    "ScriptSpec",
    "Secret",
    "Selector",
    "SourceKind",
    "Status",
    "StorageCounters",
    "StreamCopy",
    "TagMatch",
    "Target",
    "TargetKind",
    "TargetResult",
    "ValueCheck",
    "Verdict",
    "Webhook",
    "blob_name",
    "is_fleets",
    "marker_tags",
    "name_matches",
    "run_limit_s",
    "tags_match",
    "unmatched_globs",
]
