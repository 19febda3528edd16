"""A run's full outputs (``RunOutputs``): the blobs each target's PUT names, and — once a target
is final — reading them back, keeping them (``OutputFiles``) and putting the full output in
its result.

Blob names are ``<run id>/<target key>/stdout|stderr``; the key is the target's name, with a
short hash of its id when two targets of the run share a name. A SAS is issued at launch, valid
while the agent may still write: the pending timeout, the script's run limit, the wedge grace
and ``SAS_MARGIN_S`` (``fleet.engine.execute``).

Reading (``collect``): one listing of the target's prefix (or what the completion watcher saw),
then at most one ranged read per non-empty stream: the last bytes up to the job's
``max_bytes_per_target`` (stdout and stderr share it; each gets at least half when both are
big). fleet's completion record is cut off stdout; a secret value of the run is ``***``. The
result's ``output``/``error`` become the last 4 KB of the full streams — what the instance view
would say, the same whichever way completion was seen — and ``full_output`` says where the
whole is, whether it may lack its end, and its grouping key (from ``digest``, the caller's).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

import structlog

from fleet.engine.storage_watch import CompletionWatcher, Seen, Tail
from fleet.errors import FleetError
from fleet.model import (
    BlobState,
    CallError,
    Completion,
    FullOutput,
    OutputBlobs,
    OutputSpec,
    StorageCounters,
    StreamCopy,
    Target,
    TargetResult,
)
from fleet.ports import OutputFiles, OutputStore
from fleet.secrets import Secrets
from fleet.util.completion import split_record

log = structlog.get_logger("fleet.engine")
TAIL = 4096  # what a result's output/error keep, as the instance view does
SAS_MARGIN_S = 900.0
Digest = Callable[[Target, bytes, bytes], str]


def target_keys(targets: Sequence[Target]) -> dict[str, str]:
    """Lower-cased target id → its blob key (its name, made unique within the run)."""
    names = Counter(t.name.lower() for t in targets)
    keys = {}
    for t in targets:
        key = t.name
        if names[t.name.lower()] > 1:
            key += "~" + hashlib.sha256(t.id.lower().encode()).hexdigest()[:8]
        keys[t.id.lower()] = key
    return keys


def _budgets(cap: int, out_size: int, err_size: int) -> tuple[int, int]:
    """Bytes to keep of stdout and stderr under one cap (each at least half when both big)."""
    err = min(err_size, max(cap // 2, cap - out_size))
    return min(out_size, cap - err), err


class RunOutputs:
    def __init__(
        self,
        spec: OutputSpec,
        store: OutputStore,
        run_id: str,
        targets: Sequence[Target],
        *,
        files: OutputFiles | None = None,
        digest: Digest | None = None,
        watcher: CompletionWatcher | None = None,
    ) -> None:
        self.spec, self.store, self.run_id = spec, store, run_id
        self.files, self.digest = files, digest
        self.keys = target_keys(targets)
        self.watcher = watcher if spec.completion is Completion.STORAGE else None

    @property
    def wraps(self) -> bool:
        """Whether scripts are wrapped to print fleet's completion record."""
        return self.spec.completion is Completion.STORAGE

    def prefix(self, target: Target) -> str:
        key = self.keys.get(target.id.lower())
        if key is None:  # a target outside the plan (a gate's sentinel): keyed the same way
            key = target_keys([target])[target.id.lower()]
        return f"{self.run_id}/{key}"

    def blobs(self, target: Target, valid_for_s: float) -> OutputBlobs:
        return self.store.blobs_for(self.prefix(target), timedelta(seconds=valid_for_s))

    def counters(self) -> StorageCounters:
        return self.store.counters()

    async def collect(self, result: TargetResult, secrets: Secrets) -> TargetResult:
        """``result`` with its full output, when Azure ran (or accepted) its run command."""
        if result.execution_state is None:
            return result
        prefix = self.prefix(result.target)
        seen = self.watcher.seen(prefix) if self.watcher is not None else None
        states = await self._states(prefix, seen)
        if isinstance(states, CallError):
            note = f"the output blobs could not be listed ({states.code}: {states.message})"
            full = FullOutput(
                self._copy(prefix, "stdout", _Read(None), b"", []),
                self._copy(prefix, "stderr", _Read(None), b"", []),
                False,
                note,
            )
            return replace(result, full_output=full)  # fmt: skip
        out_state, err_state = states.get(f"{prefix}/stdout"), states.get(f"{prefix}/stderr")
        out_cap, err_cap = _budgets(
            self.spec.max_bytes_per_target,
            out_state.size if out_state else 0,
            err_state.size if err_state else 0,
        )
        out = await self._read(out_state, out_cap, None if seen is None else seen.out)
        err = await self._read(err_state, err_cap, None if seen is None else seen.err)
        return self._with(result, prefix, out, err, secrets)

    async def _states(self, prefix: str, seen: Seen | None) -> dict[str, BlobState] | CallError:
        """The target's blobs: as the watcher last saw them once both held the record (they
        are whole then), else from a listing of its prefix."""
        final = seen is not None and seen.exit_code is not None
        if final and seen is not None and seen.stdout is not None and seen.stderr is not None:
            return {seen.stdout.name: seen.stdout, seen.stderr.name: seen.stderr}
        listed = await self.store.list(prefix + "/")
        if isinstance(listed, CallError):
            return listed
        return {state.name: state for state in listed}

    async def _read(self, state: BlobState | None, cap: int, tail: Tail | None) -> _Read:
        """The blob's last ``cap`` bytes (all of them if it is smaller)."""
        if state is None or state.size == 0:
            return _Read(state)
        offset = state.size - cap
        if tail is not None and tail.start <= offset and tail.end == state.size:
            return _Read(state, tail.data[offset - tail.start :], offset > 0)  # read already
        got = await self.store.read(state.name, offset)
        if isinstance(got, CallError):
            return _Read(state, problem=f"{state.name}: {got.code}: {got.message}")
        return _Read(state, got[-cap:], offset > 0 or len(got) > cap)  # grown since: its end

    def _with(
        self, result: TargetResult, prefix: str, out: _Read, err: _Read, secrets: Secrets
    ) -> TargetResult:
        notes = [read.problem for read in (out, err) if read.problem]
        (out_bytes, record), err_bytes = (out.data, None), err.data
        if self.wraps:
            out_bytes, record = split_record(out_bytes, self.run_id)
            err_bytes = split_record(err_bytes, self.run_id)[0]
        out_bytes, err_bytes = _redact(out_bytes, secrets), _redact(err_bytes, secrets)
        complete, note = _completeness(result, out.state, record, self.wraps)
        stdout = self._copy(prefix, "stdout", out, out_bytes, notes)
        stderr = self._copy(prefix, "stderr", err, err_bytes, notes)
        key = None if self.digest is None else self.digest(result.target, out_bytes, err_bytes)
        notes += [note] if note else []
        full = FullOutput(stdout, stderr, complete and not notes, "; ".join(notes) or None, key)
        return replace(
            result, output=_tail_text(out_bytes), error=_tail_text(err_bytes), full_output=full
        )

    def _copy(
        self, prefix: str, stream: str, read: _Read, data: bytes, notes: list[str]
    ) -> StreamCopy:
        url = self.store.url(f"{prefix}/{stream}")
        if read.state is None:
            return StreamCopy(url, None)
        path = None
        if self.files is not None and read.problem is None:
            try:
                path = self.files.save(prefix.split("/", 1)[1], stream, data)
            except FleetError as exc:
                notes.append(str(exc))
        digest = hashlib.sha256(data).hexdigest()
        return StreamCopy(url, read.state.size, len(data), digest, path, read.truncated)


@dataclass(frozen=True)
class _Read:
    state: BlobState | None
    data: bytes = b""
    truncated: bool = False
    problem: str | None = None


def _completeness(
    result: TargetResult, stdout: BlobState | None, record: int | None, wraps: bool
) -> tuple[bool, str | None]:
    if stdout is None:
        return False, "no output blob: the agent never created it (the script did not run)"
    if result.execution_state in ("Pending", "Running"):
        return False, "the run command had not ended: its output may still be growing"
    if wraps and record is None and result.execution_state == "Succeeded":
        return False, "no completion record: the blob may lack the output's end"
    return True, None


def _redact(data: bytes, secrets: Secrets) -> bytes:
    for value in secrets.values:
        data = data.replace(value.encode(), b"***")
    return data


def _tail_text(data: bytes) -> str:
    tail = data[-TAIL:]
    skip = 0
    while skip < min(3, len(tail)) and tail[skip] & 0xC0 == 0x80:  # not mid-character
        skip += 1
    return tail[skip:].decode("utf-8", errors="replace")
