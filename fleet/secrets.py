"""A run's secrets, and the one way fleet keeps them out of text: ``Secrets``.

``Secrets.from_spec(spec)`` collects every secret value a job carries — protected parameter
values, plain parameters whose value is a :class:`~fleet.model.Secret`, run-as passwords and
the query string (SAS token) of script URIs — of the job's script and of its health gates'
scripts, and its alert webhooks' URLs. ``redact(text)`` replaces each of them with ``***``
(longest first, so a secret that contains another is never left half-redacted), drops the
whole query of any URL that carries a SAS signature (``https://.../blob?<redacted>``: the SAS
fleet issues per output blob are never known values, and an agent's error may quote its URL)
and masks any other ``sig=...``; ``scrub(value)`` does the same to every string of a JSON-like
structure. The engine (results), the journal, the report and the logs all redact through it.

Logs have no run to ask, so the run's secrets are made *current* while it runs:
``with using(secrets): ...`` sets a context variable that the log processor reads
(``fleet.logs``). Tasks started inside inherit it, tasks of another run do not: several runs
in one process each redact their own secrets. There is no process-global registry.

Imports only ``fleet.model``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from fleet.model import JobSpec, RunReport, ScriptSpec, Secret, SourceKind, TargetResult

REDACTED = "***"
MIN_LENGTH = 3  # shorter "secrets" would shred ordinary text
_SAS_SIGNATURE = re.compile(r"([?&]sig=)[^&\s\"']+", re.IGNORECASE)
_SAS_URL = re.compile(r"(\bhttps?://[^\s?#\"'<>]+)\?[^\s\"'<>]*?\bsig=[^\s\"'<>]*", re.I)
#: Keys of structured log events whose values are masked whatever they hold.
_SECRET_KEY = re.compile(r"pass(word)?|secret|token|sas|signature|protected|credential", re.I)


def _reveal(value: str | Secret) -> str:
    return value.reveal() if isinstance(value, Secret) else value


def _script_values(script: ScriptSpec) -> Iterator[str]:
    yield from (_reveal(p.value) for p in script.protected_parameters)
    yield from (p.value.reveal() for p in script.parameters if isinstance(p.value, Secret))
    if script.run_as_password is not None:
        yield script.run_as_password.reveal()
    for source in script.sources:
        if source.kind is SourceKind.URI and "?" in source.value:
            yield source.value.split("?", 1)[1]


@dataclass(frozen=True, repr=False)
class Secrets:
    """Secret values to keep out of text, longest first. Never prints them."""

    values: tuple[str, ...] = ()

    @classmethod
    def of(cls, values: Iterable[str | Secret]) -> Secrets:
        texts = {_reveal(v) for v in values}
        return cls(tuple(sorted((v for v in texts if len(v) >= MIN_LENGTH), key=len, reverse=True)))

    @classmethod
    def from_spec(cls, spec: JobSpec) -> Secrets:
        """Every secret of the job's script and of its health gates' scripts, and the URLs
        of its alert webhooks."""
        scripts = (spec.script, *(gate.script for gate in spec.rollout.gates))
        hooks = (hook.url.reveal() for hook in spec.alerts.webhooks)
        return cls.of((*(v for script in scripts for v in _script_values(script)), *hooks))

    def __or__(self, other: Secrets) -> Secrets:
        return Secrets.of((*self.values, *other.values))

    def __bool__(self) -> bool:
        return bool(self.values)

    def __repr__(self) -> str:
        return f"Secrets(<{len(self.values)} values>)"

    def redact(self, text: str) -> str:
        """``text`` with every secret value replaced by ``***``, the query of every SAS URL
        by ``<redacted>`` and any other SAS signature by ``***``."""
        for value in self.values:
            text = text.replace(value, REDACTED)
        if "sig=" not in text.lower():
            return text
        text = _SAS_URL.sub(r"\1?<redacted>", text)
        return _SAS_SIGNATURE.sub(rf"\1{REDACTED}", text)

    def scrub(self, value: Any, *, mask_keys: bool = False) -> Any:
        """``value`` (JSON-like: dicts, lists, tuples, scalars) with every string redacted.
        ``mask_keys``: also replace the whole value of a key that names a secret (``password``,
        ``token``, ``sas``...), as the logs do for structured events."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {
                k: REDACTED
                if mask_keys and _SECRET_KEY.search(str(k))
                else self.scrub(v, mask_keys=mask_keys)
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return type(value)(self.scrub(v, mask_keys=mask_keys) for v in value)
        return value

    def redact_result(self, result: TargetResult) -> TargetResult:
        """``result`` with its output, error and reason redacted (a script may echo a secret)."""
        if not self.values:
            return result
        reason = None if result.reason is None else self.redact(result.reason)
        output, error = self.redact(result.output), self.redact(result.error)
        return replace(result, output=output, error=error, reason=reason)

    def redact_report(self, report: RunReport) -> RunReport:
        """``report`` with every result redacted (:meth:`redact_result`)."""
        if not self.values:
            return report
        return replace(report, results=tuple(self.redact_result(r) for r in report.results))


def redact_uri(uri: str) -> str:
    """The URI without credentials, query or fragment: safe to print (SAS tokens live there)."""
    try:
        parts = urlsplit(uri)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparseable URI>"
    tail = "?<redacted>" if parts.query or parts.fragment else ""
    prefix = f"{parts.scheme}://" if parts.scheme else ""
    return f"{prefix}{host}{port}{parts.path}{tail}"


NO_SECRETS = Secrets()
_current: ContextVar[Secrets] = ContextVar("fleet_current_secrets")


def current() -> Secrets:
    """The secrets of the run(s) this task belongs to (empty outside any run)."""
    return _current.get(NO_SECRETS)


@contextmanager
def using(secrets: Secrets) -> Iterator[Secrets]:
    """Make ``secrets`` current (with any already current) until the block ends."""
    merged = current() | secrets
    token = _current.set(merged)
    try:
        yield merged
    finally:
        _current.reset(token)


#: Parameter names that look like they hold a secret (``DB_PASSWORD``, ``API_KEY``, ...).
_SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|KEY", re.IGNORECASE)


def secret_looking_parameters(spec: JobSpec) -> list[str]:
    """Plain parameters (of the job's script and its gates') whose names look secret: their
    values are sent, journaled and shown in clear — a protected parameter would not be."""
    scripts = (spec.script, *(gate.script for gate in spec.rollout.gates))
    names = (p.name for s in scripts for p in s.parameters if not isinstance(p.value, Secret))
    return list(dict.fromkeys(n for n in names if _SECRET_NAME.search(n)))
