"""Target selection logic (pure): does a target match a selector, and the Resource Graph query
that finds candidates. Azure I/O lives in ``fleet.azure.targets``.

Tag semantics: AND across keys, OR within one key's values, an empty value list means "the key
is present". Tag keys compare case-insensitively (as in Azure), values case-sensitively; names
are globs compared case-insensitively; exclusions win over inclusions.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping

from fleet.model import Selector, TagMatch, Target

VM_TYPE = "microsoft.compute/virtualmachines"
VMSS_TYPE = "microsoft.compute/virtualmachinescalesets"


def tags_match(tags: Mapping[str, str], wanted: Iterable[TagMatch]) -> bool:
    lowered = {k.lower(): v for k, v in tags.items()}
    for match in wanted:
        value = lowered.get(match.key.lower())
        if value is None or (match.values and value not in match.values):
            return False
    return True


def name_matches(name: str, globs: Iterable[str]) -> bool:
    lowered = name.lower()
    return any(fnmatch.fnmatchcase(lowered, g.lower()) for g in globs)


def matches(target: Target, selector: Selector) -> bool:
    """Whether ``target`` is selected (subscriptions are applied by the caller's scoping)."""
    tags = target.tag_map
    if selector.resource_groups and target.resource_group.lower() not in {
        rg.lower() for rg in selector.resource_groups
    }:
        return False
    if selector.names and not name_matches(target.name, selector.names):
        return False
    if selector.tags and not tags_match(tags, selector.tags):
        return False
    if selector.exclude_names and name_matches(target.name, selector.exclude_names):
        return False
    return not any(tags_match(tags, (m,)) for m in selector.exclude_tags)


def kql_string(value: str) -> str:
    """A KQL string literal: single-quoted with backslash escapes."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    escaped = escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return f"'{escaped}'"


def _json_plain(text: str) -> bool:
    """Whether ``text`` reads the same inside any JSON serialisation (no escapes possible)."""
    return bool(text) and all(c.isascii() and (c.isalnum() or c in _PLAIN) for c in text)


_PLAIN = " -_.:@+=,;"


def _tag_clause(match: TagMatch) -> str | None:
    """A KQL test that keeps every resource ``match`` could select (a superset, refined later
    by :func:`matches`). ``tags['Env']`` would be exact but case-sensitive on the key, while
    Azure tag keys are not, so the test looks for the quoted key in the tags' JSON text with
    the case-insensitive ``contains``. Text JSON would escape is not narrowed at all."""
    if not _json_plain(match.key):
        return None
    clause = f"tostring(tags) contains {kql_string(chr(34) + match.key + chr(34))}"
    if match.values and all(_json_plain(v) for v in match.values):
        values = " or ".join(
            f"tostring(tags) contains_cs {kql_string(chr(34) + v + chr(34))}" for v in match.values
        )
        clause = f"{clause} and ({values})"
    return clause


def graph_query(selector: Selector) -> str:
    """Resource Graph query for candidate VMs and scale sets, narrowed by groups and tags.

    The result is a superset: name globs, exclusions and exact tag semantics are applied
    locally by :func:`matches` (KQL has no globs).
    """
    types = [f"type =~ {kql_string(VM_TYPE)}"]
    if selector.include_scale_sets:
        types.append(f"type =~ {kql_string(VMSS_TYPE)}")
    clauses = [f"({' or '.join(types)})"]
    if selector.resource_groups:
        groups = ", ".join(kql_string(rg) for rg in selector.resource_groups)
        clauses.append(f"resourceGroup in~ ({groups})")
    for match in selector.tags:
        clause = _tag_clause(match)
        if clause is not None:
            clauses.append(f"({clause})")
    return (
        "Resources | where "
        + " and ".join(clauses)
        + " | project id, name, type, location, resourceGroup, subscriptionId, zones, tags,"
        " properties | order by id asc"
    )
