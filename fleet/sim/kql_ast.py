"""The syntax tree of a parsed Resource Graph query, and the static types the parser checks.

Owns the frozen node classes shared by :mod:`fleet.sim.kql_parse` (which builds them) and
:mod:`fleet.sim.kql_eval` (which runs them), plus the schema of the ``Resources`` table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Static types, coarse on purpose: enough to reject what Kusto would reject (a string column
# compared with a number, a property path on a string, a non-boolean `where`).
STRING, NUMBER, BOOL, DYNAMIC = "string", "number", "bool", "dynamic"

# Resource Graph's `Resources` columns in the order Azure returns them.
RESOURCE_SCHEMA: dict[str, str] = {
    "id": STRING,
    "name": STRING,
    "type": STRING,
    "tenantId": STRING,
    "kind": STRING,
    "location": STRING,
    "resourceGroup": STRING,
    "subscriptionId": STRING,
    "managedBy": STRING,
    "sku": DYNAMIC,
    "plan": DYNAMIC,
    "properties": DYNAMIC,
    "tags": DYNAMIC,
    "identity": DYNAMIC,
    "zones": DYNAMIC,
    "extendedLocation": DYNAMIC,
}


@dataclass(frozen=True)
class Column:
    name: str


@dataclass(frozen=True)
class Literal:
    value: Any  # str | int | float | bool


@dataclass(frozen=True)
class Member:
    """``base.key`` or ``base['key']``: a property of a dynamic bag."""

    base: Expr
    key: str


@dataclass(frozen=True)
class Index:
    """``base[0]``: an element of a dynamic array."""

    base: Expr
    index: int


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Logical:
    """``a and b and c``: flat, so long chains never recurse deeply."""

    op: str  # "and" | "or"
    operands: tuple[Expr, ...]


@dataclass(frozen=True)
class Compare:
    """A binary predicate; ``op`` is the Kusto spelling (``==``, ``!has``, ``startswith_cs``)."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class InList:
    negated: bool
    case_insensitive: bool
    left: Expr
    items: tuple[Literal, ...]


Expr = Column | Literal | Member | Index | Call | Logical | Compare | InList


@dataclass(frozen=True)
class Where:
    predicate: Expr


@dataclass(frozen=True)
class Project:
    items: tuple[tuple[str, Expr], ...]


@dataclass(frozen=True)
class Extend:
    items: tuple[tuple[str, Expr], ...]


@dataclass(frozen=True)
class ProjectAway:
    names: tuple[str, ...]


@dataclass(frozen=True)
class SortKey:
    expr: Expr
    descending: bool
    nulls_first: bool


@dataclass(frozen=True)
class OrderBy:
    keys: tuple[SortKey, ...]


@dataclass(frozen=True)
class Limit:
    count: int


Stage = Where | Project | Extend | ProjectAway | OrderBy | Limit


@dataclass(frozen=True)
class Query:
    """A parsed query over ``Resources``: its stages and the columns it produces, in order."""

    stages: tuple[Stage, ...]
    columns: tuple[str, ...]
    limited: bool


def columns_in(expr: Expr) -> set[str]:
    """Every column name ``expr`` reads."""
    match expr:
        case Column(name):
            return {name}
        case Member(base, _) | Index(base, _):
            return columns_in(base)
        case Call(_, args) | Logical(_, args):
            return set().union(*(columns_in(arg) for arg in args))
        case Compare(_, left, right):
            return columns_in(left) | columns_in(right)
        case InList(_, _, left, _):
            return columns_in(left)
    return set()
