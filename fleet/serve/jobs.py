"""The jobs ``fleet serve`` schedules: every ``*.yaml`` / ``*.yml`` file of ``--jobs DIR``,
read once at start. Each must be a valid job with a ``schedule:`` section, and names must be
unique; every problem of every file is reported at once (exit code 2, nothing runs).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fleet.errors import SpecError
from fleet.model import JobSpec, Schedule
from fleet.schedule import ScheduledJob
from fleet.spec import ParsedJob, load_job


@dataclass(frozen=True)
class ServedJob:
    """A scheduled job: the parsed file (spec and document, the run's recipe) and its path."""

    parsed: ParsedJob
    path: Path

    @property
    def name(self) -> str:
        return self.parsed.spec.name

    @property
    def spec(self) -> JobSpec:
        return self.parsed.spec

    @property
    def schedule(self) -> Schedule:
        assert self.parsed.spec.schedule is not None  # load_jobs keeps scheduled jobs only
        return self.parsed.spec.schedule

    def scheduled(self) -> ScheduledJob:
        return ScheduledJob(self.name, self.schedule)


def job_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        message = f"--jobs {directory}: not a directory. Give the directory of your job files."
        raise SpecError(message)
    files = sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    if not files:
        message = (
            f"--jobs {directory}: no job files (*.yaml) there. Each job file needs a "
            "schedule: section (see the README, 'Scheduled checks')."
        )
        raise SpecError(message)
    return files


def load_jobs(directory: Path) -> list[ServedJob]:
    """Every job of ``directory`` (sorted by file name); ``SpecError`` lists every problem."""
    jobs, problems = [], []
    for path in job_files(directory):
        try:
            parsed = load_job(path)
        except SpecError as exc:
            problems.append(str(exc))
            continue
        if parsed.spec.schedule is None:
            problems.append(
                f"{path}: no schedule: section — fleet serve runs scheduled jobs only "
                "(add e.g. schedule: {every: 15m}, or move the file out of --jobs)"
            )
            continue
        jobs.append(ServedJob(parsed, path))
    seen: dict[str, Path] = {}
    for job in jobs:
        if job.name in seen:
            problems.append(f"{job.path}: job name {job.name!r} is also used by {seen[job.name]}")
        seen.setdefault(job.name, job.path)
    if problems:
        raise SpecError("\n".join(problems))
    return jobs
