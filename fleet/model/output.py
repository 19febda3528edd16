"""Full outputs through append blobs: where they go (``OutputSpec``, ``OutputStorage``), what
one run command carries (``OutputBlobs``), what storage shows (``BlobState``), what fleet kept
of a target's output (``FullOutput``, ``StreamCopy``) and what it cost (``StorageCounters``).

Blob names are ``<run id>/<target key>/stdout`` and ``.../stderr`` (``blob_name``); the URLs
kept here never carry a SAS: the SAS of a blob is a ``Secret`` next to it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from fleet.model.secret import Secret

DEFAULT_MAX_BYTES = 8 * 1024 * 1024  # per target, stdout and stderr together
STREAMS = ("stdout", "stderr")


class Completion(StrEnum):
    """How fleet learns that a run command ended."""

    ARM = "arm"  # read the instance view (GET with $expand=instanceView)
    STORAGE = "storage"  # read the completion record the wrapped script appends to its blob


@dataclass(frozen=True)
class OutputStorage:
    """A blob container: ``account_url`` (``https://ACCOUNT.blob.core.windows.net``, no query)
    and ``container``. ``identity``: None = fleet issues a SAS per blob; ``"system"`` or a
    client id = the VMs' managed identity writes (``outputBlobManagedIdentity``)."""

    account_url: str
    container: str
    identity: str | None = None

    @property
    def container_url(self) -> str:
        return f"{self.account_url.rstrip('/')}/{self.container}"


@dataclass(frozen=True)
class OutputSpec:
    storage: OutputStorage
    keep_days: int | None = None  # older blobs of earlier runs are deleted; None = kept
    max_bytes_per_target: int = DEFAULT_MAX_BYTES
    completion: Completion = Completion.ARM


def blob_name(run_id: str, target_key: str, stream: str) -> str:
    return f"{run_id}/{target_key}/{stream}"


@dataclass(frozen=True)
class BlobRef:
    """One blob as a run command's PUT names it: the URL (no SAS), the SAS query string or the
    managed identity (``{}`` system-assigned, ``{"clientId": ...}``) the agent writes with."""

    name: str  # in the container
    url: str
    sas: Secret | None = None
    identity: dict[str, str] | None = None

    def writable_url(self) -> str:
        """The URL the agent writes to: with its SAS (revealed: only the PUT body uses it)."""
        return self.url if self.sas is None else f"{self.url}?{self.sas.reveal()}"


@dataclass(frozen=True)
class OutputBlobs:
    stdout: BlobRef
    stderr: BlobRef


@dataclass(frozen=True)
class BlobState:
    """What a listing (or the blob's properties) says about one blob."""

    name: str
    size: int
    created: datetime | None = None
    modified: datetime | None = None


@dataclass(frozen=True)
class StreamCopy:
    """What fleet kept of one output blob: ``size`` is the blob's (None: no such blob),
    ``saved`` the bytes kept (the last ones when ``truncated``), in ``path`` if written to a
    file; ``sha256`` of the saved bytes."""

    blob: str  # URL without SAS
    size: int | None
    saved: int = 0
    sha256: str | None = None
    path: str | None = None
    truncated: bool = False


@dataclass(frozen=True)
class FullOutput:
    """A target's whole output, read from its blobs after it finished. ``complete`` is False
    when the output may lack its end (still being appended, or no completion record where one
    was expected); ``note`` says why, or why a blob is missing. ``group_key`` identifies the
    full text (both streams, per-VM noise removed) for grouping."""

    stdout: StreamCopy
    stderr: StreamCopy
    complete: bool = True
    note: str | None = None
    group_key: str | None = None

    def to_json(self) -> dict[str, Any]:
        """As the report and the journal keep it (blob URLs carry no SAS)."""
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> FullOutput:
        return cls(
            StreamCopy(**raw["stdout"]), StreamCopy(**raw["stderr"]),
            bool(raw.get("complete", True)), raw.get("note"), raw.get("group_key"),
        )  # fmt: skip


@dataclass(frozen=True)
class StorageCounters:
    """What a run cost in storage requests (list, properties, read, delete, key, ...)."""

    requests: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    bytes_read: int = 0

    @property
    def total(self) -> int:
        return sum(self.requests.values())
