"""A small Swagger 2.0 instance checker for the REST specs under tests/fixtures/azure-reference:
types (integer is not a string or a bool, ``date-time`` parses), enum values with their exact
case, required properties, and no property the definition does not declare. ``$ref`` to this
file or to common-types' ``common.json`` is followed; a ``$ref`` the fixtures do not hold fails
as soon as an instance needs it. Enough for the run-command definitions; not a general
validator."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}
_INT32 = (-(2**31), 2**31 - 1)


@dataclass
class Spec:
    """One spec file and the common types it refers to."""

    path: Path
    common: Path
    _docs: dict[str, Any] = field(default_factory=dict)

    def _doc(self, name: str) -> Any:
        if name not in self._docs:
            self._docs[name] = json.loads(
                (self.common if name == "common" else self.path).read_text()
            )
        return self._docs[name]

    def resolve(self, ref: str) -> dict[str, Any] | None:
        where, _, pointer = ref.partition("#/definitions/")
        if where == "":
            return self._doc("self")["definitions"].get(pointer)
        if where.endswith("common-types/v1/common.json"):
            return self._doc("common")["definitions"].get(pointer)
        return None  # a file the fixtures do not hold

    def check(self, definition: str, instance: Any) -> list[str]:
        """Every way ``instance`` departs from ``#/definitions/<definition>``; empty if none."""
        return self._check({"$ref": f"#/definitions/{definition}"}, instance, "$")

    def _flat(self, schema: dict[str, Any]) -> dict[str, Any] | None:
        """``schema`` with its ``$ref`` followed and its ``allOf`` parts merged in."""
        if "$ref" in schema:
            target = self.resolve(schema["$ref"])
            return None if target is None else self._flat(target)
        merged = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema.get("allOf", ()):
            base = self._flat(part) or {}
            merged.setdefault("type", base.get("type"))
            merged["properties"] = {**base.get("properties", {}), **merged.get("properties", {})}
            merged["required"] = [*base.get("required", ()), *merged.get("required", ())]
        return merged

    def _check(self, schema: dict[str, Any], value: Any, at: str) -> list[str]:
        flat = self._flat(schema)
        if flat is None:
            return [f"{at}: cannot check against {schema['$ref']} (not in the fixtures)"]
        kind = flat.get("type") or ("object" if "properties" in flat else None)
        if kind is None:
            return []
        if not isinstance(value, _TYPES[kind]) or (kind != "boolean" and isinstance(value, bool)):
            return [f"{at}: {type(value).__name__} {value!r} where the spec says {kind}"]
        if kind == "object":
            return self._object(flat, value, at)
        if kind == "array":
            items = flat.get("items", {})
            return [p for i, v in enumerate(value) for p in self._check(items, v, f"{at}[{i}]")]
        return _scalar(flat, value, at)

    def _object(self, schema: dict[str, Any], value: dict[str, Any], at: str) -> list[str]:
        declared, extra = schema.get("properties", {}), schema.get("additionalProperties")
        problems = [
            f"{at}: {k!r} is required" for k in schema.get("required", ()) if k not in value
        ]
        for key, item in value.items():
            if key in declared:
                problems += self._check(declared[key], item, f"{at}.{key}")
            elif isinstance(extra, dict):
                problems += self._check(extra, item, f"{at}.{key}")
            elif declared:  # a free-form object (no properties declared) may hold anything
                problems.append(f"{at}: {key!r} is not in the spec")
        return problems


def _scalar(schema: dict[str, Any], value: Any, at: str) -> list[str]:
    if "enum" in schema and value not in schema["enum"]:
        return [f"{at}: {value!r} is not one of {schema['enum']} (values are case-exact)"]
    if schema.get("format") == "int32" and not _INT32[0] <= value <= _INT32[1]:
        return [f"{at}: {value} is out of int32 range"]
    if schema.get("format") == "date-time":
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return [f"{at}: {value!r} is not an ISO 8601 date-time"]
    return []
