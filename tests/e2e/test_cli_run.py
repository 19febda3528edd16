"""The ``fleet`` CLI contract end to end: --sim, --arm-endpoint + --ca-cert + FLEET_ACCESS_TOKEN,
--report, exit codes, targets/plan, and secrets that never reach output, logs or the report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.simkit import ROOT

FLEET = [sys.executable, "-m", "fleet.cli.main"]


def fleet(
    *args: str, env: dict[str, str] | None = None, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k != "FLEET_ACCESS_TOKEN"}
    full_env = {**base, "COLUMNS": "160", **(env or {})}
    return subprocess.run(
        [*FLEET, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=full_env
    )


def test_run_health_check_on_the_simulated_fleet(tmp_path: Path) -> None:
    report_path = tmp_path / "report.json"
    proc = fleet(
        "run",
        "configs/jobs/health-check.yaml",
        "--sim",
        "--time-scale",
        "40",
        "--report",
        str(report_path),
        "--yes",
    )
    assert proc.returncode == 1, proc.stderr  # the demo fleet has failing scripts
    assert "SIMULATED FLEET" in proc.stderr
    assert "run id:" in proc.stderr
    assert "targets: status: OK" in proc.stdout
    assert "100% full" in proc.stdout
    report = json.loads(report_path.read_text())
    for key in (
        "run_id",
        "job",
        "started_at",
        "finished_at",
        "summary",
        "targets",
        "groups",
        "arm",
    ):
        assert key in report
    assert report["summary"]["total"] == len(report["targets"]) == 200
    target = report["targets"][0]
    for key in (
        "id",
        "name",
        "kind",
        "subscription",
        "resource_group",
        "location",
        "zone",
        "status",
        "exit_code",
        "output",
        "error",
        "started_at",
        "ended_at",
        "attempts",
    ):
        assert key in target
    assert report["groups"][0]["count"] >= report["groups"][-1]["count"]
    assert report["arm"]["reads_per_target"] <= 2.0


def test_targets_and_plan_write_nothing() -> None:
    proc = fleet("targets", "configs/jobs/patch.yaml", "--sim", "-o", "json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert rows and all(r["os"] == "linux" for r in rows)
    plan = fleet("plan", "configs/jobs/health-check.yaml", "--sim")
    assert plan.returncode == 0, plan.stderr
    assert "Launching every run command takes about" in plan.stdout
    assert "skipped" in plan.stdout


def test_bad_spec_exits_2_with_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: x\ntargets: {names: ['a-*']}\nscript:\n  inline: echo\n  timeout: 10 minutes\n"
    )
    proc = fleet("run", str(bad), "--sim")
    assert proc.returncode == 2
    assert "bad.yaml:5" in proc.stderr and "timeout" in proc.stderr
    assert "SIMULATED FLEET" not in proc.stderr  # refused before anything started


@pytest.fixture
def served_emulator(tmp_path: Path) -> Any:
    proc = subprocess.Popen(
        [*FLEET, "sim", "serve", "--profile", "small", "--time-scale", "40"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        yield json.loads(line)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)


def _stats(info: dict[str, Any]) -> dict[str, Any]:
    import ssl

    ctx = ssl.create_default_context(cafile=info["ca_cert"])
    with urllib.request.urlopen(info["endpoint"] + "/_sim/stats", context=ctx, timeout=10) as r:
        return json.loads(r.read())


def test_custom_endpoint_with_token_from_environment(
    served_emulator: dict[str, Any], tmp_path: Path
) -> None:
    info = served_emulator
    args = [
        "run",
        "--arm-endpoint",
        info["endpoint"],
        "--ca-cert",
        info["ca_cert"],
        "--subscription",
        info["subscriptions"][0],
        "-n",
        "app-0*",
        "--script",
        "uptime",
    ]
    missing = fleet(*args, env={})
    assert missing.returncode == 2 and "FLEET_ACCESS_TOKEN" in missing.stderr
    assert _stats(info)["total_requests"] == 0  # refused before sending anything
    ok = fleet(
        *args, "--report", str(tmp_path / "r.json"), env={"FLEET_ACCESS_TOKEN": "fleet-sim-token"}
    )
    assert ok.returncode == 1, ok.stderr  # app-03 fails (disk full)
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["summary"]["total"] == 9
    assert "fleet-sim-token" not in ok.stdout + ok.stderr


def test_secrets_never_reach_output_logs_or_report(tmp_path: Path) -> None:
    profile = tmp_path / "exec.yaml"
    text = (ROOT / "fleet/sim/profiles/small.yaml").read_text()
    profile.write_text(text + "  exec: {enabled: true, max_processes: 4}\n")
    secret = "s3cr3t-Hunter2-value"
    spec = tmp_path / "leak.yaml"
    spec.write_text(
        "name: leak\ntargets: {names: ['app-0[1-4]']}\n"
        'script:\n  inline: |\n    echo "token=$API_TOKEN"\n    echo "pw=$API_TOKEN" >&2\n'
        "  protected_parameters: {API_TOKEN: {env: LEAK_TOKEN}}\n"
        "  run_as: {user: deploy, password: {env: LEAK_PW}}\n  timeout: 60\n"
    )
    report_path = tmp_path / "r.json"
    proc = fleet(
        "run",
        str(spec),
        "--sim",
        "--profile",
        str(profile),
        "--time-scale",
        "20",
        "--report",
        str(report_path),
        "--log-format",
        "json",
        "--log-level",
        "debug",
        env={"LEAK_TOKEN": secret, "LEAK_PW": "pw-" + secret},
    )
    assert proc.returncode in (0, 1), proc.stderr
    report = report_path.read_text()
    assert "token=***" in report  # the script really received it, and fleet masked it
    for blob in (proc.stdout, proc.stderr, report):
        assert secret not in blob
    state = Path(os.environ["FLEET_STATE_DIR"])  # the run journal (conftest sets it)
    journal_files = [p for p in state.rglob("*") if p.is_file()]
    assert journal_files
    for path in journal_files:
        assert secret.encode() not in path.read_bytes(), path
