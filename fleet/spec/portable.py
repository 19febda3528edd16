"""A job that travels: ``PortableJob`` — the job as parsed (``JobDocument``) plus the text of
every ``file:`` script it names, so another machine (a Temporal worker) builds the same spec
without the job's directory. Secret values never travel: protected parameters and passwords
stay ``{env: VAR}`` references, read from the environment of whoever builds the spec.

A script URI with a query string is refused: its SAS token would travel with the job (and be
stored wherever the job is, such as a workflow's history); host the script where a plain URL
reaches it, or send it inline or as a file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fleet.errors import SpecError
from fleet.model import JobSpec, SourceKind
from fleet.spec.build import ScriptFiles
from fleet.spec.document import JobDocument
from fleet.spec.load import file_job_spec
from fleet.spec.overrides import flags_job_spec


@dataclass(frozen=True)
class PortableJob:
    document: JobDocument
    files: Mapping[str, str] = field(default_factory=dict)  # file: name as written -> text

    def job_spec(self, env: Mapping[str, str] | None = None) -> JobSpec:
        """The spec, built from the document and the files that came with it (never the disk);
        secrets read from ``env`` (the process environment by default)."""
        files = ScriptFiles(given=dict(self.files))
        if self.document.from_file:
            return file_job_spec(self.document, env, files)
        return flags_job_spec(self.document, env, files)

    def to_json(self) -> dict[str, Any]:
        return {"document": self.document.to_json(), "files": dict(self.files)}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> PortableJob:
        return cls(JobDocument.from_json(raw["document"]), dict(raw.get("files") or {}))


def portable(document: JobDocument, env: Mapping[str, str] | None = None) -> PortableJob:
    """``document`` with its script files read (now, from the disk); ``SpecError`` if the job
    has a script URI with a query string."""
    files = ScriptFiles()
    if document.from_file:
        spec = file_job_spec(document, env, files)
    else:
        spec = flags_job_spec(document, env, files)
    _refuse_sas(spec)
    return PortableJob(document, dict(files.read))


def _refuse_sas(spec: JobSpec) -> None:
    scripts = (spec.script, *(gate.script for gate in spec.rollout.gates))
    for script in scripts:
        for source in script.sources:
            if source.kind is SourceKind.URI and "?" in source.value:
                message = (
                    f"{spec.source}: a script URI with a query string (a SAS token) cannot be "
                    "sent to workers: it would be stored with the run. Use a URL without a "
                    "token, or the script inline or as a file."
                )
                raise SpecError(message)
