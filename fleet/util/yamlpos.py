"""YAML with source positions: parse once, keep the node tree, map a field path to a line.

A leaf utility shared by every YAML reader in fleet (job specs, emulator profiles): it imports
nothing from ``fleet`` so the emulator (``fleet.sim``) may use it too. It knows no schema; it
only turns text into data plus nodes, refuses duplicate keys, and answers "which line is
``script.timeout`` on?" for a validation error's ``loc`` path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

Loc = Sequence[str | int]


class YamlProblem(Exception):
    """The text is not valid YAML (or has duplicate keys); ``line`` is 1-based."""

    def __init__(self, line: int | None, message: str, loc: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.line = line
        self.message = message
        self.loc = loc


def parse(text: str) -> tuple[Any, yaml.Node | None]:
    """Return the plain data (safe loader) and the node tree it was built from."""
    loader: yaml.SafeLoader | None = None
    try:
        # The reader checks characters as early as the constructor: keep it inside the try.
        loader = yaml.SafeLoader(text)
        node = loader.get_single_node()
        data = None if node is None else loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = None if mark is None else mark.line + 1
        detail = " ".join(p for p in (exc.context, exc.problem) if p)
        raise YamlProblem(line, f"invalid YAML: {detail}") from exc
    except yaml.YAMLError as exc:
        raise YamlProblem(None, f"invalid YAML: {exc}") from exc
    finally:
        if loader is not None:
            loader.dispose()
    if node is not None:
        _reject_duplicate_keys(node, ())
    return data, node


def _reject_duplicate_keys(node: yaml.Node, loc: tuple[str | int, ...]) -> None:
    # PyYAML silently keeps the last of two equal keys; an author never means that.
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(key.value)
            if name in seen:
                message = f"duplicate key {name!r}"
                raise YamlProblem(key.start_mark.line + 1, message, loc)
            seen.add(name)
            _reject_duplicate_keys(value, (*loc, name))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _reject_duplicate_keys(item, (*loc, index))


def line_of(root: yaml.Node | None, loc: Loc) -> int | None:
    """1-based line of the deepest node on ``loc`` (the key's line for a mapping entry)."""
    if root is None:
        return None
    node, line = root, root.start_mark.line + 1
    for item in loc:
        found = _child(node, item)
        if found is None:
            break
        line, node = found
    return line


def _child(node: yaml.Node, item: str | int) -> tuple[int, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if str(key.value) == str(item):
                return key.start_mark.line + 1, value
    elif (
        isinstance(node, yaml.SequenceNode)
        and isinstance(item, int)
        and 0 <= item < len(node.value)
    ):
        child = node.value[item]
        return child.start_mark.line + 1, child
    return None


def data_loc(data: Any, loc: Loc, *, keep_last: bool = False) -> tuple[str | int, ...]:
    """Keep only the ``loc`` items that name a real key or index in ``data``.

    Validation libraries put their own markers in error paths (pydantic's ``[key]``, union
    member tags); dropping whatever the data does not contain leaves the path the author wrote.
    ``keep_last`` keeps a final item that is absent (a *missing* field's name).
    """
    out: list[str | int] = []
    current = data
    for index, item in enumerate(loc):
        if _has(current, item):
            current = current[item]
        elif not (keep_last and index == len(loc) - 1):
            continue
        out.append(item)
    return tuple(out)


def _has(container: Any, item: str | int) -> bool:
    if isinstance(container, dict):
        return item in container
    return isinstance(container, list) and isinstance(item, int) and 0 <= item < len(container)


def format_loc(loc: Loc) -> str:
    """``("vms", 0, "count")`` → ``vms[0].count``."""
    out = ""
    for item in loc:
        if isinstance(item, int):
            out += f"[{item}]"
        else:
            out += f".{item}" if out else str(item)
    return out
