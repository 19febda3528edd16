"""An in-memory ``OutputStore`` for engine tests: the output blobs the agents of a ``FakeArm``
would have written by now (virtual time), with the Linux handler's order — stdout's last bytes
land before stderr's (``stderr_lag``) — and fleet's completion record when the script was
wrapped and ended by itself. Failures and request counts are scriptable.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import anyio

from fleet.model import (
    BlobRef,
    BlobState,
    CallError,
    OutputBlobs,
    OutputSpec,
    Secret,
    StorageCounters,
)
from fleet.ports import OutputStore
from fleet.util import completion
from tests.fakes import EPOCH, FakeArm

ACCOUNT = "https://acct.blob.core.windows.net/out"
FAKE_SAS = "sv=2024-08-04&se=2030-01-01&sp=racw&sig=FAKE%2FSIGNATURE%3D"


@dataclass
class FakeBlobs:
    arm: FakeArm
    stderr_lag: float = 0.0  # seconds stderr's last append lands after stdout's
    failure: CallError | None = None  # every list/properties call fails with this
    requests: Counter[str] = field(default_factory=Counter)

    def url(self, name: str) -> str:
        return f"{ACCOUNT}/{name}"

    def blobs_for(self, prefix: str, valid_for: timedelta) -> OutputBlobs:
        ref = lambda s: BlobRef(f"{prefix}/{s}", self.url(f"{prefix}/{s}"), Secret(FAKE_SAS))  # noqa: E731
        return OutputBlobs(ref("stdout"), ref("stderr"))

    def contents(self) -> dict[str, tuple[bytes, float]]:
        """Blob name → (bytes, creation time) as of now."""
        now, found = anyio.current_time(), {}
        for (_name, _), command in self.arm._commands.items():
            inv, b = command.invocation, command.behaviour
            if inv.output_blobs is None or b.agent_not_ready:
                continue
            age, start = now - command.created, command.created + b.pickup
            if age < b.pickup:
                continue
            unwrapped = completion.unwrap(inv.source.value)
            ended = not b.wedged and b.duration <= inv.timeout_s and age >= b.pickup + b.duration
            out, err = b.output.encode(), b.error.encode()
            if not ended:
                out, err = out[:10], b""
            elif unwrapped is not None:
                record = completion.record(unwrapped[1], b.exit_code).encode()
                out += record
                lagging = age < b.pickup + b.duration + self.stderr_lag
                err = b"" if lagging else err + record
            found[inv.output_blobs.stdout.name] = (out, start)
            found[inv.output_blobs.stderr.name] = (err, start)
        return found

    def _state(self, name: str, data: bytes, created: float) -> BlobState:
        at = EPOCH + timedelta(seconds=created)
        return BlobState(name, len(data), at, at)

    async def list(self, prefix: str) -> list[BlobState] | CallError:
        await anyio.lowlevel.checkpoint()
        self.requests["list"] += 1
        if self.failure is not None:
            return self.failure
        return [
            self._state(n, d, c) for n, (d, c) in self.contents().items() if n.startswith(prefix)
        ]

    async def properties(self, name: str) -> BlobState | CallError | None:
        await anyio.lowlevel.checkpoint()
        self.requests["properties"] += 1
        if self.failure is not None:
            return self.failure
        found = self.contents().get(name)
        return None if found is None else self._state(name, *found)

    async def read(self, name: str, offset: int, length: int | None = None) -> bytes | CallError:
        await anyio.lowlevel.checkpoint()
        self.requests["read"] += 1
        data = self.contents().get(name, (b"", 0.0))[0]
        return data[offset:] if length is None else data[offset : offset + length]

    async def prune(self, older_than: datetime) -> int | CallError:
        return 0

    def counters(self) -> StorageCounters:
        return StorageCounters(dict(self.requests))


def factory(store: FakeBlobs) -> Any:
    """A ``Backend.outputs`` that opens ``store`` whatever the job says."""

    @contextlib.asynccontextmanager
    async def open_store(spec: OutputSpec, until: datetime) -> AsyncIterator[OutputStore]:
        yield store

    return open_store
