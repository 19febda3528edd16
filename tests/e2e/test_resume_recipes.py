"""The recipe a run journals is the job as it was parsed — a job file's text, or the data the
flags became — and ``fleet resume`` rebuilds the run from it: a flags run and a file run killed
mid-flight both finish with every target executed exactly once; a journal written by the
first fleet (version-1 recipes: the command line's flags) still resumes."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
from pathlib import Path
from typing import Any

from fleet.journal import Journal
from fleet.journal.paths import db_path
from fleet.spec import Recipe, load_job_spec
from tests.e2e import killkit
from tests.simkit import ROOT

ECHO = 'echo "checking $(hostname)"'


def recipe_json(state: Path, run_id: str) -> dict[str, Any]:
    with Journal.open(state, writable=False) as journal:
        recipe = journal.run(run_id).recipe
    assert recipe is not None
    return dict(recipe)


def killed(emu: killkit.Served, job: Path | list[str], state: Path, name: str) -> str:
    """Run ``job`` until the failpoint kills it after the 5th intent; its run id."""
    env = killkit.fleet_env(state, "after-intent:5")
    proc = killkit.start_run(emu, job, env)
    _, stderr = proc.communicate(timeout=240)
    assert proc.returncode == -signal.SIGKILL, stderr
    return killkit.run_id_of(name, killkit.fleet_env(state))


def resumed(emu: killkit.Served, state: Path, run_id: str, name: str) -> dict[str, Any]:
    report = state.parent / f"{name}.json"
    done = killkit.resume(run_id, killkit.fleet_env(state), report)
    assert done.returncode in (0, 1), done.stderr
    document = json.loads(report.read_text())
    assert document["ended"] == "completed" and len(document["targets"]) == 20
    killkit.assert_exactly_once(emu, document, name, state)
    return document


def test_a_flags_run_records_its_job_data_and_resumes(emulator, tmp_path: Path) -> None:
    state, name = tmp_path / "state", "flags-resume"
    flags = ["--all", "--script", ECHO, "--timeout", "300", "--job-name", name]
    run_id = killed(emulator, flags, state, name)
    recipe = recipe_json(state, run_id)
    assert recipe["version"] == 2 and recipe["job"]["text"] is None
    data = recipe["job"]["data"]
    assert data["name"] == name and data["targets"]["all"] is True
    assert data["script"] == {"linux": {"inline": ECHO}, "timeout": "300", "parameters": {},
                              "protected_parameters": {}}  # fmt: skip  # --script: Linux
    assert recipe["connection"]["arm_endpoint"] == emulator.endpoint
    resumed(emulator, state, run_id, name)


def test_a_file_run_records_the_text_that_was_parsed_and_resumes(emulator, tmp_path: Path) -> None:
    state, name = tmp_path / "state", "file-resume"
    spec_file = killkit.job_file(tmp_path, name)
    run_id = killed(emulator, spec_file, state, name)
    recipe = Recipe.from_json(recipe_json(state, run_id), run_id)
    assert recipe.job.text == spec_file.read_text()
    assert recipe.job_spec() == load_job_spec(spec_file.resolve())
    spec_file.write_text("name: changed-later\n")  # resume uses the recorded text, not the file
    resumed(emulator, state, run_id, name)


def test_a_version_1_recipe_still_resumes(emulator, tmp_path: Path) -> None:
    state, name = tmp_path / "state", "old-recipe"
    spec_file = killkit.job_file(tmp_path, name)
    run_id = killed(emulator, spec_file, state, name)
    flags = {  # what the first fleet recorded: fleet run's parameters, paths absolute
        "spec": str(spec_file.resolve()), "no_scale_sets": False, "all_targets": False,
        "count_platform_failures": False, "cancel_running": False, "sim": False,
        "profile": str(ROOT / "configs/sim/demo.yaml"), "time_scale": 20.0,
        "subscription": [emulator.subscription], "cloud": "public",
        "arm_endpoint": emulator.endpoint, "ca_cert": emulator.ca_cert,
    }  # fmt: skip
    v1 = {"version": 1, "flags": flags, "spec_text": spec_file.read_text(), "cwd": os.getcwd()}
    with sqlite3.connect(db_path(state)) as conn:
        conn.execute("UPDATE runs SET recipe_json = ? WHERE run_id = ?", (json.dumps(v1), run_id))
    resumed(emulator, state, run_id, name)
