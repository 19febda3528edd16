"""The ``$filter`` of ARM ``Resources_List`` / ``Resources_ListByResourceGroup``: parse + evaluate.

Owns the OData subset ARM accepts on ``GET /subscriptions/{s}[/resourceGroups/{rg}]/resources``:

* tag filters: ``tagName eq 'k'``, ``tagName eq 'k' and tagValue eq 'v'``,
  ``startswith(tagName, 'pre')``. As in ARM they must stand alone (no other condition, no
  ``or``), and results matched by a tag filter carry no ``tags`` (``ResourceFilter.tag_filter``
  tells the server to drop them). Tag *names* match case-insensitively, tag *values*
  case-sensitively (ARM's behaviour for filtering).
* ``eq`` / ``ne`` on ``resourceType``, ``location``, ``name``, ``resourceGroup`` and
  ``substringof('x', name|resourceGroup)``, combined with ``and`` / ``or`` and parentheses.
  These compare case-insensitively, as ARM names and types are; locations also ignore spaces
  (``'East US'`` equals ``eastus``).

Keywords and field names are accepted in any case. Strings are OData literals: single quotes,
``''`` for an embedded quote. Not supported (answered with the error below): ``identity``,
``plan`` and ``not``. Every problem raises :class:`FilterError`, an ``ArmError`` (400
``InvalidFilterInQueryString``) whose message names the offending part. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fleet.sim.errors import ArmError

_FIELDS = {
    f.lower(): f
    for f in ("resourceType", "location", "name", "resourceGroup", "tagName", "tagValue")
}
_TAG_FIELDS = {"tagName", "tagValue"}
_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<punct>[(),])|(?P<word>[^\s'(),]+))")
_RG_IN_ID = re.compile(r"/resourceGroups/([^/]+)", re.IGNORECASE)
_TAG_ONLY = (
    "tag filters (tagName, tagValue, startswith(tagName, ...)) cannot be combined with other "
    "filters or with 'or'; ARM only allows a tag filter on its own. Filter the rest client-side "
    "or use Azure Resource Graph to combine tag and other conditions"
)


class FilterError(ArmError):
    """An invalid ``$filter``; the server answers it as 400 ``InvalidFilterInQueryString``."""

    def __init__(self, text: str, problem: str) -> None:
        message = f"Invalid $filter '{text}' specified in the query string: {problem}."
        super().__init__(400, "InvalidFilterInQueryString", message)


Predicate = Callable[[Mapping[str, Any]], bool]


@dataclass(frozen=True)
class _Node:
    """A parsed term: ``kind`` is "cmp", "substringof", "startswith", "and" or "or"."""

    kind: str
    field: str = ""
    op: str = ""
    value: str = ""
    children: tuple[_Node, ...] = ()

    def fields(self) -> set[str]:
        own = {self.field} if self.field else set()
        return own.union(*(child.fields() for child in self.children))


@dataclass(frozen=True)
class ResourceFilter:
    """A parsed ``$filter``; ``matches`` takes a resource dict as the list API returns it."""

    text: str
    predicate: Predicate
    tag_filter: bool = False

    def matches(self, resource: Mapping[str, Any]) -> bool:
        return self.predicate(resource)


def parse_filter(text: str | None) -> ResourceFilter:
    """Parse ``$filter``; ``None`` or blank matches every resource."""
    if text is None or not text.strip():
        return ResourceFilter(text or "", lambda _resource: True)
    node = _Parser(text).parse()
    if node.fields() & _TAG_FIELDS:
        return ResourceFilter(text, _tag_predicate(text, node), tag_filter=True)
    return ResourceFilter(text, _predicate(node))


# ------------------------------------------------------------------------------------ parsing


class _Parser:
    """Recursive descent: ``or`` binds looser than ``and``; parentheses group."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0

    def error(self, problem: str) -> FilterError:
        return FilterError(self.text, problem)

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def next(self, expected: str) -> str:
        token = self.peek()
        if token is None:
            raise self.error(f"expected {expected} but the filter ended")
        self.pos += 1
        return token

    def expect(self, punct: str) -> None:
        token = self.next(f"'{punct}'")
        if token != punct:
            raise self.error(f"expected '{punct}' but found '{token}'")

    def parse(self) -> _Node:
        node = self.expression()
        if self.peek() is not None:
            raise self.error(f"unexpected '{self.peek()}' after a complete condition")
        return node

    def expression(self) -> _Node:
        return self._chain("or", self.conjunction)

    def conjunction(self) -> _Node:
        return self._chain("and", self.factor)

    def _chain(self, keyword: str, operand: Callable[[], _Node]) -> _Node:
        items = [operand()]
        while (self.peek() or "").lower() == keyword:
            self.pos += 1
            items.append(operand())
        if len(items) == 1:
            return items[0]
        flat = [c for item in items for c in (item.children if item.kind == keyword else (item,))]
        return _Node(keyword, children=tuple(flat))

    def factor(self) -> _Node:
        token = self.next("a condition")
        if token == "(":
            node = self.expression()
            self.expect(")")
            return node
        if self.peek() == "(":
            return self.call(token)
        field = self.field(token)
        op = self.next("an operator after '" + token + "'").lower()
        if op not in ("eq", "ne"):
            raise self.error(f"unsupported operator '{op}' (only 'eq' and 'ne' are supported)")
        return _Node("cmp", field=field, op=op, value=self.string())

    def call(self, name: str) -> _Node:
        function = name.lower()
        self.expect("(")
        if function == "startswith":
            field = self.field(self.next("a field name"))
            if field != "tagName":
                raise self.error(f"startswith is supported on tagName only, not on '{field}'")
            self.expect(",")
            value = self.string()
        elif function == "substringof":
            value = self.string()
            self.expect(",")
            field = self.field(self.next("a field name"))
            if field not in ("name", "resourceGroup"):
                raise self.error(
                    f"substringof is supported on name and resourceGroup, not '{field}'"
                )
        else:
            raise self.error(f"unsupported function '{name}'")
        self.expect(")")
        return _Node(function, field=field, value=value)

    def field(self, token: str) -> str:
        field = _FIELDS.get(token.lower())
        if field is None:
            raise self.error(f"unsupported field '{token}'")
        return field

    def string(self) -> str:
        token = self.next("a quoted string")
        if not (len(token) >= 2 and token[0] == token[-1] == "'"):
            raise self.error(f"expected a quoted string but found '{token}'")
        return token[1:-1].replace("''", "'")


def _tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    while text[pos:].strip():
        match = _TOKEN.match(text, pos)
        if match is None:
            # Only an opening quote without its closing quote gets here.
            start = len(text) - len(text[pos:].lstrip())
            raise FilterError(text, f"unterminated string starting at position {start}")
        tokens.append(match.group("str") or match.group("punct") or match.group("word"))
        pos = match.end()
    return tokens


# --------------------------------------------------------------------------------- evaluation


def _tag_predicate(text: str, node: _Node) -> Predicate:
    """The three tag forms ARM accepts, or why this one is not among them."""
    if "tagName" not in node.fields():
        raise FilterError(text, "tagValue can only be used together with tagName")
    parts = node.children if node.kind == "and" else (node,)
    if node.fields() - _TAG_FIELDS or node.kind == "or" or len(parts) > 2:
        raise FilterError(text, _TAG_ONLY)
    by_field = {part.field: part for part in parts}
    if len(by_field) != len(parts) or any(p.kind == "cmp" and p.op != "eq" for p in parts):
        raise FilterError(text, "a tag filter is one 'tagName eq' (optionally 'and tagValue eq')")
    name_node, value_node = by_field["tagName"], by_field.get("tagValue")
    if name_node.kind == "startswith":
        if value_node is not None:
            raise FilterError(text, "startswith(tagName, ...) cannot be combined with tagValue")
        prefix = name_node.value.lower()
        return lambda r: any(k.lower().startswith(prefix) for k in _tags(r))
    wanted = name_node.value.lower()
    value = None if value_node is None else value_node.value
    return lambda r: any(k.lower() == wanted and (value is None or v == value)
                         for k, v in _tags(r).items())  # fmt: skip


def _predicate(node: _Node) -> Predicate:
    if node.kind in ("and", "or"):
        children = [_predicate(child) for child in node.children]
        combine = all if node.kind == "and" else any
        return lambda r: combine(child(r) for child in children)
    wanted = _norm(node.field, node.value)
    if node.kind == "substringof":
        return lambda r: wanted in _norm(node.field, _attribute(r, node.field))
    if node.op == "eq":
        return lambda r: _norm(node.field, _attribute(r, node.field)) == wanted
    return lambda r: _norm(node.field, _attribute(r, node.field)) != wanted


def _norm(field: str, value: str) -> str:
    value = value.lower()
    return value.replace(" ", "") if field == "location" else value


def _attribute(resource: Mapping[str, Any], field: str) -> str:
    if field == "resourceType":
        return str(resource.get("type") or "")
    value = resource.get(field)
    if value is None and field == "resourceGroup":
        found = _RG_IN_ID.search(str(resource.get("id") or ""))
        return found.group(1) if found else ""
    return str(value or "")


def _tags(resource: Mapping[str, Any]) -> Mapping[str, str]:
    return resource.get("tags") or {}
