"""``mode: managed | action`` in job files and ``--mode``: the mode reaches the JobSpec, and in
action mode what an action run command cannot carry (a script URI, protected parameters, a
run-as user, more than 90 minutes) is refused with file, line and field — for the job's
script and for every health gate's — before anything is sent."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from fleet.errors import SpecError
from fleet.model import Mode
from fleet.spec import JobOptions, job_spec_from_options, load_job_spec
from fleet.spec.output import OutputOptions


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "job.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def test_the_mode_defaults_to_managed_and_action_is_read(tmp_path: Path) -> None:
    plain = write(tmp_path, "name: t\ntargets: {all: true}\nscript: {inline: echo}\n")
    assert load_job_spec(plain).mode is Mode.MANAGED
    action = write(tmp_path, "name: t\nmode: Action\ntargets: {all: true}\nscript: {inline: x}\n")
    assert load_job_spec(action).mode is Mode.ACTION


def test_an_unknown_mode_says_which_ones_exist(tmp_path: Path) -> None:
    path = write(tmp_path, "name: t\nmode: invoke\ntargets: {all: true}\nscript: {inline: x}\n")
    with pytest.raises(SpecError) as info:
        load_job_spec(path)
    assert "job.yaml:2: mode: 'invoke' is not a mode — (one of: managed, action)" in str(info.value)


def test_action_mode_refuses_what_an_action_run_command_cannot_carry(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        name: t
        mode: action
        targets: {all: true}
        script:
          inline: echo
          windows: {uri: "https://example.com/x.ps1"}
          protected_parameters: {TOKEN: {env: TOKEN_VAR}}
          run_as: {user: deploy}
          timeout: 2h
        rollout:
          health_gate: {script: {uri: "https://example.com/check.sh"}}
          cleanup: always
        """,
    )
    with pytest.raises(SpecError) as info:
        load_job_spec(path, env={"TOKEN_VAR": "secret-value"})
    text = str(info.value)
    assert info.value.exit_code == 2
    for where in (
        "job.yaml:6: script.windows.uri: an action run command",
        "job.yaml:7: script.protected_parameters: an action run command",
        "job.yaml:8: script.run_as: an action run command",
        "job.yaml:9: script.timeout: 7200 s is longer than an action run command may run",
        "job.yaml:11: rollout.health_gate.script.uri: an action run command",
        "job.yaml:12: rollout.cleanup: an action run command (mode: action) leaves no run",
    ):
        assert where in text, text
    assert "secret-value" not in text


def test_the_same_job_is_fine_in_managed_mode(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        name: t
        targets: {all: true}
        script: {inline: echo, run_as: {user: deploy}, timeout: 2h}
        """,
    )
    assert load_job_spec(path).mode is Mode.MANAGED


def test_the_mode_flag() -> None:
    spec = job_spec_from_options(JobOptions(all_targets=True, script="x", mode="action"), env={})
    assert spec.mode is Mode.ACTION
    with pytest.raises(SpecError, match="--mode: 'fast' is not a mode"):
        job_spec_from_options(JobOptions(all_targets=True, script="x", mode="fast"), env={})
    with pytest.raises(SpecError, match="--script-uri: an action run command"):
        job_spec_from_options(
            JobOptions(all_targets=True, script_uri="https://h/x.sh", mode="action"), env={}
        )


def test_action_mode_refuses_output_storage_in_a_job_file_and_from_the_flags(
    tmp_path: Path,
) -> None:
    """An action run command's input is commandId, script and parameters only (spec
    ``RunCommandInput``, compute 2025-04-01 runCommand.json); ``outputBlobUri``/``errorBlobUri``
    are properties of a managed run command (``VirtualMachineRunCommandProperties``)."""
    path = write(
        tmp_path,
        """
        name: t
        mode: action
        targets: {all: true}
        script: {inline: echo}
        output:
          storage: {account_url: "https://acct.blob.core.windows.net", container: out}
        """,
    )
    with pytest.raises(SpecError) as info:
        load_job_spec(path)
    assert info.value.exit_code == 2
    assert "job.yaml:5: output: an action run command (mode: action)" in str(info.value)
    assert "use mode: managed" in str(info.value)
    container = OutputOptions("https://acct.blob.core.windows.net/out", "storage")
    options = JobOptions(all_targets=True, script="x", mode="action", output=container)
    with pytest.raises(SpecError, match="--output-container: an action run command") as flags:
        job_spec_from_options(options, env={})
    assert flags.value.exit_code == 2
    managed = JobOptions(all_targets=True, script="x", output=container)
    assert job_spec_from_options(managed, env={}).output is not None  # fine in managed mode
