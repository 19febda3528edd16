"""tests/servicehub.py: a service starts once however many processes ask at the same moment, a
failed start is reported to every asker without a retry, and the owner stops what was started.
And the fixtures built on it fail (never skip) with the setup step to run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from fleet.util.procs import ProcessRef, ServiceError, read_log, spawn, wait_ready
from tests.servicehub import ServiceHub
from tests.simkit import ROOT

ASK = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from tests.servicehub import ServiceHub

    def start(workdir):
        with open(sys.argv[2], "a") as out:
            out.write("started\\n")
        time.sleep(0.3)  # the others are waiting on the lock meanwhile
        return {"pid": 1, "started": None, "port": 1234}, None

    print(ServiceHub(Path(sys.argv[1]), owner=False).get("svc", start)["port"])
    """
)


def test_concurrent_askers_start_a_service_once(tmp_path: Path) -> None:
    starts = tmp_path / "starts.txt"
    argv = [sys.executable, "-c", ASK, str(tmp_path), str(starts)]
    askers = [subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True) for _ in "abc"]
    outputs = [asker.communicate(timeout=60)[0].strip() for asker in askers]
    assert outputs == ["1234"] * 3
    assert starts.read_text() == "started\n"


def test_a_failed_start_is_reported_to_every_asker_without_a_retry(tmp_path: Path) -> None:
    hub = ServiceHub(tmp_path, owner=False)
    calls = []

    def broken(workdir: Path) -> tuple[dict[str, Any], object]:
        calls.append(workdir)
        raise ServiceError("svc is not installed: run `make install`")

    for _ in range(2):
        with pytest.raises(ServiceError, match=r"svc is not installed: run `make install`"):
            hub.get("svc", broken)
    assert calls == [tmp_path / "svc"]


def test_the_owner_stops_what_was_started_and_removes_the_directory(tmp_path: Path) -> None:
    directory = tmp_path / "session"
    directory.mkdir()
    worker, owner = ServiceHub(directory, owner=False), ServiceHub(directory, owner=True)

    def sleeper(workdir: Path) -> tuple[dict[str, Any], object]:
        workdir.mkdir()
        log = workdir / "log"
        proc = spawn(["sh", "-c", "echo up; exec sleep 300"], name="s", log_path=log, cwd=workdir)
        wait_ready(proc, lambda: "up" in read_log(log) or None, name="s", log_path=log, timeout=30)
        return ProcessRef.of(proc.pid).to_dict(), proc

    ref = ProcessRef.from_dict(worker.get("sleeper", sleeper))
    assert ref.is_running()
    assert worker.close() == []  # a worker never stops shared services
    assert ref.is_running()
    assert owner.close() == []
    assert not ref.is_running()
    assert not directory.exists()


MISSING = textwrap.dedent(
    """
    def test_azurite(azurite):
        pass

    def test_azurite_again(azurite):
        pass

    def test_temporal(temporal_server):
        pass

    def test_browser(page):
        pass
    """
)


def test_a_missing_service_fails_the_tests_naming_the_setup_step(tmp_path: Path) -> None:
    (tmp_path / "test_missing.py").write_text(MISSING)
    missing = tmp_path / "not-installed"
    env = {
        **os.environ, "FLEET_AZURITE": str(missing), "FLEET_TEMPORAL": str(missing),
        "FLEET_CHROMIUM": str(missing),
    }  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.services", "-p", "no:cacheprovider",
         "-rA", "--rootdir", str(tmp_path), str(tmp_path / "test_missing.py")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    report = proc.stdout + proc.stderr
    assert proc.returncode == 1, report
    assert "4 errors" in report and "skipped" not in report, report
    for name, fix in [("AZURITE", ""), ("TEMPORAL", ""), ("CHROMIUM", " as root")]:
        expected = f"FLEET_{name}={missing} is not an executable file: run `make install`{fix}"
        assert expected in report, report


def test_a_session_killed_outright_is_cleaned_up_by_the_next(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    abandoned = tmp_path / "fleet-services-abandoned"
    abandoned.mkdir()
    (abandoned / "owner.ref").write_text(json.dumps({"pid": dead.pid, "started": 1}))
    log = abandoned / "log"
    proc = spawn(["sh", "-c", "echo up; exec sleep 300"], name="s", log_path=log, cwd=tmp_path)
    wait_ready(proc, lambda: "up" in read_log(log) or None, name="s", log_path=log, timeout=30)
    left = ProcessRef.of(proc.pid)
    (abandoned / "azurite.json").write_text(json.dumps(left.to_dict()))

    live = ServiceHub.create(tmp_path)  # this process owns it: alive, so never reaped
    assert live.directory.name.startswith("fleet-services-")
    assert not left.is_running() and not abandoned.exists()
    proc.wait(timeout=10)
    ServiceHub.create(tmp_path)
    assert live.directory.exists()
    assert live.close() == [] and not live.directory.exists()
