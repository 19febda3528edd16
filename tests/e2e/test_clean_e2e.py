"""``fleet clean`` end to end: the library through the real SDK against the emulator, with ground
truth of every deletion (who created and who deleted each run command), and the CLI's contract
(dry run by default, --delete with confirmation or --yes, --all-owners, --older-than, --job,
JSON, exit codes)."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml

from fleet import api
from fleet.api.clean import CleanFilter, clean, survey
from fleet.api.prepare import select
from fleet.model import CallError, JobSpec
from fleet.ports import Backend
from fleet.sim.profile import parse_profile
from tests import simkit
from tests.e2e.harness import job, sim_backend
from tests.simkit import ROOT

RG = "rg-small"
DAY = 86400.0
EXISTING: list[dict[str, Any]] = [
    {"names": ["app-0[12]"], "count": 3, "name": "ops-{i}", "created_by": "backup-tool"},
    {"names": ["app-01"], "name": "fleet-x", "created_by": "cmdb-sync"},  # a look-alike
    {"names": ["app-01"], "owner": "fleet", "count": 2, "name": "fleet-old-{i}", "age_s": 10 * DAY},
    {"names": ["app-01"], "owner": "fleet", "name": "fleet-recent", "age_s": 3600},
    {"names": ["app-02"], "owner": "fleet", "name": "fleet-old-1", "age_s": 10 * DAY,
     "state": "Failed"},
    {"names": ["app-12"], "owner": "fleet", "name": "fleet-old-1", "age_s": 10 * DAY},
    {"names": ["vmss-small_0"], "owner": "fleet", "name": "fleet-old-1", "age_s": 10 * DAY},
]  # fmt: skip
SLOW = {"median": 900, "sigma": 0.0, "min": 900, "max": 900}


def profile_data() -> dict[str, Any]:
    """The small fleet with run commands of others and stale ones of fleet's already on app-01,
    app-02 and the deallocated app-12; app-03's scripts run for 15 minutes."""
    data = simkit.profile("small").model_dump(mode="json", exclude_unset=True)
    data["run_commands"] = {"existing": EXISTING}
    data["overrides"] = [
        {"names": ["app-12"], "power_state": "deallocated"},
        {"names": ["app-03"], "outcome": "slow"},
    ]
    data["script"]["outcomes"] = [
        {"name": "ok", "output": "ok\n"},
        {"name": "slow", "weight": 0, "output": "working\n", "duration": SLOW},
    ]
    return data


@asynccontextmanager
async def in_flight(spec: JobSpec, backend: Backend) -> AsyncIterator[None]:
    """A run of ``spec`` (one target) whose run command is in flight while the block runs."""
    async with anyio.create_task_group() as tg:
        tg.start_soon(functools.partial(api.run_async, spec, backend))
        (target,) = await select(spec, backend)
        with anyio.fail_after(30):
            read = functools.partial(backend.run_commands.get, target, f"fleet-{spec.name}")
            while isinstance(await read(), CallError):  # noqa: ASYNC110 (polling an HTTP API)
                await anyio.sleep(0.05)
        yield
        tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_clean_deletes_only_fleets_finished_run_commands() -> None:
    estate = parse_profile(profile_data(), source="clean-estate")
    slow = job("slow", names=("app-03",), timeout_s=3600)
    async with sim_backend(estate, 50.0) as (emu, backend), in_flight(slow, backend):
        targets = await select(job("any", names=("app-0[1-3]", "app-12", "vmss-small_0")), backend)
        plan = await survey(backend, targets, CleanFilter())
        chosen = sorted((r.target.name, r.item.name) for r in plan.chosen)
        done = await clean(backend, plan)
        truth = await simkit.ground_truth(emu, "runcommands")
    assert chosen == [
        ("app-01", "fleet-old-1"), ("app-01", "fleet-old-2"), ("app-01", "fleet-recent"),
        ("app-02", "fleet-old-1"), ("vmss-small_0", "fleet-old-1"),  # a Uniform instance
    ]  # fmt: skip
    why = {(r.target.name, r.item.name): r.why for r in plan.rows if r.item}
    assert why[("app-01", "fleet-x")] == "not fleet's: left alone"
    assert why[("app-01", "ops-1")] == "not fleet's: left alone"
    assert why[("app-03", "fleet-slow")].startswith("still ")  # Pending or Running: in flight
    assert "VM deallocated" in why[("app-12", "fleet-old-1")]
    assert sorted((r.target.name, r.item.name) for r in done.rows if r.deleted) == chosen
    deleted = truth["deleted"]
    assert len(deleted) == 5 and all(d["fleet_marked"] for d in deleted)
    assert not any(d["created_by"] in ("backup-tool", "cmdb-sync") for d in deleted)
    left = {(r["target"].rsplit("/", 1)[1], r["name"]) for r in truth["run_commands"]}
    assert ("app-01", "fleet-x") in left and ("app-03", "fleet-slow") in left
    assert ("app-12", "fleet-old-1") in left


# -- the CLI -----------------------------------------------------------------------------------


def fleet(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "FLEET_ACCESS_TOKEN"}
    env.update({"COLUMNS": "200", "PYTHONPATH": str(ROOT)})
    return subprocess.run(
        [sys.executable, "-m", "fleet.cli.main", *args], cwd=cwd, capture_output=True,
        text=True, timeout=120, env=env, stdin=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.fixture
def profile_file(tmp_path: Path) -> Path:
    path = tmp_path / "estate.yaml"
    path.write_text(yaml.safe_dump(profile_data()), encoding="utf-8")
    return path


def clean_json(profile: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    proc = fleet(
        "clean", "--sim", "--profile", str(profile), "--time-scale", "50", "-n", "app-0[12]",
        "-o", "json", *args, cwd=profile.parent,
    )  # fmt: skip
    out = json.loads(proc.stdout) if proc.stdout.strip() else {}
    return proc.returncode, out, proc.stderr


def rows(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["name"], r["run_command"]): r for r in doc["run_commands"]}


def test_cli_dry_run_lists_and_deletes_nothing(profile_file: Path) -> None:
    code, doc, err = clean_json(profile_file)
    assert code == 0, err
    assert doc["dry_run"] is True and doc["summary"]["deleted"] == 0
    assert doc["summary"] == {
        "targets": 2, "run_commands": 11, "fleets": 4, "others": 7, "chosen": 4, "deleted": 0,
        "failed": 0,
    }  # fmt: skip
    found = rows(doc)
    assert ("app-01", "ops-1") not in found  # others' are not listed without --all-owners
    assert (
        found[("app-01", "fleet-old-1")]["chosen"] and found[("app-01", "fleet-recent")]["chosen"]
    )


def test_cli_all_owners_lists_the_others_as_left_alone(profile_file: Path) -> None:
    code, doc, _ = clean_json(profile_file, "--all-owners")
    found = rows(doc)
    assert code == 0 and len(found) == 11
    for key in (("app-01", "ops-1"), ("app-01", "fleet-x"), ("app-02", "ops-3")):
        assert found[key]["fleets"] is False and found[key]["chosen"] is False
        assert found[key]["why"] == "not fleet's: left alone"


def test_cli_delete_needs_confirmation_and_then_deletes_only_the_chosen(profile_file: Path) -> None:
    code, doc, err = clean_json(profile_file, "--delete")
    assert code == 2 and "pass --yes" in err and doc == {}  # no terminal: refused, nothing done
    code, doc, err = clean_json(
        profile_file, "--delete", "--yes", "--older-than", "7d", "--all-owners"
    )
    assert code == 0, err
    found = rows(doc)
    deleted = sorted(key for key, r in found.items() if r["deleted"])
    assert deleted == [
        ("app-01", "fleet-old-1"),
        ("app-01", "fleet-old-2"),
        ("app-02", "fleet-old-1"),
    ]
    assert "not older than 7d" in found[("app-01", "fleet-recent")]["why"]
    assert not any(r["deleted"] for r in found.values() if not r["fleets"])
    assert doc["dry_run"] is False and doc["summary"]["deleted"] == 3


def test_cli_job_filter_and_bad_input(profile_file: Path) -> None:
    code, doc, _ = clean_json(profile_file, "--job", "recent")
    assert code == 0 and [k for k, r in rows(doc).items() if r["chosen"]] == [
        ("app-01", "fleet-recent")
    ]
    code, _, err = clean_json(profile_file, "--older-than", "a week")
    assert code == 2 and "--older-than" in err and "Traceback" not in err
