"""Evaluator for parsed Resource Graph queries over in-memory ``Resources`` rows.

Owns the value semantics of the subset. Where Kusto's rules are subtle they are pinned down here:

* A missing property path is null. String operators (``==``, ``=~``, ``has``, ``contains``,
  ``startswith``, ...) read null as the empty string, so ``tags.env != 'prod'`` is true for an
  untagged resource and ``tags.env == 'prod'`` is false, as in Kusto; two nulls are neither
  equal nor unequal. Numbers compare numerically; other mixed values compare as ``tostring``.
* ``tostring`` of a bag or array is compact JSON; of a bool ``true``/``false``.
* ``has`` matches whole terms: maximal runs of ASCII letters/digits, case-insensitively.
* ``where`` keeps rows whose predicate is exactly true (null counts as false); and/or use
  Kusto's three-valued logic.
* ``order by`` puts nulls last when descending and first when ascending unless told otherwise;
  mixing strings, numbers, bools or bags within one sort key is a :class:`KqlError`.

String columns (``name``, ``kind``, ``managedBy``...) that are null in the input read as ``""``,
since Kusto strings cannot be null. Pure; imports only ``fleet.sim.kql_*``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from typing import Any

from fleet.sim.kql_ast import (
    RESOURCE_SCHEMA,
    STRING,
    Call,
    Column,
    Compare,
    Expr,
    Extend,
    Index,
    InList,
    Limit,
    Literal,
    Logical,
    Member,
    OrderBy,
    Project,
    ProjectAway,
    Query,
    SortKey,
    Where,
)
from fleet.sim.kql_lex import KqlError

Row = dict[str, Any]


def evaluate(query: Query, rows: Iterable[Mapping[str, Any]]) -> list[Row]:
    """Run ``query`` over ``rows`` and return fresh result rows (no sharing with the input)."""
    table = [_resource_row(row) for row in rows]
    for stage in query.stages:
        match stage:
            case Where(predicate):
                table = [row for row in table if value_of(predicate, row) is True]
            case Project(items):
                table = [{name: value_of(expr, row) for name, expr in items} for row in table]
            case Extend(items):
                table = [_extend(row, items) for row in table]
            case ProjectAway(names):
                table = [{k: v for k, v in row.items() if k not in names} for row in table]
            case OrderBy(keys):
                table = _order(table, keys)
            case Limit(count):
                table = table[:count]
    return copy.deepcopy(table)


def _resource_row(row: Mapping[str, Any]) -> Row:
    out: Row = {}
    for column, kind in RESOURCE_SCHEMA.items():
        value = row.get(column)
        out[column] = "" if value is None and kind == STRING else value
    return out


def _extend(row: Row, items: tuple[tuple[str, Expr], ...]) -> Row:
    out = dict(row)
    for name, expr in items:
        out[name] = value_of(expr, row)
    return out


def value_of(expr: Expr, row: Row) -> Any:
    """The value of ``expr`` on ``row`` (``None`` for null)."""
    match expr:
        case Column(name):
            return row.get(name)
        case Literal(value):
            return value
        case Member(base, key):
            bag = value_of(base, row)
            return bag.get(key) if isinstance(bag, dict) else None
        case Index(base, index):
            array = value_of(base, row)
            return array[index] if isinstance(array, list) and index < len(array) else None
        case Call(name, args):
            return _call(name, [value_of(arg, row) for arg in args])
        case Logical(op, operands):
            return _logical(op, (value_of(operand, row) for operand in operands))
        case Compare(op, left, right):
            return compare(op, value_of(left, row), value_of(right, row))
        case InList(negated, case_insensitive, left, items):
            value = value_of(left, row)
            op = "=~" if case_insensitive else "=="
            found = any(compare(op, value, item.value) for item in items)
            return found != negated
    raise KqlError(repr(expr), "Internal error: cannot evaluate expression.")


def _call(name: str, args: list[Any]) -> Any:
    arg = args[0]
    match name:
        case "tostring":
            return to_string(arg)
        case "tolower":
            return to_string(arg).lower()
        case "toupper":
            return to_string(arg).upper()
        case "strcat":
            return "".join(to_string(a) for a in args)
        case "isempty" | "isnotempty":
            return (arg is None or arg == "") == (name == "isempty")
        case "isnull" | "isnotnull":
            return (arg is None) == (name == "isnull")
        case "not":
            return None if arg is None else not arg
    raise KqlError(name, f"Internal error: function {name!r} has no implementation.")


def _logical(op: str, values: Iterable[bool | None]) -> bool | None:
    """Kusto's three-valued and/or: a decisive operand wins, else any null makes the result null."""
    decisive = op == "or"  # True decides 'or', False decides 'and'
    saw_null = False
    for value in values:
        if value is decisive:
            return decisive
        saw_null = saw_null or value is None
    return None if saw_null else not decisive


def to_string(value: Any) -> str:
    """Kusto ``tostring``: null -> '', bool -> 'true'/'false', bag/array -> compact JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float_string(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _float_string(value: float) -> str:
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = repr(value)
    if any(marker in text for marker in ("e", "inf", "nan")):
        message = f"Converting the real {text} to a string is not supported by the emulator."
        raise KqlError("tostring", message)
    return text


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def compare(op: str, left: Any, right: Any) -> bool | None:
    """Apply a binary predicate; ``None`` is Kusto's null (treated as false by ``where``)."""
    negated = op.startswith("!") and op not in ("!=", "!~")
    base = op[1:] if negated else op
    if base in ("<", "<=", ">", ">="):
        return _ordering(base, left, right)
    if base in ("==", "!=", "=~", "!~"):
        if left is None and right is None:
            return None
        equal = _equal(left, right, case_insensitive=base in ("=~", "!~"))
        return equal if base in ("==", "=~") else not equal
    return _string_op(base, to_string(left), to_string(right)) != negated


def _ordering(op: str, left: Any, right: Any) -> bool | None:
    if not (_is_number(left) and _is_number(right)):
        return None
    a: float = left
    b: float = right
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def _equal(left: Any, right: Any, *, case_insensitive: bool) -> bool:
    if _is_number(left) and _is_number(right):
        return bool(left == right)
    if isinstance(left, bool) and isinstance(right, bool):
        return left == right
    left_text, right_text = to_string(left), to_string(right)
    if case_insensitive:
        return left_text.lower() == right_text.lower()
    return left_text == right_text


def _string_op(op: str, text: str, needle: str) -> bool:
    case_sensitive = op.endswith("_cs")
    name = op.removesuffix("_cs")
    if not case_sensitive:
        text, needle = text.lower(), needle.lower()
    if name == "contains":
        return needle in text
    if name == "startswith":
        return text.startswith(needle)
    if name == "endswith":
        return text.endswith(needle)
    return has_term(text, needle)


def _is_term_char(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def has_term(text: str, needle: str) -> bool:
    """Whether ``needle`` occurs in ``text`` aligned to term boundaries (case as given)."""
    start = text.find(needle)
    while start != -1:
        end = start + len(needle)
        before = start == 0 or not _is_term_char(text[start - 1])
        after = end == len(text) or not _is_term_char(text[end])
        if before and after:
            return True
        start = text.find(needle, start + 1)
    return False


def _order(table: list[Row], keys: tuple[SortKey, ...]) -> list[Row]:
    """Stable multi-key sort: sort by the least significant key first."""
    for key in reversed(keys):
        values = [value_of(key.expr, row) for row in table]
        _require_one_kind(values, key)
        present = [(v, row) for v, row in zip(values, table, strict=True) if v is not None]
        nulls = [row for v, row in zip(values, table, strict=True) if v is None]
        present.sort(key=lambda pair: pair[0], reverse=key.descending)
        ordered = [row for _, row in present]
        table = nulls + ordered if key.nulls_first else ordered + nulls
    return table


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if _is_number(value):
        return "number"
    return "string" if isinstance(value, str) else "dynamic"


def _require_one_kind(values: list[Any], key: SortKey) -> None:
    kinds = {_kind(v) for v in values if v is not None}
    if "dynamic" in kinds or len(kinds) > 1:
        message = (
            f"Cannot order by a key whose values are {sorted(kinds)}; order by strings, numbers "
            "or bools (wrap a property in tostring() to sort it as text)."
        )
        raise KqlError("order by", message)
