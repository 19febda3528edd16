"""The job as it was parsed (``JobDocument``), kept so the same spec can be built again later
(``fleet resume``, ``fleet rerun``): a job file's YAML text exactly as read, or the
job-file-shaped data the CLI flags were turned into — never the flags themselves.

``ParsedJob`` pairs it with the ``JobSpec`` built from it: whoever records a run stores the
document the spec came from, not a second reading of the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fleet.model import JobSpec

FLAGS_SOURCE = "<flags>"


@dataclass(frozen=True)
class JobDocument:
    """A job file's ``text`` or the ``data`` the job flags became, and the ``overrides`` laid
    over it (flags given with the job file, a rerun's changes: ``fleet.spec.overrides``).
    ``base_dir``: where relative ``file:`` scripts are read from (the job file's directory,
    or the working directory of the flags), absolute."""

    source: str  # the job file's path, or "<flags>"
    base_dir: str
    text: str | None = None
    data: Mapping[str, Any] | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)

    @property
    def from_file(self) -> bool:
        return self.text is not None

    @property
    def rollout(self) -> Mapping[str, Any]:
        """The rollout flags among the overrides."""
        return dict(self.overrides.get("rollout") or {})

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "base_dir": self.base_dir,
            "text": self.text,
            "data": None if self.data is None else dict(self.data),
            "overrides": dict(self.overrides),
            "rollout": dict(self.rollout),  # what fleet before overrides read
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> JobDocument:
        rollout = raw.get("rollout")
        overrides = raw.get("overrides") or ({"rollout": dict(rollout)} if rollout else {})
        return cls(
            source=str(raw["source"]),
            base_dir=str(raw["base_dir"]),
            text=raw.get("text"),
            data=raw.get("data"),
            overrides=dict(overrides),
        )


@dataclass(frozen=True)
class ParsedJob:
    """A spec and the document it was built from."""

    spec: JobSpec
    document: JobDocument
