"""Ground truth about run-command resources (not their executions): who created each one and
when, every deletion (by whom, of whose run command), and how many PUT/PATCH requests addressed
each one. Read through ``/_sim/runcommands`` and ``/_sim/executions``; the engine never sees it.

fleet's marker (what the engine sets on every run command it creates): a name starting with
``fleet-`` AND the tags ``fleet-managed: "true"``, ``fleet-job`` and ``fleet-run-id``. A
look-alike named ``fleet-x`` without those tags belongs to someone else. ARM compares tag names
case-insensitively and tag values exactly; so do we.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

FLEET_PREFIX = "fleet-"
FLEET_TAGS = ("fleet-managed", "fleet-job", "fleet-run-id")


def fleet_marked(name: str, tags: Mapping[str, str]) -> bool:
    """Whether a run command carries fleet's marker (name prefix and all three tags)."""
    lowered = {k.lower(): v for k, v in tags.items()}
    has_tags = lowered.get("fleet-managed") == "true" and all(t in lowered for t in FLEET_TAGS)
    return name.lower().startswith(FLEET_PREFIX) and has_tags


@dataclass(frozen=True)
class Origin:
    created_by: str
    created_at: float
    preexisting: bool = False  # put there by the profile before the emulator started


@dataclass(frozen=True)
class Deletion:
    target: str
    name: str
    created_by: str
    created_at: float
    preexisting: bool
    deleted_by: str
    deleted_at: float
    fleet_marked: bool
    tags: dict[str, str] = field(default_factory=dict)


def _key(target: str, name: str) -> tuple[str, str]:
    return target.lower(), name.lower()


class RunCommandLedger:
    def __init__(self) -> None:
        self._origins: dict[tuple[str, str], Origin] = {}
        self._deletions: list[Deletion] = []
        self._sent: Counter[tuple[str, str]] = Counter()
        self._applied: Counter[tuple[str, str]] = Counter()
        self._names: dict[tuple[str, str], tuple[str, str]] = {}  # key -> display (target, name)

    def _remember(self, target: str, name: str) -> tuple[str, str]:
        key = _key(target, name)
        self._names.setdefault(key, (target, name))
        return key

    def created(
        self, target: str, name: str, by: str, at: float, *, preexisting: bool = False
    ) -> None:
        self._origins[self._remember(target, name)] = Origin(by, at, preexisting)

    def origin(self, target: str, name: str) -> Origin | None:
        return self._origins.get(_key(target, name))

    def deleted(
        self, target: str, name: str, tags: Mapping[str, str], by: str, at: float
    ) -> Deletion:
        origin = self._origins.pop(_key(target, name), None) or Origin("unknown", 0.0)
        entry = Deletion(
            target=target,
            name=name,
            created_by=origin.created_by,
            created_at=origin.created_at,
            preexisting=origin.preexisting,
            deleted_by=by,
            deleted_at=at,
            fleet_marked=fleet_marked(name, tags),
            tags=dict(tags),
        )
        self._deletions.append(entry)
        return entry

    def put_sent(self, target: str, name: str) -> None:
        """Any PUT/PATCH request that addressed this run command, whatever became of it."""
        self._sent[self._remember(target, name)] += 1

    def put_applied(self, target: str, name: str) -> None:
        """A PUT/PATCH the run-command store accepted (created, updated or identical)."""
        self._applied[self._remember(target, name)] += 1

    def deletions(self) -> list[dict[str, Any]]:
        return [asdict(d) for d in self._deletions]

    def _per_target(self, counts: Counter[tuple[str, str]]) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for key, n in counts.items():
            target, name = self._names[key]
            out.setdefault(target, {})[name] = n
        return out

    def put_counts(self) -> dict[str, Any]:
        return {
            "put_requests_per_target": self._per_target(self._sent),
            "puts_applied_per_target": self._per_target(self._applied),
        }
