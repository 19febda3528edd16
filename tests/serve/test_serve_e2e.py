"""``fleet serve --sim`` end to end, as a subprocess: a schedule every two seconds makes runs;
a target that starts failing between runs (flipped through the embedded emulator's
``/_sim/outcomes``) raises exactly one regression alert at a webhook receiver on 127.0.0.1, and
exactly one recovery alert when it recovers; the webhook's URL (a secret) appears nowhere."""

from __future__ import annotations

import json
import signal
import urllib.request
from pathlib import Path

import pytest

from fleet.api.history import report_from_journal
from fleet.journal import Journal
from fleet.model import Status, Verdict
from tests.serve import servekit

pytestmark = pytest.mark.e2e

JOB = """\
name: pulse
targets: {names: ["app-01", "app-02", "app-04"]}
script: {inline: "echo checking"}
schedule: {every: 2s}
alerts:
  webhooks: [{url: {env: PULSE_HOOK}}]
"""


def verdict_of(serve: servekit.Serve, run_id: str, name: str) -> Verdict:
    verdicts = serve.history().verdicts(run_id)
    return next(v.verdict for v in verdicts.targets if v.target.name == name)


def ended_runs(serve: servekit.Serve) -> list[str]:
    return [r.run_id for r in serve.history().runs("pulse") if r.finished]


def test_regression_and_recovery_alert_once_each(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (jobs / "pulse.yaml").write_text(JOB)
    with servekit.receiver() as hook:
        env = servekit.env_with(PULSE_HOOK=hook.url)
        args = ["--jobs", str(jobs), "--sim", "--profile", "small", "--time-scale", "50"]
        serve = servekit.start(args, tmp_path / "state", env, tmp_path / "serve.log")
        try:
            assert serve.ready["jobs"] == ["pulse"] and serve.ready["simulated"] is True
            health = f"{serve.ready['listen']}/healthz"
            with urllib.request.urlopen(health, timeout=30) as resp:  # the web app is up
                assert json.loads(resp.read())["jobs"] == ["pulse"]
            before = servekit.wait_for(
                "two runs", lambda: len(ended_runs(serve)) >= 2 and ended_runs(serve)
            )
            assert all(verdict_of(serve, r, "app-02") is Verdict.PASS for r in before)
            serve.sim("outcomes", {"names": ["app-02"], "outcome": "disk-full"})
            regression = servekit.wait_for("the regression alert", lambda: hook.of("regression"))
            failing = regression[0]["run_id"]
            assert verdict_of(serve, failing, "app-02") is Verdict.FAIL
            servekit.wait_for(  # a later run still fails: no second alert
                "a run after the regression",
                lambda: [r for r in ended_runs(serve) if r > failing],
            )
            serve.sim("outcomes", {"names": ["app-02"], "outcome": None})
            recovery = servekit.wait_for("the recovery alert", lambda: hook.of("recovery"))
            recovered = recovery[0]["run_id"]
            servekit.wait_for(
                "a run after the recovery", lambda: [r for r in ended_runs(serve) if r > recovered]
            )
        finally:
            log = serve.stop(signal.SIGTERM)
    assert serve.proc.returncode == 0, log
    assert len(hook.of("regression")) == 1 and len(hook.of("recovery")) == 1
    assert hook.of("run-failure") == []
    body = hook.of("regression")[0]
    assert [t["name"] for t in body["targets"]] == ["app-02"]
    assert body["targets"][0]["before"] == "pass" and body["targets"][0]["verdict"] == "fail"
    assert body["previous_run_id"] in before or body["previous_run_id"] < failing
    assert [t["name"] for t in hook.of("recovery")[0]["targets"]] == ["app-02"]
    secret = "s3cr3t-hook-token"
    assert secret not in log
    for stored in (tmp_path / "state").iterdir():
        if stored.is_file():
            assert secret.encode() not in stored.read_bytes(), stored


BLOBS_JOB = """\
name: blobs
targets: {names: ["app-01", "app-02"]}
script: {inline: "#!/bin/sh\\nuptime\\n"}
schedule: {every: 2s}
output:
  storage: {account_url: "https://acct.blob.core.windows.net", container: fleet-out}
  completion: storage
"""


def test_a_served_job_with_output_storage_gets_an_azurite_under_sim(tmp_path: Path) -> None:
    """``fleet serve --sim`` starts an Azurite for a job's output blobs: each end is seen in
    storage (no instance-view read) and the whole output is kept beside the journal."""
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (jobs / "blobs.yaml").write_text(BLOBS_JOB)
    args = ["--jobs", str(jobs), "--sim", "--profile", "small", "--time-scale", "50"]
    serve = servekit.start(args, tmp_path / "state", servekit.env_with(), tmp_path / "serve.log")
    try:
        done = servekit.wait_for(
            "a run", lambda: [r.run_id for r in serve.history().runs("blobs") if r.finished]
        )
        journal = Journal.open(tmp_path / "state", writable=False)
        report = report_from_journal(journal, done[0])
    finally:
        log = serve.stop(signal.SIGTERM)
    assert serve.proc.returncode == 0, log
    assert [r.status for r in report.results] == [Status.SUCCEEDED, Status.SUCCEEDED]
    assert [r.polls for r in report.results] == [0, 0]  # both ends seen in the blobs
    for result in report.results:
        full = result.full_output
        assert full is not None and full.complete and full.stdout.path is not None
        kept = Path(full.stdout.path)
        assert kept.is_relative_to(tmp_path / "state" / "outputs")
        assert kept.read_text().endswith(result.output)
