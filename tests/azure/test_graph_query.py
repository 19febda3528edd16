"""The Resource Graph query that finds a selector's candidates, checked with the emulator's own
KQL parser and evaluator: it keeps every target ``Selector.matches`` would select."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleet.azure.graph_query import VM_TYPE, VMSS_TYPE, graph_query, kql_string
from fleet.model import Selector, TagMatch, Target, TargetKind
from fleet.sim.kql import parse, run_query
from tests.fakes import SUB


def row(
    name: str,
    *,
    rg: str = "rg-app",
    kind: str = VM_TYPE,
    tags: dict[str, str] | None = None,
) -> dict[str, Any]:
    provider = "virtualMachineScaleSets" if kind == VMSS_TYPE else "virtualMachines"
    return {
        "id": f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.Compute/"
        f"{provider}/{name}",
        "name": name,
        "type": "Microsoft.Compute/" + provider,
        "location": "westeurope",
        "resourceGroup": rg,
        "subscriptionId": SUB,
        "tags": tags,
        "properties": {},
    }


ROWS = [
    row("web-01", tags={"Env": "prod", "team": "web"}),
    row("web-02", tags={"env": "Prod"}),
    row("web-03", rg="RG-Other", tags={"env": "prod"}),
    row("db-01", tags={"ENV": "stage", "owner": ""}),
    row("bare-01"),
    row("ss-01", kind=VMSS_TYPE, tags={"env": "prod"}),
    {**row("disk-01", tags={"env": "prod"}), "type": "Microsoft.Compute/disks"},
]


def as_target(r: dict[str, Any]) -> Target:
    return Target(
        id=r["id"],
        name=r["name"],
        kind=TargetKind.VM,
        subscription=SUB,
        resource_group=r["resourceGroup"],
        location=r["location"],
        tags=tuple(sorted((r["tags"] or {}).items())),
    )


def select_via_graph(selector: Selector, rows: list[dict[str, Any]]) -> list[str]:
    query = graph_query(selector)
    parse(query)  # inside the emulator's (and so Resource Graph's) KQL subset
    found = run_query(query, rows).rows
    expected = {
        r["name"]
        for r in rows
        if r["type"].lower() in (VM_TYPE, VMSS_TYPE)
        and selector.matches(as_target(r))
        and (selector.include_scale_sets or r["type"].lower() == VM_TYPE)
    }
    names = {r["name"] for r in found}
    assert expected <= names  # the query may only narrow, never lose a target
    return sorted(r["name"] for r in found if selector.matches(as_target(r)))


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        (Selector(), ["bare-01", "db-01", "ss-01", "web-01", "web-02", "web-03"]),
        (Selector(include_scale_sets=False), ["bare-01", "db-01", "web-01", "web-02", "web-03"]),
        (Selector(tags=(TagMatch("env", ("prod",)),)), ["ss-01", "web-01", "web-03"]),
        (
            Selector(tags=(TagMatch("env", ("prod", "stage")),)),
            ["db-01", "ss-01", "web-01", "web-03"],
        ),
        (Selector(tags=(TagMatch("ENV"), TagMatch("Team", ("web",)))), ["web-01"]),
        (Selector(tags=(TagMatch("owner"),)), ["db-01"]),
        (Selector(resource_groups=("rg-other",)), ["web-03"]),
        (Selector(names=("web-*",), exclude_names=("*-02",)), ["web-01", "web-03"]),
        (Selector(exclude_tags=(TagMatch("env"),)), ["bare-01"]),
    ],
)
def test_graph_query_selects_the_right_rows(selector: Selector, expected: list[str]) -> None:
    assert select_via_graph(selector, ROWS) == expected


def test_graph_query_narrows_on_tags_in_kql() -> None:
    query = graph_query(Selector(tags=(TagMatch("env", ("prod",)),)))
    names = {r["name"] for r in run_query(query, ROWS).rows}
    assert "bare-01" not in names and "db-01" not in names and "web-02" not in names


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_kql_string_round_trips(s: str) -> None:
    rows = [row("placeholder") | {"name": n} for n in (s, s + "x", "x" + s, s.upper() + "!")]
    found = run_query(f"Resources | where name == {kql_string(s)}", rows).rows
    assert [r["name"] for r in found] == [s]


keys = st.sampled_from(["env", "Env", "ENV", "team", "a b", 'q"uote', "é", "x\\y", "ünï"])
values = st.sampled_from(["prod", "Prod", "", "a'b", 'v"', "dev", "ñ"])


@settings(max_examples=200, deadline=None)
@given(
    tag_sets=st.lists(st.dictionaries(keys, values, max_size=3), min_size=1, max_size=6),
    wanted=st.lists(st.tuples(keys, st.lists(values, max_size=2)), max_size=2),
)
def test_graph_query_never_loses_a_target_matches_would_select(
    tag_sets: list[dict[str, str]], wanted: list[tuple[str, list[str]]]
) -> None:
    rows = [row(f"vm-{i}", tags=tags) for i, tags in enumerate(tag_sets)]
    selector = Selector(tags=tuple(TagMatch(k, tuple(v)) for k, v in wanted))
    select_via_graph(selector, rows)  # asserts the superset property
