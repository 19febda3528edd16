"""The job spec's ``output:`` section — full outputs through append blobs — and its flags::

    output:
      storage:
        account_url: https://ACCOUNT.blob.core.windows.net   # no SAS: fleet issues its own
        container: fleet-output                               # must exist (3-63, a-z 0-9 -)
        identity: null          # null: a short-lived SAS per blob; "system" or a client id:
                                # the VMs' managed identity writes (outputBlobManagedIdentity)
      keep_days: 7              # delete this job's blobs older than that (null: keep them)
      max_bytes_per_target: 8MiB   # what fleet downloads per target (the last bytes if more)
      completion: arm           # or storage: learn the end from the blob, not from ARM reads

``--output-container URL`` (``https://ACCOUNT.blob.core.windows.net/CONTAINER``) and
``--completion arm|storage`` set the same, over a job file's section too. ``completion:
storage`` wraps the script (``fleet.util.completion``): every script source of the job must be
script text (inline or a file) and, on Linux, a shell script.

Pure parsers and the pydantic model (``Output``); ``build_output`` turns it into the frozen
``OutputSpec`` and checks it against the job's scripts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, PlainValidator

from fleet.model import Completion, OutputSpec, OutputStorage, ScriptSpec, SourceKind
from fleet.model.output import DEFAULT_MAX_BYTES
from fleet.util.completion import why_not_wrappable

_CONTAINER = re.compile(r"^(?=.{3,63}$)[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9]))*$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_SIZE = re.compile(r"^(\d+)\s*(B|KB|KiB|MB|MiB|GB|GiB)?$", re.I)
_UNITS = {"b": 1, "kb": 1000, "kib": 1024, "mb": 10**6, "mib": 2**20, "gb": 10**9, "gib": 2**30}
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
MIN_BYTES, MAX_BYTES = 1024, 2**30


def _account_url(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("give the storage account's blob endpoint, https://ACCOUNT.blob...")
    parts = urlsplit(value.strip())
    if parts.query or parts.fragment:
        message = (
            "account_url must not carry a query (a SAS): fleet issues a short-lived SAS per "
            "blob itself — give https://ACCOUNT.blob.core.windows.net"
        )
        raise ValueError(message)
    secure = parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK)
    if not secure or not parts.hostname:
        raise ValueError(
            f"{parts.scheme}://{parts.hostname or ''}... is not an https:// blob endpoint"
        )
    return value.strip().rstrip("/")


def _container(value: Any) -> str:
    if not isinstance(value, str) or not _CONTAINER.match(value):
        message = (
            f"{value!r} is not a container name — 3 to 63 lower-case letters, digits and "
            "single hyphens, starting and ending with a letter or digit"
        )
        raise ValueError(message)
    return value


def _identity(value: Any) -> str | None:
    if value is None or value == "system" or (isinstance(value, str) and _GUID.match(value)):
        return value  # type: ignore[no-any-return]
    raise ValueError(f'{value!r} is not an identity — use "system" or a client id (a GUID)')


def parse_size(value: Any) -> int:
    """Bytes from ``1048576``, ``"512KiB"``, ``"8MiB"``, ``"1GB"``; 1 KiB to 1 GiB."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f'{value!r} is not a size — use 1048576, "512KiB" or "8MiB"')
    match = _SIZE.match(str(value).strip())
    if match is None:
        raise ValueError(f'{value!r} is not a size — use 1048576, "512KiB" or "8MiB"')
    size = int(match.group(1)) * _UNITS[(match.group(2) or "b").lower()]
    if not MIN_BYTES <= size <= MAX_BYTES:
        raise ValueError(f"{value!r} is out of range — 1KiB to 1GiB")
    return size


def _keep_days(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 3650:
        raise ValueError(f"{value!r} is not a number of days from 1 to 3650 (or null: keep)")
    return value


def _completion(value: Any) -> Completion:
    try:
        return Completion(str(value).lower())
    except ValueError:
        raise ValueError(f"{value!r} is not a completion mode — use arm or storage") from None


def _check(parse: Callable[[Any], Any]) -> PlainValidator:
    return PlainValidator(parse)


class Storage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    account_url: Annotated[str, _check(_account_url)]
    container: Annotated[str, _check(_container)]
    identity: Annotated[str | None, _check(_identity)] = None


class Output(BaseModel):
    """The ``output:`` section (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    storage: Storage
    keep_days: Annotated[int | None, _check(_keep_days)] = 7
    max_bytes_per_target: Annotated[int, _check(parse_size)] = DEFAULT_MAX_BYTES
    completion: Annotated[Completion, _check(_completion)] = Completion.ARM


def container_url_parts(url: str) -> dict[str, str]:
    """``https://acct.blob.core.windows.net/CONTAINER`` → ``{account_url, container}`` (data
    for the schema, which says what is wrong with either). A query (a SAS someone pasted)
    stays on the account URL, whose check refuses it without echoing it."""
    parts = urlsplit(url.strip())
    head, _, container = parts.path.rstrip("/").rpartition("/")
    account = f"{parts.scheme}://{parts.netloc}{head}" if parts.scheme else url
    if parts.query:
        account += "?" + parts.query
    return {"account_url": account, "container": container}


@dataclass(frozen=True)
class OutputOptions:
    """``--output-container URL`` and ``--completion arm|storage``: the ``output:`` section of a
    flags job, or laid over a job file's."""

    container_url: str | None = None
    completion: str | None = None

    @classmethod
    def from_flags(cls, flags: Mapping[str, Any]) -> OutputOptions:
        return cls(flags.get("output_container"), flags.get("completion"))

    def to_data(self) -> dict[str, Any]:
        """The given flags as an ``output:`` mapping (absent flags left out)."""
        data: dict[str, Any] = {}
        if self.container_url is not None:
            data["storage"] = container_url_parts(self.container_url)
        if self.completion is not None:
            data["completion"] = self.completion
        return data


def build_output(output: Output | None) -> OutputSpec | None:
    if output is None:
        return None
    storage = output.storage
    return OutputSpec(
        storage=OutputStorage(storage.account_url, storage.container, storage.identity),
        keep_days=output.keep_days,
        max_bytes_per_target=output.max_bytes_per_target,
        completion=output.completion,
    )


def completion_problems(spec: OutputSpec | None, script: ScriptSpec) -> list[str]:
    """Why ``script`` cannot end with fleet's completion record (``completion: storage``)."""
    if spec is None or spec.completion is not Completion.STORAGE:
        return []
    problems = []
    for os_name, source in (("linux", script.linux), ("windows", script.windows)):
        problems += _source_problems(source, os_name)
    return problems + _source_problems(script.default, None)


def _source_problems(source: Any, os_name: str | None) -> list[str]:
    if source is None:
        return []
    which = f"the {os_name} script" if os_name else "the script"
    if source.kind is not SourceKind.INLINE:
        return [
            f"completion: storage wraps the script text, but {which} is a "
            f"{'script URI' if source.kind is SourceKind.URI else 'built-in command'} — give "
            "it inline or as a file, or use completion: arm"
        ]
    reason = why_not_wrappable(source.value, os_name or "linux")
    return [] if reason is None else [f"completion: storage cannot wrap {which}: {reason}"]
