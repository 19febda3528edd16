"""The session's services are shared by the xdist workers and stopped by the controller, after
failures and a crashed worker too: a whole pytest session runs in a subprocess and the
processes it used are looked for afterwards."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from fleet.util.procs import ProcessRef
from tests.simkit import ROOT

INNER = textwrap.dedent(
    """
    import json, os
    import pytest

    def record(request, service, info):
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        hub = request.config.stash[__import__("tests.services").services.HUB]
        row = {"worker": worker, "service": service, "dir": str(hub.directory),
               "pid": info.process.pid, "started": info.process.started}
        with open(os.environ["FLEET_SERVICES_PROBE"], "a") as out:
            out.write(json.dumps(row) + "\\n")

    @pytest.mark.parametrize("n", range(6))
    def test_azurite(request, azurite, n):
        record(request, "azurite", azurite)

    def test_temporal(request, temporal_server):
        record(request, "temporal", temporal_server)

    def test_chromium(request, chromium, page):
        page.goto("about:blank")
        record(request, "chromium", chromium)

    def test_fails_after_using_a_service(request, azurite):
        record(request, "azurite", azurite)
        assert False, "on purpose"

    def test_worker_crashes(request, azurite):
        record(request, "azurite", azurite)
        os._exit(3)
    """
)


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline and entry.name.isdigit() and int(entry.name) != os.getpid():
            found.append(f"{entry.name}: {cmdline[:200]}")
    return found


def test_services_are_shared_by_workers_and_stopped_after_failures(tmp_path: Path) -> None:
    (tmp_path / "test_inner.py").write_text(INNER)
    probe = tmp_path / "probe.jsonl"
    env = {**os.environ, "FLEET_SERVICES_PROBE": str(probe)}
    env.pop("PYTEST_XDIST_WORKER", None)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.services", "-p", "no:cacheprovider",
         "-n", "2", "--dist", "load", "--rootdir", str(tmp_path), str(tmp_path / "test_inner.py")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    report = proc.stdout + proc.stderr
    assert proc.returncode == 1, report  # the failing test and the crashed worker, no error
    assert "2 failed, 8 passed" in report, report
    assert "worker 'gw" in report and "crashed while running" in report, report
    rows = [json.loads(line) for line in probe.read_text().splitlines()]
    assert {row["service"] for row in rows} == {"azurite", "temporal", "chromium"}, report
    assert len({row["worker"] for row in rows if row["service"] == "azurite"}) >= 2, rows
    for service in ("azurite", "temporal", "chromium"):
        pids = {(row["pid"], row["started"]) for row in rows if row["service"] == service}
        assert len(pids) == 1, f"{service} started more than once: {pids}"
        pid, started = pids.pop()
        assert not ProcessRef(pid, started).is_running(), f"{service} (pid {pid}) still runs"
    (directory,) = {row["dir"] for row in rows}
    assert not Path(directory).exists()
    assert _processes_mentioning(directory) == []
