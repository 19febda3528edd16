"""``fleet run`` in-process: the job file is read once, and the recipe it journals is the text
that was parsed (plus the connection), not the command line's flags."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleet.cli.main import app
from fleet.journal import Journal
from fleet.spec import Connection, Recipe, RolloutOptions, load_job_spec
from fleet.spec import load as spec_load


def test_run_reads_the_job_file_once_and_journals_that_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = tmp_path / "probe.yaml"
    job.write_text("name: probe\ntargets: {names: ['app-0*']}\nscript: {inline: uptime}\n")
    reads: list[Path] = []
    real = spec_load.read_spec_text

    def counting(path: Path) -> str:
        reads.append(Path(path))
        return real(path)

    monkeypatch.setattr(spec_load, "read_spec_text", counting)
    state = tmp_path / "state"
    args = ["run", str(job), "--sim", "--profile", "small", "--time-scale", "50", "--yes",
            "--state-dir", str(state), "--max-errors", "5"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output  # app-03: disk full
    assert reads == [job]
    with Journal.open(state, writable=False) as journal:
        (record,) = journal.runs()
        recipe = Recipe.from_json(record.recipe, record.run_id)
    assert recipe.job.text == job.read_text()
    assert recipe.job.rollout == {"max_errors": "5"}
    assert recipe.job_spec() == load_job_spec(job.resolve(), rollout=RolloutOptions(max_errors="5"))
    assert recipe.connection == Connection(
        sim=True, profile="small", time_scale=50.0, cloud="public"
    )
