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
    job       JobSpec, Concurrency
    calls     Invocation, RunView, CallError, RUN_ID_PARAMETER
    hygiene   fleet's marker, Cleanup, ListedRunCommand, Deleted (what fleet leaves on VMs)
    results   Status, TargetResult, RunReport, ArmCounters, Progress
    plan      RunPlan — what a run will do, decided before anything is sent
"""

from fleet.model.calls import RUN_ID_PARAMETER, CallError, Invocation, RunView
from fleet.model.hygiene import (
    Cleanup,
    Deleted,
    DeleteReason,
    ListedRunCommand,
    is_fleets,
    marker_tags,
)
from fleet.model.job import Concurrency, JobSpec
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
    "STREAMS",
    "Amount",
    "ArmCounters",
    "Batch",
    "BatchRecord",
    "BlobRef",
    "BlobState",
    "CallError",
    "Cleanup",
    "Completion",
    "Concurrency",
    "DeleteReason",
    "Deleted",
    "FullOutput",
    "GateRecord",
    "HealthGate",
    "Invocation",
    "JobSpec",
    "ListedRunCommand",
    "Order",
    "OutputBlobs",
    "OutputSpec",
    "OutputStorage",
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
    "StorageCounters",
    "StreamCopy",
    "TagMatch",
    "Target",
    "TargetKind",
    "TargetResult",
    "blob_name",
    "is_fleets",
    "marker_tags",
    "name_matches",
    "run_limit_s",
    "tags_match",
]
