"""Flags laid over a job: a job file given with ``-c``, ``--timeout``, ``--success-exit-codes``,
``--exclude-name``/``--exclude-tag``, the rollout flags or the output flags
(``--output-container``, ``--completion``) (``fleet run JOB.yaml ...``), or a recorded job made
again with changes (``fleet rerun ID --batches ... --exclude ...``).

Overrides are job-file-shaped data (``{"max_concurrency": ..., "script": {"timeout": ...},
"targets": {"exclude": {...}}, "rollout": {...}, "output": {...}}``), checked on their own
first so an error names the flag, then laid over the job's data when the spec is built:
scalars replace the file's (``--output-container`` the whole ``output.storage``), exclusions
add to it. What a job selects and runs (tags, names, the script) is the
file's to say; a flag for those is refused with a job file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fleet.model import JobSpec
from fleet.spec.build import ScriptFiles, build
from fleet.spec.document import JobDocument
from fleet.spec.flags import (
    JobOptions,
    flags_origin,
    options_to_data,
    output_overrides,
    rollout_overrides,
)

#: The job flags that may be laid over a job file (the others describe a job of their own).
OVERRIDE_FLAGS = (
    "max_concurrency", "timeout", "success_exit_codes", "exclude_name", "exclude_tag",
)  # fmt: skip


def overrides_from_options(opts: JobOptions) -> dict[str, Any]:
    """The override flags among ``opts`` as data, checked (``SpecError`` naming the flag)."""
    out: dict[str, Any] = {}
    rollout = rollout_overrides(opts.rollout)
    if rollout:
        out["rollout"] = rollout
    output = output_overrides(opts.output)
    if output:
        out["output"] = output
    data, problems = options_to_data(opts)
    given = data["script"]
    script = {k: given[k] for k in ("timeout", "success_exit_codes") if k in given}
    exclude = {k: v for k, v in data["targets"]["exclude"].items() if v}
    if script:
        out["script"] = script
    if exclude:
        out["targets"] = {"exclude": exclude}
    if "max_concurrency" in data:
        out["max_concurrency"] = data["max_concurrency"]
    if problems or script or exclude or "max_concurrency" in out:  # check them as flags
        probe = {
            "name": "override",
            "targets": {"all": True, "exclude": exclude},
            "script": {"inline": "true", **script},
            **({"max_concurrency": out["max_concurrency"]} if "max_concurrency" in out else {}),
        }
        build(probe, flags_origin(), {}, problems)
    return out


def merge_overrides(first: Mapping[str, Any], then: Mapping[str, Any]) -> dict[str, Any]:
    """``then`` laid over ``first`` (both override data): scalars replace, exclusions add."""
    merged: dict[str, Any] = {k: v for k, v in first.items() if k != "targets"}
    for key in ("rollout", "script", "output"):
        if key in then:
            merged[key] = {**first.get(key, {}), **then[key]}
    if "max_concurrency" in then:
        merged["max_concurrency"] = then["max_concurrency"]
    exclude = _exclude_union(
        first.get("targets", {}).get("exclude", {}), then.get("targets", {}).get("exclude", {})
    )
    if exclude:
        merged["targets"] = {"exclude": exclude}
    return merged


def apply_overrides(data: Any, overrides: Mapping[str, Any]) -> Any:
    """A job's data with ``overrides`` laid over it (``data`` itself is not changed). Data
    that is not a job mapping is returned as is: the schema says what is wrong with it."""
    if not overrides or not isinstance(data, dict):
        return data
    out = dict(data)
    if "rollout" in overrides:
        out["rollout"] = {**_mapping(data.get("rollout")), **overrides["rollout"]}
    if "max_concurrency" in overrides:
        rollout = _mapping(out.get("rollout"))
        if "max_concurrency" in rollout:  # the file keeps it in rollout: replace it there
            out["rollout"] = {**rollout, "max_concurrency": overrides["max_concurrency"]}
        else:
            out["max_concurrency"] = overrides["max_concurrency"]
    for section in ("script", "output"):
        if section in overrides:
            out[section] = {**_mapping(data.get(section)), **overrides[section]}
    extra = overrides.get("targets", {}).get("exclude")
    if extra:
        targets = _mapping(data.get("targets"))
        exclude = _exclude_union(_mapping(targets.get("exclude")), extra)
        out["targets"] = {**targets, "exclude": exclude}
    return out


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def _exclude_union(first: Mapping[str, Any], then: Mapping[str, Any]) -> dict[str, Any]:
    names = list(dict.fromkeys([*(first.get("names") or []), *(then.get("names") or [])]))
    tags = {**_mapping(first.get("tags")), **_mapping(then.get("tags"))}
    return {k: v for k, v in (("names", names), ("tags", tags)) if v}


def flags_job_spec(
    document: JobDocument, env: Mapping[str, str] | None = None, files: ScriptFiles | None = None
) -> JobSpec:
    """The spec again from the data recorded for a flags job (``fleet resume``; a worker on
    Temporal, its script files from ``files``), with the overrides a rerun laid over it."""
    origin = flags_origin(Path(document.base_dir))
    data = apply_overrides(dict(document.data or {}), document.overrides)
    return build(data, origin, env, [], files)
