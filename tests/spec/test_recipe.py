"""The recipe a run records: built from the job document that was parsed (a job file's text,
or the data the flags became), typed and versioned, and it rebuilds an equal spec; version-1
recipes (the CLI's flags) still rebuild; a recipe a secret was scrubbed out of is refused."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from fleet.errors import SpecError
from fleet.spec import Connection, JobOptions, Recipe, RolloutOptions, job_from_flags, load_job
from fleet.spec.flags import options_to_data

ROOT = Path(__file__).resolve().parents[2]
PATCH = ROOT / "configs" / "jobs" / "patch.yaml"


def round_trip(recipe: Recipe) -> Recipe:
    return Recipe.from_json(json.loads(json.dumps(recipe.to_json())), "run-1")


def test_a_file_recipe_is_the_text_that_was_parsed_and_rebuilds_the_spec() -> None:
    parsed = load_job(PATCH, rollout=RolloutOptions(batches="1,50%", max_errors="2"))
    assert parsed.document.text == PATCH.read_text()
    assert parsed.document.rollout == {"batches": ["1", "50%"], "max_errors": "2"}
    assert parsed.document.base_dir == str(PATCH.parent)
    recipe = round_trip(Recipe(parsed.document, Connection(subscriptions=("s1",))))
    assert recipe.to_json()["version"] == 2
    assert recipe.job == parsed.document
    rebuilt = recipe.job_spec()
    assert rebuilt == parsed.spec
    assert rebuilt.rollout.max_errors is not None and str(rebuilt.rollout.max_errors) == "2"


def test_a_flags_recipe_is_the_data_the_flags_became(tmp_path: Path) -> None:
    script = tmp_path / "fix.sh"
    script.write_text("echo fixed\n")
    flags = {
        "tag": ["env=prod", "role=web,api"],
        "script_file": Path(os.path.relpath(script)),
        "timeout": "90s",
        "batches": "1,25%",
        "job_name": "fix",
    }
    parsed = job_from_flags(flags)
    data, problems = options_to_data(JobOptions.from_flags(flags))
    assert not problems and parsed.document.data == data and parsed.document.text is None
    recipe = round_trip(Recipe(parsed.document))
    assert recipe.job_spec() == parsed.spec


def test_version_1_recipes_still_rebuild_the_same_spec(tmp_path: Path) -> None:
    file_flags = {"spec": str(PATCH), "max_errors": "3", "sim": True, "profile": "/p.yaml"}
    v1_file = {"version": 1, "flags": file_flags, "spec_text": PATCH.read_text(), "cwd": "/x"}
    recipe = Recipe.from_json(v1_file, "old-1")
    assert recipe.job_spec() == load_job(PATCH, rollout=RolloutOptions(max_errors="3")).spec
    assert recipe.connection.sim and recipe.connection.profile == "/p.yaml"
    flag_flags = {"target_name": ["web-*"], "script": "uptime", "job_name": "up"}
    v1_flags = {"version": 1, "flags": flag_flags, "spec_text": None, "cwd": str(tmp_path)}
    assert Recipe.from_json(v1_flags, "old-2").job_spec() == job_from_flags(flag_flags).spec


@pytest.mark.parametrize(
    "raw",
    [None, {}, {"version": 99, "job": {}}, {"flags": {"script": "x"}}],
)
def test_a_missing_or_unknown_recipe_is_a_clear_error(raw: dict[str, object] | None) -> None:
    with pytest.raises(SpecError, match="no recorded job this fleet can read"):
        Recipe.from_json(raw, "run-9")


def test_a_recipe_with_a_scrubbed_secret_is_refused() -> None:
    flags = {"target_name": ["web-*"], "script_uri": "https://h.example/s.sh?***"}
    parsed_data, _ = options_to_data(JobOptions.from_flags(flags))
    raw = Recipe(job_from_flags({"target_name": ["web-*"], "script": "x"}).document).to_json()
    raw["job"]["data"] = parsed_data
    with pytest.raises(SpecError, match="secret in its job"):
        Recipe.from_json(raw, "run-3")


def test_connection_overrides_on_resume() -> None:
    sim = Connection(sim=True, profile="/p.yaml", time_scale=20, subscriptions=("a",))
    assert sim.overridden({"subscription": ["b"]}) == Connection(
        sim=True, profile="/p.yaml", time_scale=20, subscriptions=("b",)
    )
    azure = sim.overridden({"arm_endpoint": "https://127.0.0.1:1"})
    assert not azure.sim and azure.arm_endpoint == "https://127.0.0.1:1" and azure.profile is None
    assert Connection.from_json(json.loads(json.dumps(azure.to_json()))) == azure
