"""A job's script run times, read back out of the journal: the evidence a ``Forecast`` is learned
from (``fleet.api.forecast``). Queries on a reader connection; no writes.

A run time is the recorded final result's ``startTime`` to ``endTime`` (Azure's own clock for
both ends, so neither clock skew nor an emulator's time scale distorts it), for scripts that
ran to an end (Succeeded, Failed, TimedOut): a canceled or never-started script says nothing
about how long it takes. The runs are the job's latest ones in the same mode — those with the
current script when there are any (another script may take other times), else any of the
job's in that mode. The modes' times are not alike: a managed run command's are the script's
own (its instance view), an action run command's its operation's, from the POST until at least
about 20 s later whatever the script took (#12); a run of the other mode says nothing.
"""

from __future__ import annotations

import sqlite3

from fleet.journal.records import State

#: Looked at to find runs with the current script before falling back to the latest runs.
_CANDIDATE_RUNS = 100

_TIMES = f"""
SELECT run_id, target_id,
       (julianday(json_extract(detail_json, '$.ended_at'))
        - julianday(json_extract(detail_json, '$.started_at'))) * 86400.0
FROM transitions
WHERE run_id = ? AND state = '{State.FINAL.value}'
  AND json_extract(detail_json, '$.execution_state') IN ('Succeeded', 'Failed', 'TimedOut')
  AND json_extract(detail_json, '$.started_at') IS NOT NULL
  AND json_extract(detail_json, '$.ended_at') IS NOT NULL
"""


def latest_runs(
    conn: sqlite3.Connection,
    job: str,
    runs: int,
    script_hash: str | None,
    exclude: str | None,
    mode: str = "managed",
) -> list[str]:
    """The ids of the job's latest ``runs`` runs in ``mode``, newest first (see the module
    docstring). The stored spec names the mode only when it is not managed."""
    rows = conn.execute(
        "SELECT run_id, script_hash FROM runs WHERE job = ? "
        "AND COALESCE(json_extract(spec_json, '$.mode'), 'managed') = ? "
        "ORDER BY started_at DESC, run_id DESC LIMIT ?",
        (job, mode, _CANDIDATE_RUNS),
    ).fetchall()
    rows = [r for r in rows if r[0] != exclude]
    same = [r for r in rows if script_hash is not None and r[1] == script_hash]
    return [r[0] for r in (same or rows)[:runs]]


def script_times(conn: sqlite3.Connection, run_ids: list[str]) -> list[tuple[int, str, float]]:
    """(runs ago — the index in ``run_ids`` —, target id, seconds) of every timed final result."""
    out: list[tuple[int, str, float]] = []
    for ago, run_id in enumerate(run_ids):
        for _, target_id, seconds in conn.execute(_TIMES, (run_id,)):
            if seconds is not None:
                out.append((ago, target_id, float(seconds)))
    return out
