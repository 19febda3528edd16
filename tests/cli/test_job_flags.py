"""What the CLI decides about a job before anything runs (issue #10), through the real command:
a selection that matches nothing is an error unless ``--allow-empty``; a shell script given with
flags never goes to Windows targets (they are Skipped with a warning, and a selection of only
Windows targets is refused until ``--windows-script``); secret-looking ``--param`` names get a
warning; ``--script-file`` works; ``plan`` and ``targets`` take the script flags; a job file
takes ``-c`` and the other overrides that make sense, and refuses the rest; the emulator's
output follows the script that was sent."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from fleet.spec import job_from_flags
from tests.cli.clikit import assert_short_failure, clean_env, fleet, served
from tests.simkit import ROOT

SIM = ["--sim", "--time-scale", "100"]
SMALL = [*SIM, "--profile", "small"]


def test_a_selection_that_matches_nothing_fails_unless_allowed() -> None:
    typo = ["-t", "env==prod", "--script", "uptime"]  # a typo: no tag value "=prod"
    for command in (["run", *SIM, *typo, "--yes"], ["plan", *SIM, *typo], ["targets", *SIM, *typo]):
        proc = fleet(*command)
        assert_short_failure(proc, 2, "no VM or scale-set instance matches", "--allow-empty")
        assert "run id:" not in proc.stderr
    allowed = fleet("run", *SIM, *typo, "--yes", "--allow-empty", "-o", "json")
    assert allowed.returncode == 0, allowed.stderr
    assert json.loads(allowed.stdout)["summary"] == {"total": 0}


def test_an_exclusion_that_matches_no_selected_target_is_refused_before_anything_is_sent(
    tmp_path: Path,
) -> None:
    """--exclude-name app-9 (a typo for app-09) used to exclude nothing and run everywhere,
    while resume/rerun --exclude refuse an unknown name. run, plan, targets and clean refuse it
    now (exit 2, the unmatched globs named); the emulator's ground truth shows no write. A
    glob that does match still leaves its targets out; an empty selection stays
    --allow-empty's business."""
    with served(time_scale=100) as emu:
        env = clean_env(FLEET_ACCESS_TOKEN="fleet-sim-token", FLEET_STATE_DIR=str(tmp_path))
        sel = [*emu.args(), "-n", "app-0*", "--exclude-name", "app-0[12]"]
        typo = [*sel, "--exclude-name", "app-9", "--exclude-name", "db-*"]
        for command in (["run", *typo, "--script", "uptime", "--yes"], ["plan", *typo],
                        ["targets", *typo], ["clean", *typo, "--yes"]):  # fmt: skip
            refused = fleet(*command, env=env)
            assert_short_failure(refused, 2, "'app-9', 'db-*' matches none of the 9 targets")
            assert "'app-0[12]'" not in refused.stderr and "nothing was sent" in refused.stderr
        stats, executions = emu.truth("stats"), emu.truth("executions")
        listed = fleet("targets", *sel, "-o", "json", env=env)
        empty = ["-n", "nope-*", "--exclude-name", "app-9", "--allow-empty"]
        allowed = fleet("plan", *emu.args(), *empty, "-o", "json", env=env)
    assert stats["kinds"].get("writes", 0) == stats["kinds"].get("deletes", 0) == 0
    assert executions["executions"] == []
    assert listed.returncode == 0, listed.stderr
    assert [t["name"] for t in json.loads(listed.stdout)] == [f"app-0{i}" for i in range(3, 10)]
    assert allowed.returncode == 0 and json.loads(allowed.stdout)["targets"] == []


def test_a_job_files_exclusion_that_matches_nothing_is_refused_too(tmp_path: Path) -> None:
    job = tmp_path / "job.yaml"
    job.write_text(
        "name: j\ntargets: {names: ['app-0*'], exclude: {names: [app-9]}}\n"
        "script: {inline: uptime}\n"
    )
    refused = fleet("plan", str(job), *SMALL)
    assert_short_failure(refused, 2, "job.yaml", "'app-9' matches none of the 9 targets")


def test_a_shell_script_from_flags_never_reaches_windows_targets() -> None:
    plan = fleet("plan", *SIM, "-t", "env=prod", "--script", "uptime", "-o", "json")
    assert plan.returncode == 0, plan.stderr
    targets = json.loads(plan.stdout)["targets"]
    windows = [t for t in targets if t["os"] == "windows"]
    assert windows and all(t["skipped"] and "no script for OS windows" in t["reason"]
                           for t in windows)  # fmt: skip
    assert all(not t["skipped"] for t in targets if t["os"] == "linux" and t["power_state"]
               == "running")  # fmt: skip
    assert f"{len(windows)} selected targets run Windows" in plan.stderr
    assert "--windows-script" in plan.stderr


def test_only_windows_targets_and_a_shell_script_is_refused_until_a_windows_script() -> None:
    only_windows = ["-n", "app-win-*", "--script", "uptime"]
    refused = fleet("run", *SIM, *only_windows, "--yes")
    assert_short_failure(refused, 2, "nothing to run", "--windows-script")
    both = fleet("run", *SIM, *only_windows, "--windows-script", "Get-Date", "--yes", "-o", "json")
    assert both.returncode in (0, 1), both.stderr
    report = json.loads(both.stdout)
    assert report["targets"] and all(t["os"] == "windows" for t in report["targets"])
    assert "Skipped" not in report["summary"]
    assert set(report["script"]) == {"linux", "windows"}


def test_secret_looking_parameters_get_a_warning_pointing_to_protected_param() -> None:
    proc = fleet("plan", *SMALL, "-n", "app-01", "--script", "echo", "--param", "DB_PASSWORD=x",
                 "--param", "LOG_DIR=/tmp")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "--param DB_PASSWORD looks like a secret" in proc.stderr
    assert "--protected-param DB_PASSWORD=env:VAR" in proc.stderr
    assert "LOG_DIR" not in proc.stderr


def test_script_file_runs_and_the_report_names_it_by_sha256(tmp_path: Path) -> None:
    script = tmp_path / "check.sh"
    script.write_text("#!/bin/sh\nuptime\n")
    proc = fleet("run", *SMALL, "-n", "app-0[12]", "--script-file", str(script), "--yes",
                 "-o", "json", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    digest = hashlib.sha256(script.read_bytes()).hexdigest()
    assert report["script"] == {"linux": {"kind": "script", "sha256": digest}}
    assert report["simulated"] is True and report["schema_version"] == 3
    assert all(t["os"] == "linux" and t["status"] == "Succeeded" for t in report["targets"])


def test_plan_and_targets_take_the_script_flags_run_takes() -> None:
    flags = ["-n", "app-0*", "--script", "uptime", "--timeout", "5m", "--param", "A=1",
             "--success-exit-codes", "0,100", "-c", "3"]  # fmt: skip
    assert fleet("targets", *SMALL, *flags).returncode == 0
    plan = fleet("plan", *SMALL, *flags)
    assert plan.returncode == 0, plan.stderr
    assert "max concurrency 3" in plan.stdout


def test_a_job_file_takes_overrides_and_refuses_job_flags(tmp_path: Path) -> None:
    job = ROOT / "configs/jobs/rolling-patch.yaml"
    parsed = job_from_flags({"spec": job, "max_concurrency": "3", "timeout": "20m",
                             "exclude_name": ["web-005"], "pause": "30s"})  # fmt: skip
    spec = parsed.spec
    assert spec.concurrency.count == 3 and spec.script.timeout_s == 1200
    assert spec.selector.exclude_names == ("web-005",) and spec.rollout.pause_s == 30
    assert spec.script.success_exit_codes == (0, 100)  # from the file
    plan = fleet("plan", str(job), *SIM, "-c", "3", "--exclude-name", "web-005", "-o", "json")
    assert plan.returncode == 0, plan.stderr
    names = {t["name"] for t in json.loads(plan.stdout)["targets"]}
    assert "web-005" not in names and "web-006" in names
    refused = fleet("plan", str(job), *SIM, "--tag", "env=dev")
    assert_short_failure(refused, 2, "not both", "--tag", "--max-concurrency")
    bad = fleet("plan", str(job), *SIM, "-c", "lots")
    assert_short_failure(bad, 2, "--max-concurrency")


def test_the_simulated_output_follows_the_script() -> None:
    generic = fleet("run", *SMALL, "-n", "app-0[12]", "--script", "uptime", "--yes", "-o", "json")
    outputs = [t["output"] for t in json.loads(generic.stdout)["targets"]]
    assert all("[simulated]" in o and "script: uptime" in o for o in outputs), outputs
    assert not any("health check" in o for o in outputs)
    patch = fleet("run", "configs/jobs/patch.yaml", *SIM, "--yes", "-o", "json")
    report = json.loads(patch.stdout)
    patched = [t for t in report["targets"] if t["status"] == "Succeeded"]
    assert patched and all("patched;" in t["output"] for t in patched)
    reboot = [t for t in patched if t["exit_code"] == 100]
    assert reboot and all("REBOOT REQUIRED" in t["output"] for t in reboot)
    # the job reboots those (reboot: if-required, exit code 100): each back before it is done
    assert all(t["reboot"]["outcome"] == "done" for t in reboot)
    asked = [t for t in report["targets"] if t["exit_code"] == 100]
    assert report["reboots"]["requested"] == len(asked) >= len(reboot)
    assert all(t["reboot"] is None for t in report["targets"] if t["exit_code"] != 100)


def test_the_job_files_say_how_to_try_them_on_the_simulated_fleet() -> None:
    for job in sorted((ROOT / "configs/jobs").glob("*.yaml")):
        comments = [line for line in job.read_text().splitlines() if line.startswith("#")]
        assert any("--sim" in line for line in comments), job.name
