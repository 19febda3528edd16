"""Checks on a fleet profile that span fields: unique names, patterns, cross-references.

Pydantic validates each field; these run on the validated ``Profile`` and return
``(field path, message)`` pairs so that ``fleet.sim.profile`` can point at the exact line.
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # fleet.sim.profile imports this module
    from fleet.sim.profile import GroupSettings, Profile, ResourceGroup

Loc = tuple[str | int, ...]
Issue = tuple[Loc, str]


def cross_check(profile: Profile) -> list[Issue]:
    issues: list[Issue] = []
    issues += _os_exclusive(("defaults",), profile.defaults)
    issues += _subscriptions(profile)
    issues += _principals(profile)
    issues += _outcomes(profile)
    issues += _behaviours(profile)
    issues += _background(profile)
    return issues


def _duplicates(names: Iterable[str]) -> dict[int, str]:
    """Index → name for every name (case-insensitive, as ARM) already seen earlier."""
    seen: set[str] = set()
    dups: dict[int, str] = {}
    for index, name in enumerate(names):
        if name.lower() in seen:
            dups[index] = name
        seen.add(name.lower())
    return dups


def _os_exclusive(loc: Loc, settings: GroupSettings) -> list[Issue]:
    if settings.os is not None and settings.os_mix is not None:
        return [((*loc, "os_mix"), "set either os or os_mix, not both")]
    return []


def _subscriptions(profile: Profile) -> list[Issue]:
    subs = profile.subscriptions
    issues: list[Issue] = []
    for i, sub_id in _duplicates(s.id for s in subs).items():
        issues.append((("subscriptions", i, "id"), f"duplicate subscription id {sub_id}"))
    for i, name in _duplicates(s.name for s in subs).items():
        issues.append((("subscriptions", i, "name"), f"duplicate subscription name {name!r}"))
    for i, sub in enumerate(subs):
        groups = sub.resource_groups
        for j, name in _duplicates(rg.name for rg in groups).items():
            loc = ("subscriptions", i, "resource_groups", j, "name")
            issues.append((loc, f"duplicate resource group {name!r} in this subscription"))
        for j, rg in enumerate(groups):
            issues += _resource_group(("subscriptions", i, "resource_groups", j), rg)
    return issues


def _resource_group(loc: Loc, rg: ResourceGroup) -> list[Issue]:
    issues: list[Issue] = []
    owner: dict[str, int] = {}
    for k, group in enumerate(rg.vms):
        group_loc = (*loc, "vms", k)
        issues += _os_exclusive(group_loc, group)
        if group.count > 1 and not _uses_index(group.name):
            message = f"pattern {group.name!r} needs {{i}} (e.g. 'web-{{i:03d}}') when count > 1"
            issues.append(((*group_loc, "name"), message))
            continue
        for name in group.names():
            first = owner.setdefault(name.lower(), k)
            if first != k:
                message = f"VM name {name!r} is also produced by vms[{first}] of this group"
                issues.append(((*group_loc, "name"), message))
                break
    for k, name in _duplicates(ss.name for ss in rg.scale_sets).items():
        issues.append(((*loc, "scale_sets", k, "name"), f"duplicate scale set name {name!r}"))
    for k, ss in enumerate(rg.scale_sets):
        issues += _os_exclusive((*loc, "scale_sets", k), ss)
    return issues


def _uses_index(pattern: str) -> bool:
    return any(field == "i" for _, field, _, _ in string.Formatter().parse(pattern))


def _principals(profile: Profile) -> list[Issue]:
    principals = profile.principals
    issues: list[Issue] = []
    for i, name in _duplicates(p.name for p in principals).items():
        issues.append((("principals", i, "name"), f"duplicate principal name {name!r}"))
    for i in _duplicates(p.token for p in principals):
        issues.append((("principals", i, "token"), "two principals share this token"))
    known = {
        sub.id.lower(): {rg.name.lower() for rg in sub.resource_groups}
        for sub in profile.subscriptions
    }
    for i, principal in enumerate(principals):
        for j, assignment in enumerate(principal.roles):
            problem = _unknown_scope(assignment.scope, known)
            if problem:
                issues.append((("principals", i, "roles", j, "scope"), problem))
    return issues


def _unknown_scope(scope: str, known: dict[str, set[str]]) -> str | None:
    # A typo in a scope would silently grant nothing; say so instead.
    parts = scope.strip("/").split("/")
    if scope == "/" or len(parts) < 2:
        return None
    sub_id = parts[1].lower()
    if sub_id not in known:
        return f"subscription {parts[1]!r} is not in this profile"
    if len(parts) >= 4 and parts[3].lower() not in known[sub_id]:
        return f"resource group {parts[3]!r} is not in subscription {parts[1]}"
    return None


def _outcomes(profile: Profile) -> list[Issue]:
    outcomes = profile.script.outcomes
    issues: list[Issue] = []
    for i, name in _duplicates(o.name for o in outcomes).items():
        issues.append((("script", "outcomes", i, "name"), f"duplicate outcome name {name!r}"))
    names = {o.name for o in outcomes}
    for i, override in enumerate(profile.overrides):
        if override.outcome is not None and override.outcome not in names:
            message = f"unknown outcome {override.outcome!r}; script.outcomes has: "
            issues.append((("overrides", i, "outcome"), message + ", ".join(sorted(names))))
        if all(
            value is None
            for value in (override.power_state, override.agent, override.script, override.outcome)
        ):
            message = "an override needs at least one of power_state, agent, script, outcome"
            issues.append((("overrides", i), message))
    return issues


def _behaviours(profile: Profile) -> list[Issue]:
    """A behaviour's outcome for a class no VM has would never be chosen: say so."""
    classes = {o.name for o in profile.script.outcomes}
    behaviours = profile.script.behaviours or []  # None: the built-in ones, which fit any
    issues: list[Issue] = []
    for i, name in _duplicates(b.name for b in behaviours).items():
        issues.append((("script", "behaviours", i, "name"), f"duplicate behaviour {name!r}"))
    for i, behaviour in enumerate(behaviours):
        for j, outcome in enumerate(behaviour.outcomes):
            vm_class = behaviour.class_of(outcome)
            if vm_class not in classes:
                loc = ("script", "behaviours", i, "outcomes", j)
                message = f"no VM has class {vm_class!r}; script.outcomes has: "
                issues.append((loc, message + ", ".join(sorted(classes)) + " (set vm_class)"))
    return issues


def _background(profile: Profile) -> list[Issue]:
    """Loads must name this profile's subscriptions and (ARM) principals, or they spend nothing
    the caller shares."""
    subs = {s.id.lower() for s in profile.subscriptions}
    principals = {p.name.lower() for p in profile.principals}
    issues: list[Issue] = []
    section = profile.background
    for kind, loads in (("arm", section.arm), ("compute", section.compute)):
        for i, load in enumerate(loads):
            if load.subscription is not None and load.subscription.lower() not in subs:
                message = f"subscription {load.subscription} is not in this profile"
                issues.append((("background", kind, i, "subscription"), message))
    for i, arm in enumerate(section.arm):
        if arm.principal is not None and arm.principal.lower() not in principals:
            message = f"principal {arm.principal!r} is not in this profile's principals"
            issues.append((("background", "arm", i, "principal"), message))
    return issues
