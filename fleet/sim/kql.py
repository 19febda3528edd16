"""The Azure Resource Graph KQL subset the emulator answers over its ``Resources`` table.

Public face of the KQL modules: :func:`parse` (text -> :class:`Query`, or :class:`KqlError`) and
:func:`run_query` (parse + evaluate). The subset::

    Resources | where ... | project ... | project-away ... | extend ...
              | order by / sort by ... [asc|desc] [nulls first|last] | limit N / take N

Predicates: ``==  !=  =~  !~  <  <=  >  >=``, ``[!]in[~] (literals)``, ``[!]has``,
``[!]contains``, ``[!]startswith``, ``[!]endswith`` (each also ``_cs``), ``and``/``or``/
``not()``. Expressions: columns, ``a.b``/``a['b']``/``a[0]`` paths, string/number/bool
literals, ``tostring tolower toupper strcat isempty isnotempty isnull isnotnull``. Everything
else raises :class:`KqlError` naming the construct; see :mod:`fleet.sim.kql_eval` for how nulls,
mixed types and ordering behave. Pure: no I/O.

Module map: ``kql_lex`` (tokens, KqlError) -> ``kql_ast`` (nodes, schema) -> ``kql_types``
(static checks) -> ``kql_parse`` (parser) -> ``kql_eval`` (evaluator) -> this facade.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fleet.sim.kql_ast import RESOURCE_SCHEMA, Query
from fleet.sim.kql_eval import evaluate
from fleet.sim.kql_lex import KqlError
from fleet.sim.kql_parse import parse_query

__all__ = ["RESOURCE_SCHEMA", "KqlError", "Query", "QueryResult", "parse", "run_query"]


@dataclass(frozen=True)
class QueryResult:
    """Result rows (in order), their column names, and whether the query used limit/take."""

    rows: list[dict[str, Any]]
    columns: list[str]
    limited: bool  # Resource Graph emits no $skipToken for limited queries


def parse(query: str) -> Query:
    """Parse ``query``; raise :class:`KqlError` if it is malformed or outside the subset."""
    return parse_query(query)


def run_query(query: str, rows: Iterable[Mapping[str, Any]]) -> QueryResult:
    """Run ``query`` over Resource Graph ``rows`` (dicts with the ``Resources`` columns)."""
    parsed = parse(query)
    return QueryResult(evaluate(parsed, rows), list(parsed.columns), parsed.limited)
