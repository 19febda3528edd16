"""Parser for the Resource Graph KQL subset the emulator accepts over its ``Resources`` table.

Owns :func:`parse_query`: text -> :class:`~fleet.sim.kql_ast.Query`, with every column
reference resolved against the schema of each stage and coarse static types checked, so that
anything outside the subset (or that Kusto itself would reject) is a :class:`KqlError` naming
the construct instead of a quietly different answer. Pure; imports only ``fleet.sim.kql_*``.

Grammar::

    query    := "Resources" ("|" operator)*
    operator := where pred | project item, ... | project-away col, ... | extend item, ...
              | (order|sort) by expr [asc|desc] [nulls first|last], ... | (limit|take) N
    item     := name "=" expr | expr          (bare paths are named a_b_c, as Azure does)
    pred     := and-term ("or" and-term)*     ; and-term := cmp ("and" cmp)*
    cmp      := postfix [binop postfix | [!]in[~] "(" literal, ... ")"]
    postfix  := primary ("." ident | "[" string|int "]")*
    primary  := literal | column | func "(" args ")" | "(" pred ")"
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from fleet.sim.kql_ast import (
    BOOL,
    DYNAMIC,
    RESOURCE_SCHEMA,
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
    Stage,
    Where,
    columns_in,
)
from fleet.sim.kql_lex import KqlError, Token, position, syntax_error, tokenize
from fleet.sim.kql_types import check_compare, check_in_list, derived_name, type_of

SUPPORTED_OPERATORS = "where, project, project-away, extend, order by, sort by, limit, take"
SUPPORTED_FUNCTIONS = (
    "tostring, tolower, toupper, strcat, isempty, isnotempty, isnull, isnotnull, not"
)
# name -> (min args, max args)
_FUNCTIONS: dict[str, tuple[int, int]] = {
    "tostring": (1, 1),
    "tolower": (1, 1),
    "toupper": (1, 1),
    "strcat": (1, 64),
    "isempty": (1, 1),
    "isnotempty": (1, 1),
    "isnull": (1, 1),
    "isnotnull": (1, 1),
    "not": (1, 1),
}
_SYMBOL_OPS = {"==", "!=", "=~", "!~", "<", "<=", ">", ">="}
_WORD_OPS = {
    f"{neg}{op}{cs}"
    for neg in ("", "!")
    for op in ("has", "contains", "startswith", "endswith")
    for cs in ("", "_cs")
}
_UNSUPPORTED_WORD_OPS = {
    "matches": "matches regex",
    "like": "like",
    "notlike": "notlike",
    "between": "between",
    "has_any": "has_any",
    "has_all": "has_all",
    "hasprefix": "hasprefix",
    "hassuffix": "hassuffix",
    "hasprefix_cs": "hasprefix_cs",
    "hassuffix_cs": "hassuffix_cs",
    "contains_any": "contains_any",
}
_LEADING_KEYWORDS = {"let", "union", "print", "datatable", "range", "search", "find", "set"}
_MAX_DEPTH = 64
_T = TypeVar("_T")


def parse_query(text: str) -> Query:
    """Parse ``text`` into a :class:`Query`; raise :class:`KqlError` for anything unsupported."""
    return _Parser(text).query()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.schema: dict[str, str] = dict(RESOURCE_SCHEMA)
        self.depth = 0

    # -- token helpers ---------------------------------------------------------------------

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.peek()
        self.i += 1
        return token

    def at(self, kind: str, text: str | None = None, ahead: int = 0) -> bool:
        token = self.peek(ahead)
        return token.kind == kind and (text is None or token.text == text)

    def expect(self, kind: str, text: str | None, expected: str) -> Token:
        if not self.at(kind, text):
            raise syntax_error(self.text, self.peek(), expected)
        return self.advance()

    def glued(self, ahead: int) -> bool:
        """Whether token ``ahead`` touches the one before it (``!has``, ``in~``, ``mv-expand``)."""
        return self.peek(ahead).start == self.peek(ahead - 1).end

    # -- query and operators ---------------------------------------------------------------

    def query(self) -> Query:
        self._table()
        stages: list[Stage] = []
        while not self.at("eof"):
            self.expect("op", "|", "'|' before the next operator")
            stages.append(self._operator())
        limited = any(isinstance(stage, Limit) for stage in stages)
        return Query(tuple(stages), tuple(self.schema), limited)

    def _table(self) -> None:
        token = self.expect("ident", None, "the table name 'Resources'")
        if token.text in _LEADING_KEYWORDS:
            message = f"'{token.text}' is not supported; queries must start with 'Resources'."
            raise KqlError(token.text, message)
        if token.text.lower() != "resources":
            message = f"Table {token.text!r} is not supported; only 'Resources' is."
            raise KqlError(token.text, message)

    def _operator_name(self) -> Token:
        token = self.expect("ident", None, f"a query operator ({SUPPORTED_OPERATORS})")
        name = token.text
        while self.at("op", "-") and self.glued(0) and self.at("ident", ahead=1) and self.glued(1):
            self.advance()
            name += "-" + self.advance().text
        return Token("ident", name, name, token.start, self.peek(-1).end)

    def _operator(self) -> Stage:
        name = self._operator_name().text
        if name in ("where", "filter"):
            return self._where()
        if name in ("project", "extend"):
            items = self._items(name)
            return Project(items) if name == "project" else Extend(items)
        if name == "project-away":
            return self._project_away()
        if name in ("order", "sort"):
            self.expect("ident", "by", f"'by' after '{name}'")
            return self._order_by()
        if name in ("limit", "take"):
            return self._limit()
        message = (
            f"The '{name}' operator is not supported by the emulator's Resource Graph; "
            f"supported operators: {SUPPORTED_OPERATORS}."
        )
        raise KqlError(name, message)

    def _where(self) -> Where:
        start = self.peek()
        predicate = self._expr()
        if type_of(predicate, self.schema) != BOOL:
            construct = f"where at {position(self.text, start.start)}"
            raise KqlError(construct, "The 'where' predicate must be a boolean expression.")
        return Where(predicate)

    def _items(self, operator: str) -> tuple[tuple[str, Expr], ...]:
        items: list[tuple[str, Expr]] = []
        for name, expr in self._comma_list(lambda: self._item(operator)):
            earlier = columns_in(expr) & {n for n, _ in items}
            if earlier or name in {n for n, _ in items}:
                clash = sorted(earlier or {name})[0]
                message = f"Column {clash!r} is defined twice or used in the same '{operator}'."
                raise KqlError(f"{operator} {clash}", message)
            items.append((name, expr))
        types = {name: type_of(expr, self.schema) for name, expr in items}
        self.schema = types if operator == "project" else {**self.schema, **types}
        return tuple(items)

    def _item(self, operator: str) -> tuple[str, Expr]:
        if self.at("ident") and self.at("op", "=", ahead=1):
            name = self.advance().text
            self.advance()
            return name, self._expr()
        start = self.peek()
        expr = self._expr()
        return derived_name(expr, operator, position(self.text, start.start)), expr

    def _project_away(self) -> ProjectAway:
        names = self._comma_list(lambda: self.expect("ident", None, "a column name").text)
        for name in names:
            self._require_column(name)
            del self.schema[name]
        return ProjectAway(tuple(names))

    def _order_by(self) -> OrderBy:
        return OrderBy(tuple(self._comma_list(self._sort_key)))

    def _sort_key(self) -> SortKey:
        expr = self._expr()
        descending = True  # Kusto sorts descending unless told otherwise
        if self.at("ident", "asc") or self.at("ident", "desc"):
            descending = self.advance().text == "desc"
        nulls_first = not descending
        if self.at("ident", "nulls"):
            self.advance()
            which = self.expect("ident", None, "'first' or 'last' after 'nulls'")
            if which.text not in ("first", "last"):
                raise syntax_error(self.text, which, "'first' or 'last' after 'nulls'")
            nulls_first = which.text == "first"
        return SortKey(expr, descending, nulls_first)

    def _limit(self) -> Limit:
        token = self.expect("number", None, "a row count")
        if not isinstance(token.value, int):
            raise syntax_error(self.text, token, "a whole number of rows")
        return Limit(token.value)

    def _comma_list(self, parse_one: Callable[[], _T]) -> list[_T]:
        items = [parse_one()]
        while self.at("op", ","):
            self.advance()
            items.append(parse_one())
        return items

    # -- expressions -----------------------------------------------------------------------

    def _expr(self) -> Expr:
        # Parentheses and calls recurse; cap the depth so no input can exhaust Python's stack.
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            token = self.peek()
            construct = f"nesting deeper than {_MAX_DEPTH} at {position(self.text, token.start)}"
            raise KqlError(construct, f"Expression {construct} is not supported.")
        expr = self._logical("or", self._and_term)
        self.depth -= 1
        return expr

    def _and_term(self) -> Expr:
        return self._logical("and", self._comparison)

    def _logical(self, op: str, operand: Callable[[], Expr]) -> Expr:
        operands = [operand()]
        while self.at("ident", op):
            token = self.advance()
            operands.append(operand())
            for side in operands[-2:]:
                if type_of(side, self.schema) != BOOL:
                    construct = f"{op} at {position(self.text, token.start)}"
                    raise KqlError(construct, f"Both sides of '{op}' must be boolean.")
        return operands[0] if len(operands) == 1 else Logical(op, tuple(operands))

    def _comparison(self) -> Expr:
        left = self._postfix()
        start = self.peek()
        op = self._binary_operator()
        if op is None:
            return left
        if op in ("in", "!in", "in~", "!in~"):
            in_list = InList(op.startswith("!"), op.endswith("~"), left, self._in_items())
            check_in_list(in_list, self.schema)
            return in_list
        compared = Compare(op, left, self._postfix())
        check_compare(compared, self.schema, f"{op} at {position(self.text, start.start)}")
        return compared

    def _binary_operator(self) -> str | None:
        """Consume and return the comparison operator at the cursor, if any."""
        token = self.peek()
        if token.kind == "op" and token.text in _SYMBOL_OPS:
            return self.advance().text
        if token.kind == "op" and token.text in ("<>", "+", "-", "*", "/", "%"):
            message = f"Operator {token.text!r} is not supported; comparisons and and/or/not are."
            raise KqlError(token.text, message)
        negated = token.kind == "op" and token.text == "!" and self.at("ident", ahead=1)
        if negated and not self.glued(1):
            raise syntax_error(self.text, token, "an operator such as '!has'")
        word = self.peek(1 if negated else 0)
        if word.kind != "ident":
            return None
        name = ("!" if negated else "") + word.text
        if word.text == "in" and self.at("op", "~", ahead=2 if negated else 1):
            tilde_at = 2 if negated else 1
            if self.glued(tilde_at):
                name += "~"
        if name in _WORD_OPS or name.rstrip("~") in ("in", "!in"):
            self.i += 1 + negated + name.endswith("~")
            return name
        if word.text in _UNSUPPORTED_WORD_OPS or negated:
            construct = _UNSUPPORTED_WORD_OPS.get(word.text, word.text)
            construct = ("!" if negated else "") + construct
            message = (
                f"The {construct!r} operator is not supported; supported: ==, !=, =~, !~, <, <=, "
                ">, >=, in, in~, has, contains, startswith, endswith (with ! and _cs forms)."
            )
            raise KqlError(construct, message)
        return None

    def _in_items(self) -> tuple[Literal, ...]:
        self.expect("op", "(", "'(' after 'in'")
        items = self._comma_list(self._literal)
        self.expect("op", ")", "',' or ')' in the 'in' list")
        return tuple(items)

    def _literal(self) -> Literal:
        expr = self._primary()
        if not isinstance(expr, Literal):
            message = "Only literal values are supported inside 'in (...)'."
            raise KqlError("in (non-literal)", message)
        return expr

    def _postfix(self) -> Expr:
        expr = self._primary()
        while self.at("op", ".") or self.at("op", "["):
            token = self.advance()
            if type_of(expr, self.schema) != DYNAMIC:
                construct = f"{token.text} at {position(self.text, token.start)}"
                raise KqlError(construct, "Property access needs a dynamic value (a bag).")
            if token.text == ".":
                expr = Member(expr, self.expect("ident", None, "a property name after '.'").text)
                continue
            key = self.advance()
            if key.kind == "string":
                expr = Member(expr, key.value)
            elif key.kind == "number" and isinstance(key.value, int):
                expr = Index(expr, key.value)
            else:
                raise syntax_error(self.text, key, "a string or non-negative integer index")
            self.expect("op", "]", "']'")
        return expr

    def _primary(self) -> Expr:
        token = self.advance()
        if token.kind in ("string", "number"):
            return Literal(token.value)
        if token.kind == "op" and token.text == "-" and self.at("number") and self.glued(0):
            return Literal(-self.advance().value)
        if token.kind == "op" and token.text == "(":
            inner = self._expr()
            self.expect("op", ")", "')'")
            return inner
        if token.kind == "op" and token.text == "[":
            message = "Bracketed column names (['name']) are not supported; use the plain name."
            raise KqlError("['...'] column name", message)
        if token.kind != "ident":
            raise syntax_error(self.text, token, "an expression")
        if token.text in ("true", "false"):
            return Literal(token.text == "true")
        if self.at("op", "("):
            return self._call(token)
        self._require_column(token.text)
        return Column(token.text)

    def _call(self, name: Token) -> Call:
        if name.text not in _FUNCTIONS:
            message = (
                f"Function {name.text!r} is not supported; supported functions: "
                f"{SUPPORTED_FUNCTIONS}."
            )
            raise KqlError(name.text, message)
        self.advance()
        args: list[Expr] = []
        if not self.at("op", ")"):
            args = self._comma_list(self._expr)
        self.expect("op", ")", "',' or ')' in the argument list")
        low, high = _FUNCTIONS[name.text]
        if not low <= len(args) <= high:
            message = f"{name.text}() takes {low}..{high} arguments, got {len(args)}."
            raise KqlError(name.text, message)
        call = Call(name.text, tuple(args))
        type_of(call, self.schema)  # checks not()'s argument is boolean
        return call

    def _require_column(self, name: str) -> None:
        if name not in self.schema:
            known = ", ".join(self.schema)
            message = (
                f"Column {name!r} does not exist at this point of the query "
                f"(names are case-sensitive); available: {known}."
            )
            raise KqlError(name, message)
