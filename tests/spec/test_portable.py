"""A job that travels (``PortableJob``): its script files go with it, so a worker without the
job's directory builds the same spec; secrets stay references, read where the job is built;
a SAS token in a script URI never travels."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fleet.errors import SpecError
from fleet.model import Secret
from fleet.spec import RolloutOptions, job_from_options, load_job
from fleet.spec.flags import JobOptions
from fleet.spec.portable import PortableJob, portable

JOB = """\
name: travel
targets: {tags: {env: prod}}
script:
  linux: {file: scripts/check.sh}
  windows: {inline: "Write-Output ok"}
  protected_parameters: {TOKEN: {env: TRAVEL_TOKEN}}
  timeout: 5m
rollout:
  batches: [1, 50%]
  health_gate: {name: smoke, script: {file: gate.sh}, expect_output: OK}
"""


def write_job(directory: Path) -> Path:
    (directory / "scripts").mkdir()
    (directory / "scripts" / "check.sh").write_text("#!/bin/sh\necho checking\n")
    (directory / "gate.sh").write_text("echo OK\n")
    path = directory / "travel.yaml"
    path.write_text(JOB)
    return path


def test_a_portable_job_builds_the_same_spec_without_its_directory(tmp_path: Path) -> None:
    env = {"TRAVEL_TOKEN": "s3cret-token"}
    here = tmp_path / "here"
    here.mkdir()
    parsed = load_job(write_job(here), env=env, rollout=RolloutOptions(max_errors="2"))
    traveling = PortableJob.from_json(
        json.loads(json.dumps(portable(parsed.document, env).to_json()))
    )
    shutil.rmtree(here)  # the worker has no such directory
    assert traveling.job_spec(env) == parsed.spec
    assert set(traveling.files) == {"scripts/check.sh", "gate.sh"}
    assert "s3cret-token" not in json.dumps(traveling.to_json())  # secrets stay references
    other = traveling.job_spec({"TRAVEL_TOKEN": "rotated-value"})  # the worker's own secret
    assert other.script.protected_parameters[0].value == Secret("rotated-value")


def test_a_worker_without_the_secret_gets_a_clear_error(tmp_path: Path) -> None:
    env = {"TRAVEL_TOKEN": "s3cret-token"}
    parsed = load_job(write_job(tmp_path), env=env)
    traveling = portable(parsed.document, env)
    with pytest.raises(SpecError, match="TRAVEL_TOKEN is not set"):
        traveling.job_spec({})


def test_a_job_of_flags_travels_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fix.sh").write_text("echo fixed\n")
    opts = JobOptions.from_flags({"tag": ["env=prod"], "script_file": Path("fix.sh")})
    parsed = job_from_options(opts)
    traveling = portable(parsed.document)
    (tmp_path / "fix.sh").unlink()
    assert traveling.job_spec() == parsed.spec


def test_a_sas_token_never_travels(tmp_path: Path) -> None:
    path = tmp_path / "sas.yaml"
    uri = "https://store.blob.core.windows.net/s/x.sh?sv=2024&sig=abcdef"
    path.write_text(f"name: sas\ntargets: {{all: true}}\nscript: {{uri: '{uri}'}}\n")
    with pytest.raises(SpecError, match="SAS token") as caught:
        portable(load_job(path).document)
    assert "sig=abcdef" not in str(caught.value)
