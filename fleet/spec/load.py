"""Getting a job: a YAML job file (read once, parsed with source positions, the rollout flags
laid over its ``rollout:`` section) or the CLI's job flags → ``ParsedJob`` (the frozen
``JobSpec`` and the document it was built from).

Every problem found is reported at once in one ``SpecError`` (exit code 2, nothing sent to
Azure), one line each::

    configs/jobs/x.yaml:7: script.timeout: '10 minutes' is not a duration — use 600, "90s", ...

Messages never contain a secret: protected parameter values, the run-as password, a SAS token.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fleet.errors import SpecError
from fleet.model import JobSpec
from fleet.spec.build import ScriptFiles, build
from fleet.spec.document import JobDocument, ParsedJob
from fleet.spec.flags import (
    JobOptions,
    RolloutOptions,
    job_flags_given,
    job_from_options,
    rollout_overrides,
)
from fleet.spec.overrides import (
    OVERRIDE_FLAGS,
    apply_overrides,
    merge_overrides,
    overrides_from_options,
)
from fleet.spec.problems import Origin
from fleet.util import yamlpos


def read_spec_text(path: str | os.PathLike[str]) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        message = f"{path}: cannot read job spec: {reason or exc}"
        raise SpecError(message) from None


def load_job(
    path: str | os.PathLike[str],
    *,
    env: Mapping[str, str] | None = None,
    rollout: RolloutOptions | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> ParsedJob:
    """Read a job file once and validate it; raise ``SpecError`` naming file, line, field and
    fix. ``rollout``: flags that override the file's ``rollout:`` settings one by one;
    ``overrides``: other flags laid over the file (``fleet.spec.overrides``)."""
    laid = dict(overrides or {})
    from_rollout = rollout_overrides(rollout)
    if from_rollout:
        laid = merge_overrides(laid, {"rollout": from_rollout})
    text = read_spec_text(path)
    spec = _build_file(text, str(path), Path(path).parent, laid, env)
    where = Path(path).resolve()
    document = JobDocument(str(where), str(where.parent), text=text, overrides=laid)
    return ParsedJob(spec, document)


def load_job_spec(
    path: str | os.PathLike[str],
    *,
    env: Mapping[str, str] | None = None,
    rollout: RolloutOptions | None = None,
) -> JobSpec:
    """:func:`load_job`, the spec only."""
    return load_job(path, env=env, rollout=rollout).spec


def file_job_spec(
    document: JobDocument, env: Mapping[str, str] | None = None, files: ScriptFiles | None = None
) -> JobSpec:
    """The spec again from a job file's recorded text (``fleet resume``); relative ``file:``
    scripts still resolve against the job file's directory (or come from ``files``)."""
    text, base_dir = document.text or "", Path(document.base_dir)
    return _build_file(text, document.source, base_dir, document.overrides, env, files)


def job_from_flags(flags: Mapping[str, Any]) -> ParsedJob:
    """The job the CLI's parameters describe: the job file they name (``spec``, with the
    override flags laid over it) or the job flags — not both."""
    spec_path: Path | None = flags.get("spec")
    if spec_path is None:
        return job_from_options(JobOptions.from_flags(flags))
    allowed = {"--" + name.replace("_", "-") for name in OVERRIDE_FLAGS}
    given = [flag for flag in job_flags_given(flags) if flag not in allowed]
    if given:
        message = (
            f"Give either a job spec file or job flags, not both (got {spec_path} "
            f"and {', '.join(given)}). Put the settings in the spec file instead; with a file "
            f"only {', '.join(sorted(allowed))}, the rollout and the output flags may change it."
        )
        raise SpecError(message)
    overrides = overrides_from_options(JobOptions.from_flags(flags))
    return load_job(spec_path, overrides=overrides)


def _build_file(
    text: str,
    source: str,
    base_dir: Path,
    overrides: Mapping[str, Any],
    env: Mapping[str, str] | None,
    files: ScriptFiles | None = None,
) -> JobSpec:
    try:
        data, node = yamlpos.parse(text)
    except yamlpos.YamlProblem as exc:
        where = yamlpos.format_loc(exc.loc)
        head = source if exc.line is None else f"{source}:{exc.line}"
        message = f"{head}: {where}: {exc.message}" if where else f"{head}: {exc.message}"
        raise SpecError(message) from None
    data = apply_overrides(data, overrides)
    return build(data, Origin(source, node, base_dir, yamlpos.format_loc), env, [], files)
