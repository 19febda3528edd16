"""Static type checks for parsed KQL expressions.

Owns :func:`type_of`, :func:`derived_name` (the column name Azure gives an unnamed
``project`` item) and the operand checks the parser applies, so queries Kusto would refuse
(``name == 5``, ``location > 'a'``, ``where tags.env``) are refused here too rather than
answered. Types are coarse: string, number, bool and dynamic (anything read from a bag).
"""

from __future__ import annotations

import re

from fleet.sim.kql_ast import (
    BOOL,
    DYNAMIC,
    NUMBER,
    STRING,
    Call,
    Column,
    Compare,
    Expr,
    Index,
    InList,
    Literal,
    Logical,
    Member,
)
from fleet.sim.kql_lex import KqlError

_STRING_FUNCTIONS = {"tostring", "tolower", "toupper", "strcat"}
_BOOL_FUNCTIONS = {"isempty", "isnotempty", "isnull", "isnotnull", "not"}
_ORDERING = {"<", "<=", ">", ">="}
_EQUALITY = {"==", "!="}
_TERM_OPS = {"has", "!has", "has_cs", "!has_cs"}
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def literal_type(value: object) -> str:
    if isinstance(value, bool):
        return BOOL
    return STRING if isinstance(value, str) else NUMBER


def type_of(expr: Expr, schema: dict[str, str]) -> str:
    """The static type of ``expr`` given the column types in ``schema``."""
    match expr:
        case Column(name):
            return schema[name]
        case Literal(value):
            return literal_type(value)
        case Member() | Index():
            return DYNAMIC
        case Call("not", (arg,)):
            if type_of(arg, schema) != BOOL:
                raise KqlError("not", "not() needs a boolean argument.")
            return BOOL
        case Call(name, _) if name in _STRING_FUNCTIONS:
            return STRING
        case Call(name, _) if name in _BOOL_FUNCTIONS:
            return BOOL
        case Logical() | Compare() | InList():
            return BOOL
    raise KqlError(repr(expr), "Internal error: expression of unknown type.")


def check_compare(node: Compare, schema: dict[str, str], construct: str) -> None:
    """Refuse operand types Kusto would refuse (or that the emulator cannot answer exactly)."""
    types = {type_of(node.left, schema), type_of(node.right, schema)}
    if node.op in _ORDERING:
        if types & {STRING, BOOL}:
            message = f"'{node.op}' is supported on numbers (and dynamic values) only."
            raise KqlError(construct, message)
    elif node.op in _EQUALITY:
        if len(types - {DYNAMIC}) > 1:
            raise KqlError(construct, f"Cannot compare values of types {sorted(types)}.")
    elif types & {NUMBER, BOOL}:
        message = f"'{node.op}' is a string operator; both sides must be strings."
        raise KqlError(construct, message)
    if node.op in _TERM_OPS:
        _check_term(node, construct)


def _check_term(node: Compare, construct: str) -> None:
    """``has`` needles must be literal ASCII terms: other forms have unclear Kusto semantics."""
    needle = node.right
    ok = (
        isinstance(needle, Literal)
        and isinstance(needle.value, str)
        and needle.value.isascii()
        and needle.value[:1].isalnum()
        and needle.value[-1:].isalnum()
    )
    if not ok:
        message = (
            f"'{node.op}' needs a string literal that starts and ends with a letter or digit "
            "(ASCII); use 'contains' for other substrings."
        )
        raise KqlError(construct, message)


def check_in_list(node: InList, schema: dict[str, str]) -> None:
    """Items of ``in~`` must be strings; items of ``in`` must be comparable with the left side."""
    left = type_of(node.left, schema)
    op = ("!" if node.negated else "") + "in" + ("~" if node.case_insensitive else "")
    for item in node.items:
        item_type = literal_type(item.value)
        if node.case_insensitive and item_type != STRING:
            raise KqlError(op, f"'{op}' compares strings; {item.value!r} is not a string.")
        if len({left, item_type} - {DYNAMIC}) > 1:
            message = f"Cannot compare a {left} with {item.value!r} in '{op}'."
            raise KqlError(op, message)


def derived_name(expr: Expr, operator: str, where: str) -> str:
    """The column name Azure gives a bare ``project``/``extend`` item (``properties_a_b``)."""
    if isinstance(expr, Column):
        return expr.name
    if isinstance(expr, Member) and _IDENTIFIER.match(expr.key):
        try:
            return f"{derived_name(expr.base, operator, where)}_{expr.key}"
        except KqlError:
            pass
    message = (
        f"This {operator} item needs an explicit column name ('name = expression'); only "
        "columns and property paths with identifier-like keys are named automatically."
    )
    raise KqlError(f"{operator} expression at {where}", message)
