"""The secret-free form of a job spec the journal stores, and its hashes.

What is stored (``spec_to_dict``):

- parameters: name and value; a value wrapped in :class:`~fleet.model.Secret` becomes ``***``;
- protected parameters: names only (every value is ``***``); run-as password: ``***`` or null;
- script sources: a command id verbatim; an inline script as its sha256 and length, never its
  text (scripts embed credentials often enough); a script URI without its query string (a SAS
  token lives there): ``https://host/path?***``.

The job's expectations (``expect``, when it has any) are stored too, so the history judges a
run by what its job expected then (``expect_from_dict``).

``spec_hash`` is the sha256 of that dict's canonical JSON (minus ``source``, the file name, and
``expect``, which judges the run and does not decide what runs), so it changes when the script
or anything else that decides what runs changes, and not when a secret is rotated.
``script_hash`` covers the script sources only. Neither is ever computed over a secret value.

Defence in depth: every string the journal writes (spec, details, summary, report) passes
through ``fleet.secrets.Secrets.scrub`` with the spec's secrets, so a secret that slipped into
a non-protected field or a script's output is stored as ``***``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fleet.model import (
    Expectations,
    JobSpec,
    Mode,
    Parameter,
    ScriptSource,
    Secret,
    Selector,
    SourceKind,
    TagMatch,
    ValueCheck,
)
from fleet.secrets import REDACTED, Secrets


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _uri_without_query(uri: str) -> str:
    base, sep, _query = uri.partition("?")
    return f"{base}?{REDACTED}" if sep else base


def _source_dict(source: ScriptSource | None) -> dict[str, Any] | None:
    if source is None:
        return None
    if source.kind is SourceKind.INLINE:
        return {
            "kind": source.kind.value,
            "sha256": _sha256(source.value),
            "chars": len(source.value),
        }
    if source.kind is SourceKind.URI:
        return {"kind": source.kind.value, "value": _uri_without_query(source.value)}
    return {"kind": source.kind.value, "value": source.value}


def _param_dict(param: Parameter, *, protected: bool) -> dict[str, str]:
    shown = REDACTED if protected or isinstance(param.value, Secret) else param.value
    return {"name": param.name, "value": shown}


def _tags(matches: tuple[TagMatch, ...]) -> list[dict[str, Any]]:
    return [{"key": m.key, "values": list(m.values)} for m in matches]


def _selector_dict(sel: Selector) -> dict[str, Any]:
    return {
        "subscriptions": list(sel.subscriptions),
        "tags": _tags(sel.tags),
        "resource_groups": list(sel.resource_groups),
        "names": list(sel.names),
        "query": sel.query,
        "include_scale_sets": sel.include_scale_sets,
        "exclude_names": list(sel.exclude_names),
        "exclude_tags": _tags(sel.exclude_tags),
    }


def spec_to_dict(spec: JobSpec) -> dict[str, Any]:
    """The JSON-ready, secret-free spec (see the module docstring)."""
    script = spec.script
    raw = {
        "name": spec.name,
        "source": spec.source,
        "selector": _selector_dict(spec.selector),
        "script": {
            "default": _source_dict(script.default),
            "linux": _source_dict(script.linux),
            "windows": _source_dict(script.windows),
            "parameters": [_param_dict(p, protected=False) for p in script.parameters],
            "protected_parameters": [
                _param_dict(p, protected=True) for p in script.protected_parameters
            ],
            "run_as_user": script.run_as_user,
            "run_as_password": REDACTED if script.run_as_password is not None else None,
            "timeout_s": script.timeout_s,
        },
        "concurrency": {"count": spec.concurrency.count, "percent": spec.concurrency.percent},
    }
    if not spec.expect.is_default:
        raw["expect"] = expect_to_dict(spec.expect)
    if spec.mode is not Mode.MANAGED:  # absent for managed: earlier journals keep their hash
        raw["mode"] = spec.mode.value
    scrubbed: dict[str, Any] = Secrets.from_spec(spec).scrub(raw)
    return scrubbed


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def spec_hash(spec: JobSpec) -> str:
    """sha256 of the secret-free spec, excluding where it was read from."""
    shown = spec_to_dict(spec)
    shown.pop("source", None)
    shown.pop("expect", None)
    return _sha256(canonical_json(shown))


def script_hash(spec: JobSpec) -> str:
    """sha256 over the script sources (text, URI without query, or command id) per OS slot."""
    parts = []
    for slot in ("default", "linux", "windows"):
        source: ScriptSource | None = getattr(spec.script, slot)
        if source is None:
            continue
        value = _uri_without_query(source.value) if source.kind is SourceKind.URI else source.value
        parts.append(f"{slot}\0{source.kind.value}\0{_sha256(value)}")
    return _sha256("\n".join(parts))


def expect_to_dict(expect: Expectations) -> dict[str, Any]:
    return {
        "exit_codes": None if expect.exit_codes is None else list(expect.exit_codes),
        "output": expect.output,
        "output_absent": expect.output_absent,
        "values": [
            {"name": v.name, "regex": v.regex, "min": v.min, "max": v.max} for v in expect.values
        ],
    }


def expect_from_dict(raw: Any) -> Expectations:
    """The expectations a stored spec recorded (the default when it has none)."""
    if not isinstance(raw, dict):
        return Expectations()
    codes = raw.get("exit_codes")
    return Expectations(
        exit_codes=None if codes is None else tuple(int(c) for c in codes),
        output=raw.get("output"),
        output_absent=raw.get("output_absent"),
        values=tuple(
            ValueCheck(str(v["name"]), str(v["regex"]), v.get("min"), v.get("max"))
            for v in raw.get("values") or ()
        ),
    )
