"""``BlobOutputStore``: ``fleet.ports.OutputStore`` on one blob container with
azure-storage-blob's async ``ContainerClient``.

Storage requests are cheap but not free: every call waits for a slot (at most ``concurrency``
at once) and for the store's own rate (``rate_per_s``), and each request is counted by kind —
``list`` (one per page of a listing), ``properties``, ``read``, ``delete``, ``key`` — for the
report's ``storage_requests``. Errors come back as ``CallError`` values (HTTP status and the
``x-ms-error-code``, status 0 when there was no response); a message never carries a URL's
query (a SAS).
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import anyio
from azure.core.exceptions import AzureError, HttpResponseError, ResourceNotFoundError

from fleet.model import (
    BlobRef,
    BlobState,
    CallError,
    OutputBlobs,
    OutputStorage,
    Secret,
    StorageCounters,
)
from fleet.storage.sas import SasIssuer

_QUERY = re.compile(r"(https?://[^\s?'\"]+)\?[^\s'\"]*")
#: fleet's output blobs: <run id>/<target>/stdout|stderr (what ``prune`` may delete)
_FLEET_BLOB = re.compile(r"^[^/]+/[^/]+/(?:stdout|stderr)$")
PRUNE_MAX = 5000  # deletions per run at most: housekeeping must not dwarf the run


def call_error(exc: AzureError) -> CallError:
    """An SDK exception as (status, storage error code, first line of the message)."""
    if isinstance(exc, HttpResponseError):
        headers: Any = getattr(exc.response, "headers", None) or {}
        fallback = getattr(exc, "error_code", None) or exc.reason or "HttpError"
        code = headers.get("x-ms-error-code") or str(fallback)
        text = str(exc.message or exc.reason or "")
        status = exc.status_code or 0
    else:
        code, text, status = type(exc).__name__, str(exc.message or exc), 0
    first = (text.splitlines() or [""])[0]
    return CallError(status, code, _QUERY.sub(r"\1?<redacted>", first))


class BlobOutputStore:
    """``container`` is an azure-storage-blob aio ``ContainerClient``; ``issuer`` None means
    the agents write with ``storage.identity`` (no SAS)."""

    def __init__(
        self,
        container: Any,
        storage: OutputStorage,
        issuer: SasIssuer | None,
        *,
        rate_per_s: float = 200.0,
        concurrency: int = 16,
    ) -> None:
        self._container = container
        self.storage = storage
        self._issuer = issuer
        self._rate = _Pace(rate_per_s)
        self._slots = anyio.CapacityLimiter(concurrency)
        self._requests: Counter[str] = Counter()
        self._errors = 0
        self._bytes = 0

    # -- what the PUT carries -------------------------------------------------------------------

    def blobs_for(self, prefix: str, valid_for: timedelta) -> OutputBlobs:
        expiry = datetime.now(UTC) + valid_for
        return OutputBlobs(
            self._ref(f"{prefix}/stdout", expiry), self._ref(f"{prefix}/stderr", expiry)
        )

    def url(self, name: str) -> str:
        return f"{self.storage.container_url}/{quote(name, safe='/')}"

    def _ref(self, name: str, expiry: datetime) -> BlobRef:
        url = self.url(name)
        if self._issuer is None:
            identity = self.storage.identity
            mi = {} if identity in (None, "system") else {"clientId": str(identity)}
            return BlobRef(name, url, identity=mi)
        sas = self._issuer.sas(self.storage.container, name, expiry)
        return BlobRef(name, url, sas=Secret(sas))

    # -- reads ------------------------------------------------------------------------------------

    async def list(self, prefix: str) -> list[BlobState] | CallError:
        found: list[BlobState] = []
        async with self._slots:
            await self._rate.acquire()
            try:
                pages = self._container.list_blobs(name_starts_with=prefix).by_page()
                async for page in pages:
                    self._requests["list"] += 1
                    found.extend([_state(blob) async for blob in page])
            except AzureError as exc:
                return self._failed(exc)
        return found

    async def properties(self, name: str) -> BlobState | CallError | None:
        async with self._slots:
            await self._rate.acquire()
            self._requests["properties"] += 1
            try:
                props = await self._container.get_blob_client(name).get_blob_properties()
            except ResourceNotFoundError:
                return None
            except AzureError as exc:
                return self._failed(exc)
        return _state(props)

    async def read(self, name: str, offset: int, length: int | None = None) -> bytes | CallError:
        async with self._slots:
            await self._rate.acquire()
            self._requests["read"] += 1
            try:
                blob = self._container.get_blob_client(name)
                stream = await blob.download_blob(offset=offset, length=length)
                data: bytes = await stream.readall()
            except AzureError as exc:
                return self._failed(exc)
        self._bytes += len(data)
        return data

    async def prune(self, older_than: datetime) -> int | CallError:
        listed = await self.list("")
        if isinstance(listed, CallError):
            return listed
        old = [
            b.name
            for b in listed
            if _FLEET_BLOB.match(b.name) and b.modified is not None and b.modified < older_than
        ][:PRUNE_MAX]
        for name in old:
            async with self._slots:
                await self._rate.acquire()
                self._requests["delete"] += 1
                try:
                    await self._container.delete_blob(name)
                except ResourceNotFoundError:
                    continue
                except AzureError as exc:
                    return self._failed(exc)
        return len(old)

    def count(self, kind: str) -> None:
        """A request made outside the store (the factory's user delegation key)."""
        self._requests[kind] += 1

    def counters(self) -> StorageCounters:
        return StorageCounters(dict(self._requests), self._errors, self._bytes)

    def _failed(self, exc: AzureError) -> CallError:
        self._errors += 1
        return call_error(exc)


class _Pace:
    """At most ``rate_per_s`` requests a second, evenly spaced, first come first served."""

    def __init__(self, rate_per_s: float) -> None:
        self._gap = 1.0 / rate_per_s
        self._next = 0.0

    async def acquire(self) -> None:
        now = anyio.current_time()
        slot = max(now, self._next)
        self._next = slot + self._gap
        await anyio.sleep(slot - now)


def _state(props: Any) -> BlobState:
    return BlobState(
        name=props.name,
        size=int(props.size or 0),
        created=getattr(props, "creation_time", None),
        modified=getattr(props, "last_modified", None),
    )
