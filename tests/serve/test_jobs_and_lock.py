"""The jobs fleet serve schedules (every problem at once) and its one-service-per-state-dir
lock."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.errors import ServiceLocked, SpecError
from fleet.serve.jobs import load_jobs
from fleet.serve.lock import service_lock

JOB = """\
name: {name}
targets: {{tags: {{env: prod}}}}
script: {{inline: "true"}}
{extra}
"""


def write(directory: Path, file: str, name: str, extra: str = "schedule: {every: 1m}") -> None:
    (directory / file).write_text(JOB.format(name=name, extra=extra))


def test_scheduled_jobs_load_sorted_by_file(tmp_path: Path) -> None:
    write(tmp_path, "b.yaml", "beta")
    write(tmp_path, "a.yml", "alpha", "schedule: {cron: '0 * * * *'}")
    (tmp_path / "notes.txt").write_text("not a job")
    jobs = load_jobs(tmp_path)
    assert [j.name for j in jobs] == ["alpha", "beta"]
    assert jobs[0].schedule.cron == "0 * * * *" and jobs[1].scheduled().schedule.every_s == 60


def test_every_problem_of_every_file_at_once(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "alpha", "")
    write(tmp_path, "b.yaml", "beta", "schedule: {every: soon}")
    write(tmp_path, "c.yaml", "gamma")
    write(tmp_path, "d.yaml", "gamma")
    with pytest.raises(SpecError) as info:
        load_jobs(tmp_path)
    lines = str(info.value).splitlines()
    no_schedule = (
        ": no schedule: section — fleet serve runs scheduled jobs only "
        "(add e.g. schedule: {every: 15m}, or move the file out of --jobs)"
    )
    assert lines[0] == f"{tmp_path / 'a.yaml'}{no_schedule}"
    assert lines[1].startswith(f"{tmp_path / 'b.yaml'}:4: schedule.every: 'soon' is not a duration")
    assert (
        lines[2] == f"{tmp_path / 'd.yaml'}: job name 'gamma' is also used by {tmp_path / 'c.yaml'}"
    )
    assert info.value.exit_code == 2


def test_no_jobs_or_no_directory(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="no job files"):
        load_jobs(tmp_path)
    with pytest.raises(SpecError, match="not a directory"):
        load_jobs(tmp_path / "missing")


def test_one_service_per_state_directory(tmp_path: Path) -> None:
    with service_lock(tmp_path, "http://127.0.0.1:8080"):
        with pytest.raises(ServiceLocked) as info, service_lock(tmp_path, "http://127.0.0.1:9"):
            pass
        message = str(info.value)
        assert "fleet serve is already running on the state directory" in message
        assert "listening on http://127.0.0.1:8080" in message and info.value.exit_code == 3
    with service_lock(tmp_path, "http://127.0.0.1:9"):  # released when the holder ends
        pass
