"""What a selector means (``Selector.matches``): tag rules, name globs, resource groups and
exclusions, pure."""

from __future__ import annotations

import pytest

from fleet.model import Selector, TagMatch, name_matches, tags_match
from tests.fakes import make_target

TAGS = {"Env": "prod", "Team": "Web", "Owner": ""}


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [
        ((TagMatch("env", ("prod",)),), True),  # keys ignore case
        ((TagMatch("ENV", ("prod", "stage")),), True),  # OR within a key
        ((TagMatch("env", ("Prod",)),), False),  # values keep case
        ((TagMatch("env", ("prod",)), TagMatch("team", ("Web",))), True),  # AND across keys
        ((TagMatch("env", ("prod",)), TagMatch("team", ("api",))), False),
        ((TagMatch("owner"),), True),  # key only: present, even with an empty value
        ((TagMatch("cost-center"),), False),
        ((), True),
    ],
)
def test_tag_rules(wanted: tuple[TagMatch, ...], expected: bool) -> None:
    assert tags_match(TAGS, wanted) is expected


def test_name_globs_ignore_case() -> None:
    assert name_matches("Web-01", ["web-*"])
    assert name_matches("db-7", ["web-*", "DB-?"])
    assert not name_matches("db-10", ["db-?"])


def test_resource_groups_names_tags_and_exclusions_combine() -> None:
    web1 = make_target("web-01", rg="RG-Prod", tags={"env": "prod"})
    web2 = make_target("web-02", rg="rg-prod", tags={"env": "prod", "canary": "yes"})
    db = make_target("db-01", rg="rg-prod", tags={"env": "prod"})
    other = make_target("web-03", rg="rg-dev", tags={"env": "prod"})
    selector = Selector(
        resource_groups=("rg-PROD",),
        names=("web-*",),
        tags=(TagMatch("env", ("prod",)),),
        exclude_tags=(TagMatch("canary"),),
    )
    assert [t.name for t in (web1, web2, db, other) if selector.matches(t)] == ["web-01"]
    excluded = Selector(names=("*",), exclude_names=("WEB-0[12]",))
    assert [t.name for t in (web1, web2, db, other) if excluded.matches(t)] == ["db-01", "web-03"]
