"""The built-in command catalog: ``fleet commands`` lists a location's commands (table, JSON,
TSV; --os) from the emulator over the real SDK, and a job's ``command_id`` is checked against
the catalog of the selected targets' locations at plan time — an unknown id or one of the
other OS is refused (exit code 2) before anything is written to Azure; the plan of an action run
says what action mode cannot do."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from fleet import api
from fleet.errors import SpecError
from fleet.model import Mode, ScriptSource, ScriptSpec, SourceKind
from tests import simkit
from tests.e2e import killkit
from tests.e2e.harness import job, sim_backend
from tests.e2e.test_cli_run import fleet

SCALE = 40.0


def test_fleet_commands_lists_a_locations_catalog() -> None:
    listed = fleet("commands", "--sim", "--location", "eastus", "--output", "json")
    assert listed.returncode == 0, listed.stderr
    commands = json.loads(listed.stdout)
    by_id = {c["id"]: c for c in commands}
    assert by_id["RunShellScript"]["os"] == "linux" and by_id["IPConfig"]["os"] == "windows"
    assert by_id["ifconfig"]["label"] == "List network configuration"
    windows = fleet("commands", "--sim", "-l", "eastus", "--os", "windows", "-o", "tsv")
    rows = [line.split("\t") for line in windows.stdout.splitlines()]
    assert rows and all(len(row) == 4 and row[1] == "windows" for row in rows)
    assert "RunPowerShellScript" in {row[0] for row in rows}
    table = fleet("commands", "--sim", "-l", "eastus")
    assert "built-in run commands in eastus" in table.stdout and "RunShellScript" in table.stdout


def test_fleet_commands_against_a_custom_endpoint_reads_the_catalog_and_nothing_else(
    tmp_path: Path,
) -> None:
    """``--arm-endpoint`` + ``--ca-cert`` + ``FLEET_ACCESS_TOKEN``: a served emulator, whose
    request counts show that listing the catalog reads it and writes nothing."""
    with killkit.served(profile="small", time_scale=40) as emu:
        connect = ["--arm-endpoint", emu.endpoint, "--ca-cert", emu.ca_cert]
        connect += ["--subscription", emu.subscription]
        env = killkit.fleet_env(tmp_path / "state")
        listed = fleet("commands", "-l", "westeurope", "-o", "json", *connect, env=env)
        stats = emu.truth("stats")
    assert listed.returncode == 0, listed.stderr
    ids = {c["id"] for c in json.loads(listed.stdout)}
    assert {"RunShellScript", "RunPowerShellScript", "ifconfig", "IPConfig"} <= ids
    assert set(stats["requests"]) == {"RunCommandCatalog_List"}, stats["requests"]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--location", "mars"), "NoRegisteredProviderFound"),
        (("--location", "eastus", "--os", "beos"), "--os must be linux or windows"),
        (("--location", "eastus", "-o", "xml"), "--output must be table, json or tsv"),
    ],
)
def test_fleet_commands_refuses_bad_input_with_exit_code_2(
    args: tuple[str, ...], words: str
) -> None:
    done = fleet("commands", "--sim", *args)
    assert done.returncode == 2 and words in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unknown_command_id_is_refused_by_fleet_run_before_anything_is_sent() -> None:
    done = fleet("run", "--sim", "-t", "env=prod", "--command-id", "RunShelScript", "--yes")
    assert done.returncode == 2, done.stderr
    assert "'RunShelScript' is not a built-in run command in" in done.stderr
    assert "did you mean 'RunShellScript'?" in done.stderr
    assert "fleet commands --location" in done.stderr


@pytest.mark.anyio
async def test_command_ids_are_checked_where_the_targets_are_and_nothing_is_written() -> None:
    profile = simkit.profile("demo", faults={})
    mixed = job("builtin", names=("db-0[1-4]", "app-win-0*"))
    linux_only = dataclasses.replace(
        mixed, script=ScriptSpec(ScriptSource(SourceKind.COMMAND_ID, "ifconfig"))
    )
    typo = dataclasses.replace(
        mixed,
        script=ScriptSpec(None, linux=ScriptSource(SourceKind.COMMAND_ID, "RunShelScript"),
                          windows=ScriptSource(SourceKind.COMMAND_ID, "IPConfig")),
        mode=Mode.ACTION,
    )  # fmt: skip
    async with sim_backend(profile, SCALE) as (emu, backend):
        with pytest.raises(SpecError) as wrong_os:
            await api.prepare(linux_only, backend)
        with pytest.raises(SpecError) as unknown:
            await api.prepare(typo, backend)
        fine = await api.prepare(
            dataclasses.replace(
                typo,
                script=dataclasses.replace(
                    typo.script, linux=ScriptSource(SourceKind.COMMAND_ID, "runshellscript")
                ),
            ),
            backend,
        )
        stats = await simkit.ground_truth(emu)
    assert "ifconfig is a Linux command, but" in str(wrong_os.value)
    assert "run Windows (app-win-01" in str(wrong_os.value)
    assert "'RunShelScript' is not a built-in run command in" in str(unknown.value)
    assert "did you mean 'RunShellScript'?" in str(unknown.value)
    assert "IPConfig" not in str(unknown.value)  # the Windows one is known there
    assert fine.targets  # ARM matches ids case-insensitively
    assert stats["requests"].get("RunCommandCatalog_List", 0) >= 3
    writes = {
        k: v for k, v in stats["requests"].items() if "RunCommand" in k and "Catalog" not in k
    }
    assert not writes  # nothing sent


def test_the_plan_of_an_action_run_says_what_action_mode_cannot_do() -> None:
    args = ("--sim", "--profile", "small", "--target-name", "app-0*", "--script", "uptime")
    action = fleet("plan", *args, "--mode", "action")
    managed = fleet("plan", *args)
    assert action.returncode == 0 == managed.returncode, action.stderr + managed.stderr
    shown = " ".join(action.stdout.split())  # the title may wrap
    assert "mode action (one command at a time per VM; a running one cannot be stopped)" in shown
    assert "mode action" not in " ".join(managed.stdout.split())
