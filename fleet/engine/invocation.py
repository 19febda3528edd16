"""What to send to each target (pure): the run command's stable name, the script variant for the
target's OS, and the per-run ``FLEET_RUN_ID`` parameter that makes a rerun really re-execute
(Azure does not re-run a PUT whose body is identical to the current one). With output storage,
the output and error blobs; with ``completion: storage``, the script wrapped so that it ends by
printing fleet's completion record (``fleet.util.completion``).
"""

from __future__ import annotations

import re

from fleet.model import (
    RUN_ID_PARAMETER,
    Invocation,
    JobSpec,
    OutputBlobs,
    Parameter,
    ScriptSource,
    SourceKind,
    Target,
)
from fleet.util.completion import wrap_linux, wrap_windows


def run_command_name(job_name: str) -> str:
    """Stable per job, so reruns update one resource instead of piling up on the VM."""
    slug = re.sub(r"[^a-z0-9-]+", "-", job_name.lower()).strip("-") or "job"
    return f"fleet-{slug}"[:64]


def wrapped(source: ScriptSource, os: str | None, run_id: str) -> ScriptSource:
    """``source`` ending with fleet's completion record (script text only: the spec refuses
    ``completion: storage`` for a script URI or a built-in command)."""
    if source.kind is not SourceKind.INLINE:
        return source
    wrap = wrap_windows if os == "windows" else wrap_linux
    return ScriptSource(SourceKind.INLINE, wrap(source.value, run_id))


def invocation_for(
    spec: JobSpec,
    target: Target,
    run_id: str,
    *,
    blobs: OutputBlobs | None = None,
    wrap: bool = False,
) -> Invocation | None:
    """The invocation for ``target``, or None when the spec has no script for its OS."""
    source = spec.script.source_for(target.os)
    if source is None:
        return None
    if wrap:
        source = wrapped(source, target.os, run_id)
    params = (*spec.script.parameters, Parameter(RUN_ID_PARAMETER, run_id))
    return Invocation(
        run_command=run_command_name(spec.name),
        run_id=run_id,
        source=source,
        parameters=params,
        protected_parameters=spec.script.protected_parameters,
        run_as_user=spec.script.run_as_user,
        run_as_password=spec.script.run_as_password,
        timeout_s=spec.script.timeout_s,
        job=spec.name,
        output_blobs=blobs,
    )
