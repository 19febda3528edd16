"""The VM agent's side of ``outputBlobUri`` / ``errorBlobUri``: the emulator writes a run
command's stdout and stderr into the blobs the request names, over HTTP(S), as the Linux handler
does (Azure/run-command-handler-linux @ f95dc24, ``internal/cmds/cmds.go``):

- After reporting Running and before the script starts, the output blob and then the error blob
  are *created or replaced* as empty append blobs (``createOrReplaceAppendBlob``: Put Blob, which
  replaces an existing blob). The first that fails ends the run: ``Failed``, exit code -101, the
  message of ``rc_handler.blob_create_failed`` — the script never runs.
- Every 15 s (the handler's status ticker, ``updateStatusInSeconds``) and once more after the
  script ends, whatever each stream gained since the last successful append is appended as one
  block (``appendToBlob`` reads its stdout/stderr files from the saved position). A failed append
  is only logged: the position does not move and the next tick sends those bytes again; the run's
  outcome does not change. The end is reported only after that last append
  (``rc_state.BlobOutput.flushed``).
- Credentials: a SAS in the URL's query; without one, a managed identity. The handler tries the
  SAS first and falls back to the system-assigned identity. Emulated VMs have no identity of their
  own: an identity counts only when the request names one (``outputBlobManagedIdentity``:
  ``{"clientId": ...}`` or ``{}``), and then the emulator *trusts* it for the storage accounts it
  was given keys for (``BlobAccess.identity_keys``, the Azurite it started) and writes with the
  account key — no token, no RBAC check: that part is not real. ``objectId`` is refused as the
  handler refuses it.

Model mode writes the planned output evenly over the script's run (``rc_state.streams_at``);
exec mode appends what the real process wrote (``LiveRun.full_stdout``) and creates the blobs
before the process is spawned (:meth:`BlobAgent.prepare`). A VM restart halts the writer with
the handler; a deleted (canceled) run command is never written again.

The agent's lifetime is the server's, so it tracks its asyncio tasks itself and :meth:`aclose`
cancels them (like ``rc_exec.ExecRunner``). Imports nothing of fleet but ``fleet.util``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from azure.core.exceptions import AzureError, HttpResponseError
from azure.core.pipeline.transport import AioHttpTransport

from fleet.sim import rc_handler
from fleet.sim.clock import SimClock
from fleet.sim.rc_body import RunCommandSpec
from fleet.sim.rc_state import BlobOutput, Execution, streams_at, ungated_view

_LIVE_POLL_S = 0.05  # wall seconds between looks at a real process (exec mode)
_OBJECT_ID_REFUSED = "Managed identity's ObjectId is not supported. Use ClientId instead"
# A blob URL without a SAS on a VM whose identity the emulator cannot vouch for.
_NO_IDENTITY = rc_handler.storage_service_error(
    403, "AuthorizationPermissionMismatch",
    "This request is not authorized to perform this operation using this permission.", "",
)  # fmt: skip


@dataclass(frozen=True)
class BlobAccess:
    """How the emulated agents reach storage: the CA to trust (None: the system's), and the
    account keys that stand in for managed identities (account URL -> (name, key))."""

    ca_cert: str | None = None
    identity_keys: Mapping[str, tuple[str, str]] = field(default_factory=dict)

    def key_for(self, blob_url: str) -> tuple[str, str] | None:
        low = blob_url.split("?", 1)[0].lower()
        for account_url, key in self.identity_keys.items():
            if low.startswith(account_url.lower().rstrip("/") + "/"):
                return key
        return None


@dataclass(frozen=True)
class _Blob:
    url: str  # as requested (a SAS stays in it)
    identity: dict[str, str] | None  # outputBlobManagedIdentity / errorBlobManagedIdentity

    @property
    def public(self) -> str:
        return self.url.split("?", 1)[0]


def blobs_of(spec: RunCommandSpec) -> list[_Blob | None]:
    """[output blob, error blob] a run command asks for (None where it names none)."""
    pairs = (
        (spec.output_blob_uri, spec.output_blob_identity),
        (spec.error_blob_uri, spec.error_blob_identity),
    )
    return [_Blob(uri, identity) if uri else None for uri, identity in pairs]


class BlobAgent:
    """Writes executions' output blobs; see the module docstring."""

    def __init__(self, access: BlobAccess | None = None, clock: SimClock | None = None) -> None:
        self.access = access or BlobAccess()
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self.stats: Counter[str] = Counter()

    def bind_clock(self, clock: SimClock) -> None:
        if self._clock is None:
            self._clock = clock

    @staticmethod
    def wants(spec: RunCommandSpec) -> bool:
        return bool(spec.output_blob_uri or spec.error_blob_uri)

    def follow(self, ex: Execution, spec: RunCommandSpec) -> None:
        """Model mode: create the blobs when the script starts, then append as it runs."""
        ex.blobs = BlobOutput()
        self._spawn(self._follow(ex, blobs_of(spec)))

    async def prepare(self, ex: Execution, spec: RunCommandSpec) -> bool:
        """Exec mode, right before the process starts: create the blobs (False: the run failed
        with -101 and must not start), then append in the background as it runs."""
        blobs = blobs_of(spec)
        if not await self._create_all(ex, blobs):
            return False
        self._spawn(self._append_loop(ex, blobs, self._now()))
        return True

    def _spawn(self, work: Any) -> None:
        if self._closed:
            work.close()
            return
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    # -- one execution ------------------------------------------------------------------------

    async def _follow(self, ex: Execution, blobs: list[_Blob | None]) -> None:
        try:
            start = await self._until_started(ex)
            if start is not None and await self._create_all(ex, blobs):
                await self._append_loop(ex, blobs, start)
        except Exception:  # a bug must not leave the run Running forever
            self.stats["errors"] += 1
            assert ex.blobs is not None
            ex.blobs.flushed = True

    async def _until_started(self, ex: Execution) -> float | None:
        """When the handler picked the script up; None if it never will (dead agent, deleted,
        VM restarted under it)."""
        assert ex.blobs is not None
        while True:
            now = self._now()
            if ex.canceled_at is not None or ex.blobs.halted or not ex.agent_ready:
                return None
            seen = ungated_view(ex, now)
            if seen.started_at is not None:
                return seen.started_at
            await self._sleep(ex.created_at + ex.pending_s - now)

    async def _create_all(self, ex: Execution, blobs: list[_Blob | None]) -> bool:
        if ex.blobs is None:
            ex.blobs = BlobOutput()
        for blob in blobs:
            if blob is None:
                continue
            cause = await self._create(blob)
            if cause is not None:
                ex.blobs.failure = rc_handler.blob_create_failed(blob.public, cause)
                ex.blobs.failed_at = self._now()
                self.stats["create_failures"] += 1
                return False
        return True

    async def _append_loop(self, ex: Execution, blobs: list[_Blob | None], start: float) -> None:
        assert ex.blobs is not None
        state, positions, tick = ex.blobs, [0, 0], 1
        while not (state.halted or ex.canceled_at is not None):
            now = self._now()
            out, err, done = streams_at(ex, now)
            for index, data in enumerate((out, err)):
                positions[index] = await self._append(blobs[index], data, positions[index])
            if done:
                state.flushed = True
                return
            if ex.wedged and ex.live is None and positions == [len(out), len(err)]:
                return  # a hung handler whose script has written all it ever will
            while start + tick * ex.refresh_s <= now:
                tick += 1
            await self._sleep(min(start + tick * ex.refresh_s, _end(ex, start)) - now, ex)

    async def _append(self, blob: _Blob | None, data: bytes, position: int) -> int:
        if blob is None or len(data) <= position:
            return position
        try:
            async with self._client(blob) as client:
                await client.append_block(data[position:])
        except AzureError:
            self.stats["append_failures"] += 1
            return position
        self.stats["appends"] += 1
        self.stats["bytes"] += len(data) - position
        return len(data)

    async def _create(self, blob: _Blob) -> str | None:
        """None when the blob was created or replaced; else the storage client's error text."""
        identity = blob.identity
        if "?" not in blob.url and identity and identity.get("objectId"):
            return _OBJECT_ID_REFUSED
        if "?" not in blob.url and (identity is None or self.access.key_for(blob.url) is None):
            return _NO_IDENTITY
        try:
            async with self._client(blob) as client:
                await client.create_append_blob()
        except ValueError as exc:  # not a blob URL at all
            return f'parse "{blob.public}": {exc}'
        except HttpResponseError as exc:
            return _service_error(exc)
        except AzureError as exc:
            return rc_handler.connection_error("PUT", blob.url, _reason(exc, blob.url))
        self.stats["creates"] += 1
        return None

    # -- plumbing -------------------------------------------------------------------------------

    def _client(self, blob: _Blob) -> Any:
        """An azure-storage-blob ``BlobClient`` (imported here: it takes half a second, and
        most emulators never write a blob)."""
        from azure.storage.blob.aio import BlobClient

        credential: Any = None
        key = self.access.key_for(blob.url)
        if "?" not in blob.url and key is not None:
            credential = {"account_name": key[0], "account_key": key[1]}
        return BlobClient.from_blob_url(
            blob.url, credential=credential, retry_total=0,
            transport=AioHttpTransport(session=self._shared(), session_owner=False),
        )  # fmt: skip

    def _shared(self) -> aiohttp.ClientSession:
        if self._session is None:
            context = ssl.create_default_context(cafile=self.access.ca_cert)
            connector = aiohttp.TCPConnector(ssl=context, limit=64)
            self._session = aiohttp.ClientSession(connector=connector, trust_env=False)
        return self._session

    def _now(self) -> float:
        assert self._clock is not None, "BlobAgent has no clock: bind_clock() first"
        return self._clock.now()

    async def _sleep(self, azure_s: float, ex: Execution | None = None) -> None:
        assert self._clock is not None
        wall = max(self._clock.to_wall(azure_s), 0.005)
        if ex is not None and ex.live is not None:
            wall = min(wall, _LIVE_POLL_S)
        await asyncio.sleep(wall)


def _end(ex: Execution, start: float) -> float:
    """When a model run stops writing (its end or its timeout); far away for a live one."""
    if ex.live is not None or ex.wedged:
        return float("inf")
    end = start + ex.duration_s
    return end if ex.timeout_s is None else min(end, start + ex.timeout_s)


def _service_error(exc: HttpResponseError) -> str:
    headers: Mapping[str, str] = getattr(exc.response, "headers", None) or {}
    code = headers.get("x-ms-error-code") or str(getattr(exc, "error_code", "") or "")
    message = (str(exc.message or exc.reason or "").splitlines() or [""])[0]
    request_id = headers.get("x-ms-request-id", "")
    return rc_handler.storage_service_error(exc.status_code or 0, code, message, request_id)


def _reason(exc: AzureError, url: str) -> str:
    """Go's words for a connection that failed, where we can tell which failure it was."""
    parts = urlsplit(url)
    address = f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
    chain = [exc, *(e for e in (exc.__cause__, exc.__context__) if e is not None)]
    text = " ".join(str(e) for e in chain)
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "Connect call failed" in text:
        return f"dial tcp {address}: connect: connection refused"
    if "certificate" in text.lower():
        return "tls: failed to verify certificate: x509: certificate signed by unknown authority"
    if "Name or service not known" in text or "nodename nor servname" in text:
        return f"dial tcp: lookup {parts.hostname}: no such host"
    with contextlib.suppress(IndexError):
        return f"dial tcp {address}: {str(exc).splitlines()[0]}"
    return f"dial tcp {address}: connection failed"
