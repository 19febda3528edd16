"""fleet.util.procs: services start in groups of their own, are waited for on a condition, and
stop with their whole tree; a reused pid is never signalled."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from fleet.util.procs import (
    ProcessRef,
    ServiceError,
    free_port,
    read_log,
    spawn,
    stop,
    stop_group,
    wait_ready,
)

TREE = "sleep 300 & sleep 300 & echo ready; wait"


def _start(tmp_path: Path, script: str) -> tuple[subprocess.Popen[bytes], Path]:
    log = tmp_path / "svc.log"
    proc = spawn(["sh", "-c", script], name="svc", log_path=log, cwd=tmp_path)
    return proc, log


def _ready(log: Path) -> bool | None:
    return True if "ready" in read_log(log) else None


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


def _alive(pid: int) -> bool:
    return ProcessRef(pid, None).is_alive()


def test_stop_ends_the_whole_group(tmp_path: Path) -> None:
    proc, log = _start(tmp_path, TREE)
    assert wait_ready(proc, lambda: _ready(log), name="svc", log_path=log, timeout=30) is True
    assert os.getpgid(proc.pid) == proc.pid  # a group (and session) of its own
    kids = _children(proc.pid)
    assert len(kids) == 2
    assert all(_alive(pid) for pid in kids)
    assert ProcessRef.of(proc.pid).is_running()
    stop(proc)
    assert proc.returncode is not None
    assert not any(_alive(pid) for pid in kids)
    assert not ProcessRef(proc.pid, None).is_running()


def test_a_process_ignoring_sigterm_is_killed(tmp_path: Path) -> None:
    proc, log = _start(tmp_path, "trap '' TERM; echo ready; while :; do sleep 0.05; done")
    wait_ready(proc, lambda: _ready(log), name="svc", log_path=log, timeout=30)
    stop(proc, grace=0.5)
    assert proc.returncode == -9


def test_stop_group_from_a_ref_leaves_a_reused_pid_alone(tmp_path: Path) -> None:
    proc, log = _start(tmp_path, TREE)
    wait_ready(proc, lambda: _ready(log), name="svc", log_path=log, timeout=30)
    real = ProcessRef.of(proc.pid)
    assert real.started is not None
    stranger = ProcessRef(proc.pid, real.started + 1)  # same pid, started at another time
    stop_group(stranger, grace=0.5)
    assert real.is_running()
    assert not stranger.is_running()
    stop_group(real)
    assert not real.is_running()
    proc.wait(timeout=10)


def test_exit_before_ready_quotes_the_log(tmp_path: Path) -> None:
    proc, log = _start(tmp_path, "echo 'cannot bind 127.0.0.1:1: permission denied'; exit 4")
    with pytest.raises(ServiceError) as failed:
        wait_ready(proc, lambda: None, name="svc", log_path=log, timeout=30)
    message = str(failed.value)
    assert "svc exited with code 4 before it was ready" in message
    assert "cannot bind 127.0.0.1:1: permission denied" in message


def test_not_ready_in_time_is_stopped(tmp_path: Path) -> None:
    proc, log = _start(tmp_path, TREE)
    with pytest.raises(ServiceError, match=r"svc was not ready within 0\.3 s"):
        wait_ready(proc, lambda: None, name="svc", log_path=log, timeout=0.3)
    assert proc.returncode is not None
    assert not ProcessRef(proc.pid, None).is_running()


def test_a_missing_binary_is_a_service_error(tmp_path: Path) -> None:
    with pytest.raises(ServiceError, match=r"cannot start svc \(/nonexistent/svc\)"):
        spawn(["/nonexistent/svc"], name="svc", log_path=tmp_path / "log", cwd=tmp_path)


def test_process_ref_round_trips_and_free_port_is_bindable() -> None:
    ref = ProcessRef.of(os.getpid())
    assert ProcessRef.from_dict(ref.to_dict()) == ref
    assert ref.is_ours() and ref.is_alive()
    assert not ProcessRef(os.getpid(), (ref.started or 0) + 1).is_alive()  # a stranger's pid
    port = free_port()
    assert 1024 < port < 65536
