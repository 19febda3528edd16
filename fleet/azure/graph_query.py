"""The Resource Graph query (KQL) that finds a selector's candidates (pure, no I/O).

The query narrows by type, resource group and tags as far as KQL can say it exactly; the rest
(name globs, exclusions, exact tag semantics) is applied to what it returns by
``Selector.matches`` (``fleet.model.targets``). Azure I/O lives in ``fleet.azure.targets``.
"""

from __future__ import annotations

from fleet.model import Selector, TagMatch

VM_TYPE = "microsoft.compute/virtualmachines"
VMSS_TYPE = "microsoft.compute/virtualmachinescalesets"


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
    by ``Selector.matches``). ``tags['Env']`` would be exact but case-sensitive on the key, while
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
    locally by ``Selector.matches`` (KQL has no globs).
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
