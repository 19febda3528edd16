"""ARM Resources_List ``$filter``: the supported forms, the tag-only rule and error messages."""

from __future__ import annotations

from typing import Any

import pytest

from fleet.sim.arm_filter import FilterError, parse_filter
from fleet.sim.errors import ArmError

SUB = "/subscriptions/00000000-0000-0000-0000-000000000001"


def _resource(
    name: str, rg: str, type_: str, location: str, tags: dict[str, str]
) -> dict[str, Any]:
    rid = f"{SUB}/resourceGroups/{rg}/providers/{type_}/{name}"
    return {
        "id": rid,
        "name": name,
        "type": type_,
        "location": location,
        "resourceGroup": rg,
        "tags": tags,
    }


VM = "Microsoft.Compute/virtualMachines"
VMSS = "Microsoft.Compute/virtualMachineScaleSets"
RESOURCES = [
    _resource("web-01", "rg-web", VM, "eastus", {"env": "prod", "Role": "web"}),
    _resource("web-02", "rg-web", VM, "westus", {"ENV": "Prod"}),
    _resource("db-01", "RG-Data", VM, "eastus", {"env": "dev", "deploy": "blue"}),
    _resource("pool", "rg-web", VMSS, "eastus", {}),
    {
        "id": f"{SUB}/resourceGroups/rg-x/providers/{VM}/untagged",
        "name": "untagged",
        "type": VM,
        "location": "eastus",
    },
]


def _names(text: str | None) -> list[str]:
    flt = parse_filter(text)
    return [r["name"] for r in RESOURCES if flt.matches(r)]


@pytest.mark.parametrize("text", [None, "", "   "])
def test_no_filter_matches_everything(text: str | None) -> None:
    flt = parse_filter(text)
    assert not flt.tag_filter
    assert _names(text) == [r["name"] for r in RESOURCES]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        # tag names are case-insensitive, values case-sensitive
        ("tagName eq 'env'", ["web-01", "web-02", "db-01"]),
        ("tagName eq 'env' and tagValue eq 'prod'", ["web-01"]),
        ("tagValue eq 'Prod' and tagName eq 'ENV'", ["web-02"]),
        ("startswith(tagName, 'dep')", ["db-01"]),
        ("startswith(tagName,'R')", ["web-01"]),
        ("(tagName eq 'role')", ["web-01"]),
    ],
)
def test_tag_filters(text: str, names: list[str]) -> None:
    flt = parse_filter(text)
    assert flt.tag_filter
    assert _names(text) == names


@pytest.mark.parametrize(
    ("text", "names"),
    [
        (
            "resourceType eq 'microsoft.compute/VIRTUALMACHINES'",
            ["web-01", "web-02", "db-01", "untagged"],
        ),
        ("resourceType ne 'Microsoft.Compute/virtualMachines'", ["pool"]),
        ("location eq 'westus'", ["web-02"]),
        ("location eq 'West US'", ["web-02"]),
        ("location ne 'eastus'", ["web-02"]),
        ("name eq 'WEB-01'", ["web-01"]),
        ("name ne 'pool' and location eq 'eastus'", ["web-01", "db-01", "untagged"]),
        ("resourceGroup eq 'rg-data'", ["db-01"]),
        ("resourceGroup eq 'rg-x'", ["untagged"]),  # derived from the id when absent
        ("substringof('web', name)", ["web-01", "web-02"]),
        ("substringof('DATA', resourceGroup)", ["db-01"]),
        ("name eq 'pool' or location eq 'westus'", ["web-02", "pool"]),
        (
            "substringof('0', name) and (location eq 'westus' or resourceGroup eq 'RG-DATA')",
            ["web-02", "db-01"],
        ),
        ("location eq 'eastus' and name eq 'web-01' or name eq 'pool'", ["web-01", "pool"]),
        ("NAME EQ 'pool' OR Location Eq 'westus'", ["web-02", "pool"]),
    ],
)
def test_other_filters(text: str, names: list[str]) -> None:
    flt = parse_filter(text)
    assert not flt.tag_filter
    assert _names(text) == names


def test_quoted_strings_use_doubled_quotes() -> None:
    odd = _resource("o'brien", "rg", VM, "eastus", {"owner's": "it's ok"})
    assert parse_filter("name eq 'o''brien'").matches(odd)
    assert parse_filter("substringof('''', name)").matches(odd)
    assert parse_filter("tagName eq 'owner''s' and tagValue eq 'it''s ok'").matches(odd)
    assert not parse_filter("name eq 'o'").matches(odd)


def _error(text: str) -> FilterError:
    with pytest.raises(FilterError) as caught:
        parse_filter(text)
    error = caught.value
    assert isinstance(error, ArmError)
    assert (error.status, error.code) == (400, "InvalidFilterInQueryString")
    assert error.message.startswith(f"Invalid $filter '{text}' specified in the query string: ")
    assert error.body()["error"]["message"] == error.message
    return error


@pytest.mark.parametrize(
    "text",
    [
        "tagName eq 'env' and location eq 'eastus'",
        "location eq 'eastus' and tagName eq 'env' and tagValue eq 'prod'",
        "startswith(tagName, 'env') and name eq 'x'",
        "tagName eq 'env' or tagName eq 'role'",
        "(tagName eq 'env' and tagValue eq 'prod') or name eq 'pool'",
    ],
)
def test_tag_filters_cannot_be_combined(text: str) -> None:
    message = _error(text).message
    assert "only allows a tag filter on its own" in message
    assert "Resource Graph" in message


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("tagValue eq 'prod'", "tagValue can only be used together with tagName"),
        ("tagValue eq 'prod' and name eq 'x'", "tagValue can only be used together with tagName"),
        ("tagName eq 'a' and tagName eq 'b'", "one 'tagName eq'"),
        ("tagName ne 'a'", "one 'tagName eq'"),
        ("tagName eq 'a' and tagValue ne 'b'", "one 'tagName eq'"),
        ("startswith(tagName, 'a') and tagValue eq 'b'", "cannot be combined with tagValue"),
        ("colour eq 'red'", "unsupported field 'colour'"),
        ("identity/principalId eq 'x'", "unsupported field 'identity/principalId'"),
        ("name gt 'a'", "unsupported operator 'gt'"),
        ("name = 'a'", "unsupported operator '='"),
        ("endswith(name, 'a')", "unsupported function 'endswith'"),
        ("startswith(name, 'a')", "startswith is supported on tagName only, not on 'name'"),
        ("substringof('a', location)", "substringof is supported on name and resourceGroup"),
        ("name eq 5", "expected a quoted string but found '5'"),
        ("name eq 'abc", "unterminated string starting at position 8"),
        ("name eq", "expected a quoted string but the filter ended"),
        ("(name eq 'a'", "expected ')' but the filter ended"),
        ("name eq 'a' name eq 'b'", "unexpected 'name' after a complete condition"),
        ("name eq 'a' and", "expected a condition but the filter ended"),
        ("substringof('a' name)", "expected ',' but found 'name'"),
    ],
)
def test_errors_name_the_bad_part(text: str, named: str) -> None:
    assert named in _error(text).message
