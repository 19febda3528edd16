"""What a run is sent to: ``Target`` (a VM or scale-set instance) and the ``Selector`` that
finds targets, with what a selector means (``Selector.matches``), pure.

Tag semantics: AND across keys, OR within one key's values, an empty value list means "the key
is present". Tag keys compare case-insensitively (as in Azure), values case-sensitively; names
are globs compared case-insensitively; exclusions win over inclusions. Subscriptions are
applied by whoever scopes the search (``fleet.azure.targets``), not here.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum


class TargetKind(StrEnum):
    VM = "vm"
    VMSS_UNIFORM = "vmss-uniform"  # addressed as {vmss}/virtualMachines/{instanceId}
    VMSS_FLEXIBLE = "vmss-flexible"  # an ordinary VM that belongs to a scale set


@dataclass(frozen=True)
class Target:
    """One VM or scale-set instance a run command can be sent to."""

    id: str  # ARM id of the VM or VMSS VM
    name: str
    kind: TargetKind
    subscription: str
    resource_group: str
    location: str
    zone: str | None = None
    os: str | None = None  # "linux" | "windows" | None (unknown)
    power_state: str | None = None  # "running", "deallocated", ... None = not checked
    scale_set: str | None = None  # VMSS name for both Uniform and Flexible
    instance_id: str | None = None  # Uniform instance id
    fault_domain: int | None = None
    tags: tuple[tuple[str, str], ...] = ()

    @property
    def tag_map(self) -> dict[str, str]:
        return dict(self.tags)


@dataclass(frozen=True)
class TagMatch:
    """AND across keys, OR within a key's values; an empty ``values`` means "key present"."""

    key: str
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Selector:
    subscriptions: tuple[str, ...] = ()
    tags: tuple[TagMatch, ...] = ()
    resource_groups: tuple[str, ...] = ()
    names: tuple[str, ...] = ()  # globs
    query: str | None = None  # Resource Graph KQL (Resources table)
    include_scale_sets: bool = True
    exclude_names: tuple[str, ...] = ()
    exclude_tags: tuple[TagMatch, ...] = ()

    def matches(self, target: Target) -> bool:
        """Whether ``target`` is selected (subscriptions and ``query`` are applied by the
        search that found it)."""
        tags = target.tag_map
        groups = {rg.lower() for rg in self.resource_groups}
        if groups and target.resource_group.lower() not in groups:
            return False
        if self.names and not name_matches(target.name, self.names):
            return False
        if self.tags and not tags_match(tags, self.tags):
            return False
        if self.exclude_names and name_matches(target.name, self.exclude_names):
            return False
        return not any(tags_match(tags, (m,)) for m in self.exclude_tags)


def tags_match(tags: Mapping[str, str], wanted: Iterable[TagMatch]) -> bool:
    lowered = {k.lower(): v for k, v in tags.items()}
    for match in wanted:
        value = lowered.get(match.key.lower())
        if value is None or (match.values and value not in match.values):
            return False
    return True


def name_matches(name: str, globs: Iterable[str]) -> bool:
    """Whether ``name`` matches one of the ``globs`` (case-insensitive ``fnmatch``)."""
    lowered = name.lower()
    return any(fnmatch.fnmatchcase(lowered, g.lower()) for g in globs)


def unmatched_globs(names: Iterable[str], globs: Iterable[str]) -> list[str]:
    """The ``globs`` that match none of ``names`` (case-insensitive, as :func:`name_matches`)."""
    listed = list(names)
    return [g for g in globs if not any(name_matches(n, (g,)) for n in listed)]
