"""Job specs: a YAML job file or the CLI's job flags → a frozen, validated ``fleet.model.JobSpec``,
and the recipe a run records to build the same spec again. The edge of fleet's configuration.

    load       a job file (read once, parsed with positions) or the CLI flags → ParsedJob
    flags      the CLI's job and rollout flags → the data a job file holds (JobOptions)
    schema     the job file's pydantic schema (every model ``extra="forbid"``)
    fields     the schema's building blocks: StrictModel, EnvRef ({env: VAR})
    checks     the scheduled-check sections: schedule, expect, alerts (schema and build)
    values     scalar values: durations, amounts, names, tags, parameters
    build      validated data → JobSpec (reads ``file:`` scripts and secret env variables)
    problems   every problem at once, one line each: ``file:line: field: message``
    document   JobDocument (the job as parsed) and ParsedJob (spec + document)
    recipe     Recipe (document + Connection, versioned): what a run records to be made again

Depends only on ``fleet.model``, ``fleet.errors``, ``fleet.secrets`` and ``fleet.util``.
"""

from fleet.spec.document import JobDocument, ParsedJob
from fleet.spec.flags import JobOptions, RolloutOptions, job_from_options, job_spec_from_options
from fleet.spec.load import job_from_flags, load_job, load_job_spec, read_spec_text
from fleet.spec.recipe import Connection, Recipe
from fleet.spec.values import format_duration, parse_age, parse_duration

__all__ = [
    "Connection",
    "JobDocument",
    "JobOptions",
    "ParsedJob",
    "Recipe",
    "RolloutOptions",
    "format_duration",
    "job_from_flags",
    "job_from_options",
    "job_spec_from_options",
    "load_job",
    "load_job_spec",
    "parse_age",
    "parse_duration",
    "read_spec_text",
]
