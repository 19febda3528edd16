"""Job-file-shaped data → validated models (``fleet.spec.schema``) → frozen ``JobSpec``.

``build`` is the one path both job files and CLI flags take. The only step that touches the
outside world: it reads ``file:`` scripts (relative to the job file's directory, or the
current directory for flags) and the environment variables that hold secrets. Problems are
collected as ``(loc, message)`` pairs so all of them are reported at once, with file and line;
messages name paths and variable names, never a secret value or the query of a SAS URI.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from fleet.errors import SpecError
from fleet.model import (
    Concurrency,
    HealthGate,
    JobSpec,
    Order,
    Parameter,
    Reboot,
    RebootPolicy,
    RolloutPolicy,
    ScriptSource,
    ScriptSpec,
    Secret,
    Selector,
    SourceKind,
    TagMatch,
)
from fleet.secrets import redact_uri
from fleet.spec.checks import build_alerts, build_expect, build_schedule, yaml_keys
from fleet.spec.fields import EnvRef
from fleet.spec.modes import mode_problems
from fleet.spec.output import build_output, completion_problems
from fleet.spec.problems import Loc, Origin, Problem, problem_of
from fleet.spec.schema import Job, Rollout, Script, Source, Targets
from fleet.spec.values import BUILTIN_COMMANDS


@dataclass
class ScriptFiles:
    """Where ``file:`` scripts come from: the disk (each text read is kept in ``read``, by the
    name the job gives), or ``given`` texts by that name (a job sent to another machine)."""

    given: Mapping[str, str] | None = None
    read: dict[str, str] = field(default_factory=dict)


@dataclass
class BuildContext:
    """Where relative script paths start, where secrets come from, and what went wrong."""

    base_dir: Path
    env: Mapping[str, str]
    problems: list[Problem] = field(default_factory=list)
    files: ScriptFiles = field(default_factory=ScriptFiles)

    def problem(self, loc: Loc, message: str) -> None:
        self.problems.append((loc, message))

    def env_value(self, var: str, loc: Loc) -> str | None:
        """The value of environment variable ``var`` (a problem at ``loc`` if unset or empty)."""
        value = self.env.get(var)
        if value is None:
            self.problem(loc, f"environment variable {var} is not set — export it before running")
        elif value == "":
            self.problem(loc, f"environment variable {var} is empty")
        return value or None


def build(
    data: Any,
    origin: Origin,
    env: Mapping[str, str] | None,
    problems: list[Problem],
    files: ScriptFiles | None = None,
) -> JobSpec:
    """Validate ``data`` and build the spec; every problem (``problems`` found earlier, the
    schema's, the build's) is reported at once in one ``SpecError``, as ``origin`` says.
    ``files``: where ``file:`` scripts come from (the disk by default)."""
    if not isinstance(data, dict):
        message = "a job spec is a mapping with name, targets and script (see configs/jobs/)"
        raise SpecError(origin.render([((), message)]))
    data = yaml_keys(data)
    try:
        job = Job.model_validate(data)
    except ValidationError as exc:
        problems = problems + [problem_of(err, data) for err in exc.errors()]
        raise SpecError(origin.render(problems)) from None
    ctx = BuildContext(
        origin.base_dir, os.environ if env is None else env, list(problems), files or ScriptFiles()
    )
    spec = build_job_spec(job, origin.source, ctx)
    if ctx.problems:
        raise SpecError(origin.render(ctx.problems))
    return spec


def build_job_spec(job: Job, source: str, ctx: BuildContext) -> JobSpec:
    """The frozen spec; check ``ctx.problems`` afterwards (the spec is unusable if any)."""
    for loc, message in mode_problems(job):
        ctx.problem(loc, message)
    script, output = _script(job.script, ctx), build_output(job.output)
    for message in completion_problems(output, script):
        ctx.problem(("output", "completion"), message)
    _check_reboot(job.rollout, script, ctx)
    return JobSpec(
        name=job.name,
        selector=build_selector(job.targets),
        script=script,
        concurrency=job.max_concurrency or job.rollout.max_concurrency or Concurrency(),
        source=source,
        rollout=build_rollout(job.rollout, ctx),
        mode=job.mode,
        expect=build_expect(job.expect),
        schedule=build_schedule(job.schedule),
        alerts=build_alerts(job.alerts, ctx),
        output=output,
    )


def build_rollout(rollout: Rollout, ctx: BuildContext) -> RolloutPolicy:
    gates = tuple(
        HealthGate(
            name=gate.name,
            script=_script(gate.script, ctx, _gate_loc(rollout, index)),
            expect_exit_code=gate.expect_exit_code,
            expect_output=gate.expect_output,
            sentinels=_unique(gate.sentinels),
        )
        for index, gate in enumerate(rollout.gates())
    )
    return RolloutPolicy(
        batches=tuple(rollout.batches or ()),
        order=rollout.order or Order.AS_SELECTED,
        seed=rollout.seed,
        max_errors=rollout.max_errors,
        count_platform_failures=rollout.count_platform_failures,
        pause_s=rollout.pause_between_batches,
        gates=gates,
        deadline_s=rollout.deadline,
        cancel_grace_s=rollout.cancel_grace,
        cancel_running=rollout.cancel_running,
        confirm_over=rollout.confirm_over,
        cleanup=rollout.cleanup,
        pending_timeout_s=rollout.pending_timeout,
        reboot=RebootPolicy(
            mode=rollout.reboot,
            exit_codes=tuple(dict.fromkeys(rollout.reboot_exit_codes)),
            marker=rollout.reboot_marker,
            timeout_s=rollout.reboot_timeout,
        ),
    )


def _check_reboot(rollout: Rollout, script: ScriptSpec, ctx: BuildContext) -> None:
    """A reboot policy must be able to tell when a reboot is required, and a reboot follows
    only a script that succeeded (checked once flags are laid over a job file)."""
    if rollout.reboot is Reboot.IF_REQUIRED and not (
        rollout.reboot_exit_codes or rollout.reboot_marker
    ):
        message = (
            "if-required needs a way to know: reboot_exit_codes (e.g. [100]) or reboot_marker "
            "(a regex matching a line the script prints)"
        )
        ctx.problem(("rollout", "reboot"), message)
    success = tuple(getattr(script, "success_exit_codes", (0,)))
    outside = [c for c in rollout.reboot_exit_codes if c not in success]
    if outside:
        codes = ", ".join(str(c) for c in outside)
        message = (
            f"{codes} not in script.success_exit_codes {list(success)} — fleet reboots only "
            f"after a script that succeeded; add {codes} to script.success_exit_codes"
        )
        ctx.problem(("rollout", "reboot_exit_codes"), message)


def _gate_loc(rollout: Rollout, index: int) -> Loc:
    if isinstance(rollout.health_gate, list):
        return ("rollout", "health_gate", index, "script")
    return ("rollout", "health_gate", "script")


def build_selector(targets: Targets) -> Selector:
    return Selector(
        subscriptions=_unique(targets.subscriptions),
        tags=tag_matches(targets.tags),
        resource_groups=_unique(targets.resource_groups),
        names=_unique(targets.names),
        query=None if targets.query is None else targets.query.strip(),
        include_scale_sets=targets.include_scale_sets,
        exclude_names=_unique(targets.exclude.names),
        exclude_tags=tag_matches(targets.exclude.tags),
    )


def tag_matches(tags: Mapping[str, tuple[str, ...]]) -> tuple[TagMatch, ...]:
    """``{env: prod, role: [web, api], owner: null}`` → one TagMatch per key (AND), values OR."""
    return tuple(TagMatch(key, _unique(values)) for key, values in tags.items())


def _unique(items: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _script(script: Script, ctx: BuildContext, loc: Loc = ("script",)) -> ScriptSpec:
    default = _source(script, loc, None, ctx) if script.given() else None
    linux = _source(script.linux, (*loc, "linux"), "linux", ctx) if script.linux else None
    windows = _source(script.windows, (*loc, "windows"), "windows", ctx) if script.windows else None
    run_as = script.run_as
    password = None
    if run_as is not None and run_as.password is not None:
        password = _secret(run_as.password, (*loc, "run_as", "password"), ctx)
    return ScriptSpec(
        default=default,
        linux=linux,
        windows=windows,
        parameters=_parameters(script, ctx, loc),
        protected_parameters=_protected(script, ctx, loc),
        run_as_user=None if run_as is None else run_as.user,
        run_as_password=password,
        timeout_s=script.timeout,
        success_exit_codes=tuple(dict.fromkeys(script.success_exit_codes or (0,))),
    )


def _source(src: Source, loc: Loc, os: str | None, ctx: BuildContext) -> ScriptSource | None:
    kind = src.given()[0]
    value = getattr(src, kind)
    where = (*loc, kind)
    if kind == "inline":
        return ScriptSource(SourceKind.INLINE, value)
    if kind == "file":
        text = _read_script(value, where, ctx)
        return None if text is None else ScriptSource(SourceKind.INLINE, text)
    if kind == "uri":
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            ctx.problem(where, f"{redact_uri(value)} is not an http(s):// URL")
        return ScriptSource(SourceKind.URI, value)
    native = BUILTIN_COMMANDS.get(value)
    if os is not None and native is not None and native != os:
        message = f"{value} is a {native} command; it cannot be the {os} script"
        ctx.problem(where, message)
    return ScriptSource(SourceKind.COMMAND_ID, value)


def _read_script(name: str, loc: Loc, ctx: BuildContext) -> str | None:
    given = ctx.files.given
    if given is not None:
        if name not in given:
            ctx.problem(loc, f"script file {name} did not come with the job")
        return given.get(name)
    path = Path(name).expanduser()
    if not path.is_absolute():
        path = ctx.base_dir / path
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        ctx.problem(
            loc, f"script file {path} does not exist (relative paths start at the job file)"
        )
        return None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        ctx.problem(loc, f"cannot read script file {path}: {reason or exc}")
        return None
    if not text.strip():
        ctx.problem(loc, f"script file {path} is empty")
        return None
    ctx.files.read[name] = text
    return text


def _secret(ref: EnvRef, loc: Loc, ctx: BuildContext) -> Secret | None:
    value = ctx.env_value(ref.env, (*loc, "env"))
    return None if value is None else Secret(value)


def _parameters(script: Script, ctx: BuildContext, at: Loc) -> tuple[Parameter, ...]:
    loc: Loc = (*at, "parameters")
    if isinstance(script.parameters, dict):
        return tuple(Parameter(name, value) for name, value in script.parameters.items())
    seen: set[str] = set()
    for index, item in enumerate(script.parameters):
        if item.name and item.name in seen:
            ctx.problem((*loc, index, "name"), f"parameter {item.name} is given twice")
        seen.add(item.name)
    return tuple(Parameter(item.name, item.value) for item in script.parameters)


def _protected(script: Script, ctx: BuildContext, at: Loc) -> tuple[Parameter, ...]:
    plain = (
        set(script.parameters)
        if isinstance(script.parameters, dict)
        else {item.name for item in script.parameters}
    )
    out: list[Parameter] = []
    for name, ref in script.protected_parameters.items():
        loc: Loc = (*at, "protected_parameters", name)
        if name in plain:
            ctx.problem(loc, f"{name} is also a plain parameter — a parameter is one or the other")
        secret = _secret(ref, loc, ctx)
        if secret is not None:
            out.append(Parameter(name, secret))
    return tuple(out)
