"""The run journal: every run and every per-target state transition in SQLite, written before
the action it describes, so a run killed at any instant can be resumed without running a script
twice on any target, and ``fleet runs`` / ``fleet show`` can read the history.

    paths      state directory: --state-dir > FLEET_STATE_DIR > platformdirs user data dir
    records    frozen records (runs, targets, transitions) and ``classify`` (resume phases)
    spec_record  the secret-free spec and its spec/script hashes
    schema     tables, schema version, application id, migrations, foreign-file detection
    db         connections, transactions (durable = fsynced), sqlite3 error → JournalError
    lock       one writer per run: fcntl.flock + a ``writers`` row naming the holder
    writer     RunWriter: appends transitions (intents durable before the PUT), ends the run
    committer  GroupCommitter: a run's records, many per transaction, in order (group commit)
    recorder   the engine's Recorder port on a GroupCommitter (``recording(writer)``)
    rollout    the rollout's events (batch starts/ends, gate verdicts) and their fold
    store      Journal: opens the file, begins/resumes runs, answers readers
    timings    a job's script run times per target (the evidence of its forecast)

Imports only ``fleet.model``, ``fleet.secrets`` and ``fleet.errors`` from fleet: the engine
calls the journal (through the ``Recorder`` port), never the other way round.
"""

from fleet.journal.paths import resolve_state_dir
from fleet.journal.records import (
    CRASHED,
    RUNNING,
    JournalTarget,
    LatestState,
    Phase,
    PlannedTarget,
    RunRecord,
    State,
    Transition,
    classify,
)
from fleet.journal.spec_record import script_hash, spec_hash, spec_to_dict
from fleet.journal.store import Journal
from fleet.journal.writer import RunWriter

__all__ = [
    "CRASHED",
    "RUNNING",
    "Journal",
    "JournalTarget",
    "LatestState",
    "Phase",
    "PlannedTarget",
    "RunRecord",
    "RunWriter",
    "State",
    "Transition",
    "classify",
    "resolve_state_dir",
    "script_hash",
    "spec_hash",
    "spec_to_dict",
]
