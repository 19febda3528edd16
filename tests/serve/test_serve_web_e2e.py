"""``fleet serve --sim`` as a process, through its web app: it refuses a non-loopback --listen
without FLEET_SERVE_TOKEN before anything starts (exit 2), and with a token set every request
needs it; the dashboard, its JSON API and /metrics show the scheduled runs as they happen."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.simkit import ROOT

FLEET = [sys.executable, "-m", "fleet.cli.main"]
TOKEN = "serve-e2e-token-0123456789abcdef"
JOB = """\
name: quick-check
description: uptime on the app tier, every 2 seconds
targets: {names: ["app-0*"]}
script: {inline: uptime}
schedule: {every: 2s}
expect: {exit_codes: [0]}
"""


def _env(state: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "FLEET_SERVE_TOKEN"}
    return {**env, "FLEET_STATE_DIR": str(state), **extra}


def test_a_non_loopback_listen_needs_a_token(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (jobs / "quick.yaml").write_text(JOB)
    args = [*FLEET, "serve", "--jobs", str(jobs), "--sim", "--listen", "0.0.0.0:0"]
    refused = subprocess.run(args, env=_env(tmp_path / "s"), capture_output=True, text=True,
                             cwd=ROOT, timeout=60)  # fmt: skip
    assert refused.returncode == 2
    assert "not a loopback address" in refused.stderr and "FLEET_SERVE_TOKEN" in refused.stderr
    assert "Traceback" not in refused.stderr and refused.stdout == ""
    assert not (tmp_path / "s").exists()  # nothing started: no state written


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (jobs / "quick.yaml").write_text(JOB)
    args = [*FLEET, "serve", "--jobs", str(jobs), "--sim", "--profile", "small",
            "--time-scale", "50", "--listen", "127.0.0.1:0", "--drain", "5s"]  # fmt: skip
    env = _env(tmp_path / "state", FLEET_SERVE_TOKEN=TOKEN)
    proc = subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the ready line (blocks until the service listens)
        assert line, proc.stderr.read() if proc.stderr else ""
        yield json.loads(line)["listen"]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _get(url: str, *, auth: str | None = None, accept: str = "text/html") -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Accept": accept})
    if auth:
        request.add_header("Authorization", auth)
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _api(base: str, path: str) -> Any:
    status, body = _get(base + path, auth=f"Bearer {TOKEN}", accept="application/json")
    assert status == 200, body
    return json.loads(body)


def test_serve_web_app_with_a_token(served: str) -> None:
    assert _get(served + "/")[0] == 401
    assert _get(served + "/metrics", auth="Bearer not-the-token-at-all")[0] == 401
    basic = "Basic " + base64.b64encode(f"ops:{TOKEN}".encode()).decode()
    assert _get(served + "/healthz", auth=basic)[0] == 200
    deadline = time.monotonic() + 120
    while True:  # wait on a condition: two finished runs of the job
        job = _api(served, "/api/jobs/quick-check")
        finished = [r for r in job["runs"] if r["ended"] == "completed"]
        if len(finished) >= 2:
            break
        assert time.monotonic() < deadline, job
        time.sleep(0.5)
    run_id = finished[0]["run_id"]
    run = _api(served, f"/api/runs/{run_id}")
    assert run["run"]["job"] == "quick-check" and run["report"]["groups"]
    status, page = _get(f"{served}/runs/{run_id}", auth=f"Bearer {TOKEN}")
    assert status == 200 and 'id="groups"' in page
    overview = _api(served, "/api/overview")
    assert [j["name"] for j in overview["jobs"]] == ["quick-check"]
    assert overview["service"]["simulated"] is True and overview["arm"]["requests"]
    status, text = _get(served + "/metrics", auth=f"Bearer {TOKEN}")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    runs = families["fleet_job_runs"].samples[0]
    assert runs.labels == {"job": "quick-check"} and runs.value >= 2
    assert families["fleet_arm_requests"].samples  # the service's requests, counted
