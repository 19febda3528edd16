"""What the journal records so a run can be made again: ``Recipe`` — the job as it was parsed
(``JobDocument``) and the connection settings that matter for a resume (``Connection``), typed
and versioned. ``fleet resume`` and ``fleet rerun`` rebuild the spec from it.

Secret values are never part of it: protected parameters and passwords are references to
environment variables (read again on resume), and the journal scrubs any secret value that
slipped into it (a SAS token in a script URI becomes ``***``) — such a recipe is refused.

Versions, as stored (JSON):

- 2: ``{"version": 2, "job": JobDocument, "connection": Connection, "rerun_of": id | null}``
- 1 (the first journals): ``{"version": 1, "flags": {fleet run's parameters}, "spec_text",
  "cwd"}`` — still read: the flags are turned into a version-2 recipe the way fleet replayed
  them then (job file text + rollout flags, or the job flags as data).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

from fleet.errors import SpecError
from fleet.model import JobSpec
from fleet.secrets import REDACTED
from fleet.spec.document import FLAGS_SOURCE, JobDocument
from fleet.spec.flags import JobOptions, RolloutOptions, options_to_data, rollout_overrides
from fleet.spec.load import file_job_spec
from fleet.spec.overrides import flags_job_spec
from fleet.util.refs import absolute_ref

#: How much faster than Azure ``--sim``'s emulator runs unless ``--time-scale`` says.
SIM_TIME_SCALE = 20.0


def _absolute(path: Any) -> str | None:
    return None if path is None else str(Path(path).resolve())


@dataclass(frozen=True)
class Connection:
    """Where a run's Azure is: the built-in emulator (``sim``, with its profile and time
    scale) or ARM (a cloud, or a custom endpoint with its CA: an emulator there may run
    ``time_scale`` times faster than Azure). Paths are absolute."""

    sim: bool = False
    profile: str | None = None  # a built-in profile's name, or a profile file's path
    time_scale: float = 1.0
    subscriptions: tuple[str, ...] = ()
    cloud: str = "public"
    arm_endpoint: str | None = None
    ca_cert: str | None = None

    @classmethod
    def from_flags(cls, flags: Mapping[str, Any]) -> Connection:
        """The connection among the CLI's parameters (named as ``fleet run``'s)."""
        sim = bool(flags.get("sim"))
        return cls(
            sim=sim,
            profile=absolute_ref(flags.get("profile") or "demo") if sim else None,
            time_scale=float(flags.get("time_scale") or (SIM_TIME_SCALE if sim else 1.0)),
            subscriptions=tuple(flags.get("subscription") or ()),
            cloud=flags.get("cloud") or "public",
            arm_endpoint=flags.get("arm_endpoint"),
            ca_cert=_absolute(flags.get("ca_cert")),
        )

    def overridden(self, flags: Mapping[str, Any]) -> Connection:
        """With the connection flags given to ``fleet resume``/``rerun`` (``--subscription``,
        ``--cloud``, ``--arm-endpoint``, ``--ca-cert``); any but subscriptions means Azure."""
        changed = replace(
            self,
            subscriptions=tuple(flags.get("subscription") or ()) or self.subscriptions,
            cloud=flags.get("cloud") or self.cloud,
            arm_endpoint=flags.get("arm_endpoint") or self.arm_endpoint,
            ca_cert=_absolute(flags.get("ca_cert")) or self.ca_cert,
        )
        elsewhere = any(flags.get(k) for k in ("cloud", "arm_endpoint", "ca_cert"))
        return replace(changed, sim=False, profile=None, time_scale=1.0) if elsewhere else changed

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "subscriptions": list(self.subscriptions)}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Connection:
        return cls(**{**raw, "subscriptions": tuple(raw.get("subscriptions") or ())})


@dataclass(frozen=True)
class Recipe:
    """A run's job document and connection, to make the run again (resume, rerun)."""

    VERSION: ClassVar[int] = 2

    job: JobDocument
    connection: Connection = field(default_factory=Connection)
    rerun_of: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.VERSION,
            "job": self.job.to_json(),
            "connection": self.connection.to_json(),
            "rerun_of": self.rerun_of,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any] | None, run_id: str) -> Recipe:
        """The recipe journaled with ``run_id`` (version 2 or 1); ``SpecError`` if there is
        none, its version is unknown, or a secret was scrubbed out of it."""
        version = None if not raw else raw.get("version")
        if version == cls.VERSION and raw is not None:
            recipe = cls(
                job=JobDocument.from_json(raw["job"]),
                connection=Connection.from_json(raw.get("connection") or {}),
                rerun_of=raw.get("rerun_of"),
            )
        elif version == 1 and raw is not None:
            recipe = _from_version_1(raw)
        else:
            message = (
                f"run {run_id} has no recorded job this fleet can read (recipe version "
                f"{version}); it cannot be made again. Start a new run with the same spec."
            )
            raise SpecError(message)
        recipe.check_complete(run_id)
        return recipe

    def check_complete(self, run_id: str) -> None:
        """Refuse a recipe the journal had to scrub a secret out of (it would run wrong)."""
        if REDACTED in json.dumps(self.job.to_json()):
            message = (
                f"run {run_id} was made with a secret in its job (e.g. a SAS token in a "
                "script URI), which fleet never stores, so it cannot be made again. Start a "
                "new run with the same spec instead."
            )
            raise SpecError(message)

    def job_spec(self, env: Mapping[str, str] | None = None) -> JobSpec:
        """The spec again, built from the recorded document (secrets read from ``env``)."""
        if self.job.from_file:
            return file_job_spec(self.job, env)
        return flags_job_spec(self.job, env)


def _from_version_1(raw: Mapping[str, Any]) -> Recipe:
    """A version-1 recipe (the ``fleet run`` flags, paths absolute, and the spec file's text)
    as version 2: the same job and connection fleet replayed from it then."""
    flags = dict(raw.get("flags") or {})
    text, spec_path = raw.get("spec_text"), flags.get("spec")
    if text is not None and spec_path is not None:
        where = Path(spec_path)
        overrides = rollout_overrides(RolloutOptions.from_flags(flags))
        laid = {"rollout": overrides} if overrides else {}
        job = JobDocument(str(where), str(where.parent), text=text, overrides=laid)
    else:
        data, _problems = options_to_data(JobOptions.from_flags(flags))
        job = JobDocument(FLAGS_SOURCE, str(raw.get("cwd") or Path.cwd()), data=data)
    return Recipe(job, Connection.from_flags(flags), rerun_of=raw.get("rerun_of"))
