"""Ad-hoc CLI flags (``JobOptions``, ``RolloutOptions``) → the same plain data a job file holds.

The CLI's flags become :class:`JobOptions` (``JobOptions.from_flags``); ``options_to_data``
translates them into the job-file shape so both paths go through one schema
(``fleet.spec.build``) and produce equal ``JobSpec`` objects — and the document a run records
is that data, not the flags.
``FLAGS`` names the flag for each field so errors can say ``--timeout: ...``; the CLI should
use these names. Secrets never come as literal flag values (shell history, ``ps`` output):
``--protected-param NAME=env:VAR`` and ``--run-as-password-env VAR`` only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from fleet.errors import SpecError
from fleet.model import JobSpec
from fleet.spec.build import build
from fleet.spec.document import FLAGS_SOURCE, JobDocument, ParsedJob
from fleet.spec.output import Output, OutputOptions
from fleet.spec.problems import Loc, Origin, Problem, problem_of
from fleet.spec.schema import Rollout
from fleet.util.yamlpos import format_loc

#: Field path → CLI flag, longest prefix wins (``targets.tags.env`` → ``--tag env``).
FLAGS: dict[Loc, str] = {
    ("name",): "--job-name",
    ("mode",): "--mode",
    ("targets",): "targets",
    ("targets", "all"): "--all",
    ("targets", "subscriptions"): "--subscription",
    ("targets", "tags"): "--tag",
    ("targets", "resource_groups"): "--resource-group",
    ("targets", "names"): "--target-name",
    ("targets", "query"): "--query",
    ("targets", "include_scale_sets"): "--no-scale-sets",
    ("targets", "exclude", "names"): "--exclude-name",
    ("targets", "exclude", "tags"): "--exclude-tag",
    ("script",): "--script/--script-file/--script-uri/--command-id",
    ("script", "inline"): "--script",
    ("script", "file"): "--script-file",
    ("script", "uri"): "--script-uri",
    ("script", "command_id"): "--command-id",
    ("script", "parameters"): "--param",
    ("script", "protected_parameters"): "--protected-param",
    ("script", "run_as"): "--run-as-user",
    ("script", "run_as", "password"): "--run-as-password-env",
    ("script", "timeout"): "--timeout",
    ("script", "success_exit_codes"): "--success-exit-codes",
    ("script", "windows"): "--windows-script/--windows-script-file",
    ("script", "windows", "inline"): "--windows-script",
    ("script", "windows", "file"): "--windows-script-file",
    ("script", "linux"): "--script/--script-file/--script-uri",
    ("script", "linux", "inline"): "--script",
    ("script", "linux", "file"): "--script-file",
    ("script", "linux", "uri"): "--script-uri",
    ("max_concurrency",): "--max-concurrency",
    ("rollout",): "rollout flags",
    ("rollout", "max_concurrency"): "--max-concurrency",
    ("rollout", "batches"): "--batches",
    ("rollout", "order"): "--order",
    ("rollout", "seed"): "--seed",
    ("rollout", "max_errors"): "--max-errors",
    ("rollout", "count_platform_failures"): "--count-platform-failures",
    ("rollout", "pause_between_batches"): "--pause",
    ("rollout", "deadline"): "--deadline",
    ("rollout", "cancel_grace"): "--cancel-grace",
    ("rollout", "cancel_running"): "--cancel-running",
    ("rollout", "confirm_over"): "--confirm-over",
    ("rollout", "cleanup"): "--cleanup",
    ("rollout", "pending_timeout"): "--pending-timeout",
    ("output",): "--output-container",
    ("output", "storage"): "--output-container",
    ("output", "completion"): "--completion",
    ("rollout", "reboot"): "--reboot",
    ("rollout", "reboot_exit_codes"): "--reboot-exit-codes",
    ("rollout", "reboot_marker"): "--reboot-marker",
    ("rollout", "reboot_timeout"): "--reboot-timeout",
}


@dataclass(frozen=True)
class RolloutOptions:
    """Rollout flags. Unlike the job flags they may also override a job file's ``rollout:``.

    ``batches``: ``"1,5,10%,100%"``; ``max_errors``: ``"2"`` or ``"5%"``; ``pause``,
    ``deadline``, ``cancel_grace``, ``pending_timeout``: durations; ``seed``/``confirm_over``:
    whole numbers; ``cleanup``: keep-last, delete-on-success or always; ``reboot``: never,
    if-required or always, ``reboot_exit_codes`` ``"100"`` or ``"100,101"``, ``reboot_marker`` a
    regex, ``reboot_timeout`` a duration.
    Booleans are only ever switched on by a flag (None/False = leave as the file says).
    """

    batches: str | None = None
    order: str | None = None
    seed: str | None = None
    max_errors: str | None = None
    count_platform_failures: bool = False
    pause: str | None = None
    deadline: str | None = None
    cancel_grace: str | None = None
    cancel_running: bool = False
    confirm_over: str | None = None
    cleanup: str | None = None
    pending_timeout: str | None = None
    reboot: str | None = None
    reboot_exit_codes: str | None = None
    reboot_marker: str | None = None
    reboot_timeout: str | None = None

    @classmethod
    def from_flags(cls, flags: Mapping[str, Any]) -> RolloutOptions:
        """The rollout options among the CLI's parameters (named as ``fleet run``'s)."""
        return cls(
            batches=flags.get("batches"),
            order=flags.get("order"),
            seed=flags.get("seed"),
            max_errors=flags.get("max_errors"),
            count_platform_failures=bool(flags.get("count_platform_failures")),
            pause=flags.get("pause"),
            deadline=flags.get("deadline"),
            cancel_grace=flags.get("cancel_grace"),
            cancel_running=bool(flags.get("cancel_running")),
            confirm_over=flags.get("confirm_over"),
            cleanup=flags.get("cleanup"),
            pending_timeout=flags.get("pending_timeout"),
            reboot=flags.get("reboot"),
            reboot_exit_codes=flags.get("reboot_exit_codes"),
            reboot_marker=flags.get("reboot_marker"),
            reboot_timeout=flags.get("reboot_timeout"),
        )

    def to_data(self) -> dict[str, Any]:
        """The given flags as a job file's ``rollout:`` mapping (absent flags left out)."""
        data: dict[str, Any] = {}
        if self.batches is not None:
            data["batches"] = [item.strip() for item in self.batches.split(",")]
        for key, value in (
            ("order", self.order),
            ("max_errors", self.max_errors),
            ("pause_between_batches", self.pause),
            ("deadline", self.deadline),
            ("cancel_grace", self.cancel_grace),
            ("seed", _whole(self.seed)),
            ("confirm_over", _whole(self.confirm_over)),
            ("cleanup", self.cleanup),
            ("pending_timeout", self.pending_timeout),
            ("reboot", self.reboot),
            ("reboot_marker", self.reboot_marker),
            ("reboot_timeout", self.reboot_timeout),
        ):
            if value is not None:
                data[key] = value
        if self.reboot_exit_codes is not None:
            items = [i for i in self.reboot_exit_codes.split(",") if i.strip()]
            data["reboot_exit_codes"] = [_whole(item) for item in items]
        if self.count_platform_failures:
            data["count_platform_failures"] = True
        if self.cancel_running:
            data["cancel_running"] = True
        return data


def _whole(text: str | None) -> int | str | None:
    """A flag's text as an int when it is one (the schema then says what is wrong if not)."""
    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError:
        return text


@dataclass(frozen=True)
class JobOptions:
    """What the CLI collects for an ad-hoc job (no YAML). Repeated flags become tuples.

    ``tags``/``exclude_tags``: ``"k=v"``, ``"k=v1,v2"`` (OR) or ``"k"`` (key present); keys
    AND together. ``parameters``: ``"NAME=value"``. ``protected_parameters``: ``"NAME=env:VAR"``
    or ``"NAME=@env:VAR"``. ``timeout``: ``"90s"``, ``"10m"``, ``"1h"`` or seconds.
    ``max_concurrency``: ``"50"`` or ``"10%"``. ``script_file`` is relative to the cwd.
    """

    name: str = "adhoc"
    all_targets: bool = False
    subscriptions: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    resource_groups: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    query: str | None = None
    include_scale_sets: bool = True
    exclude_names: tuple[str, ...] = ()
    exclude_tags: tuple[str, ...] = ()
    script: str | None = None
    script_file: str | None = None
    script_uri: str | None = None
    command_id: str | None = None
    parameters: tuple[str, ...] = ()
    protected_parameters: tuple[str, ...] = ()
    run_as_user: str | None = None
    run_as_password_env: str | None = None
    timeout: str | None = None
    success_exit_codes: str | None = None
    windows_script: str | None = None
    windows_script_file: str | None = None
    max_concurrency: str | None = None
    mode: str | None = None
    rollout: RolloutOptions = RolloutOptions()
    output: OutputOptions = field(default_factory=OutputOptions)

    @classmethod
    def from_flags(cls, flags: Mapping[str, Any]) -> JobOptions:
        """The job options among the CLI's parameters (named as ``fleet run``'s)."""

        def many(name: str) -> tuple[str, ...]:
            return tuple(flags.get(name) or ())

        script_file, windows_file = flags.get("script_file"), flags.get("windows_script_file")
        return cls(
            name=flags.get("job_name") or "adhoc",
            all_targets=bool(flags.get("all_targets")),
            subscriptions=many("subscription"),
            tags=many("tag"),
            resource_groups=many("resource_group"),
            names=many("target_name"),
            query=flags.get("query"),
            include_scale_sets=not flags.get("no_scale_sets", False),
            exclude_names=many("exclude_name"),
            exclude_tags=many("exclude_tag"),
            script=flags.get("script"),
            script_file=None if script_file is None else str(script_file),
            script_uri=flags.get("script_uri"),
            command_id=flags.get("command_id"),
            parameters=many("param"),
            protected_parameters=many("protected_param"),
            run_as_user=flags.get("run_as_user"),
            run_as_password_env=flags.get("run_as_password_env"),
            timeout=flags.get("timeout"),
            success_exit_codes=flags.get("success_exit_codes"),
            windows_script=flags.get("windows_script"),
            windows_script_file=None if windows_file is None else str(windows_file),
            max_concurrency=flags.get("max_concurrency"),
            mode=flags.get("mode"),
            rollout=RolloutOptions.from_flags(flags),
            output=OutputOptions.from_flags(flags),
        )


#: The CLI parameters that describe a job (instead of a job file).
JOB_FLAGS = (
    "tag", "resource_group", "target_name", "query", "script", "script_file", "script_uri",
    "command_id", "param", "protected_param", "exclude_name", "exclude_tag", "run_as_user",
    "run_as_password_env", "timeout", "max_concurrency", "job_name", "all_targets",
    "success_exit_codes", "windows_script", "windows_script_file", "mode",
)  # fmt: skip


def job_flags_given(flags: Mapping[str, Any]) -> list[str]:
    """The job-describing flags set in ``flags``, as ``--flag`` names."""
    return ["--" + name.replace("_", "-") for name in JOB_FLAGS if flags.get(name)]


def flag_for(loc: Loc) -> str:
    """``("script", "parameters", "A")`` → ``--parameter A``."""
    for size in range(len(loc), 0, -1):
        flag = FLAGS.get(loc[:size])
        if flag is not None:
            # An index into a repeated flag means nothing to the user; keys (tag, NAME) do.
            rest = format_loc([item for item in loc[size:] if not isinstance(item, int)])
            return f"{flag} {rest}" if rest else flag
    return format_loc(loc) or "flags"


def reword_for_flags(loc: Loc, message: str) -> str:
    """Say the flag, not the job-file key, where the schema's message names keys."""
    if loc == ("script",) and message.startswith("no script"):
        return (
            "no script — give --script, --script-file or --script-uri (Linux), "
            "--windows-script or --windows-script-file (Windows), or --command-id"
        )
    if loc == ("targets",) and message.startswith("this would select every VM"):
        return (
            "this would select every VM you can see — add --tag, --target-name, --resource-group "
            "or --query, or pass --all"
        )
    if loc[:1] == ("rollout",) and str(loc[-1]).startswith("reboot"):
        for key, flag in _REBOOT_KEYS:
            message = message.replace(key, flag)
    return message


_REBOOT_KEYS = (
    ("reboot_exit_codes (e.g. [100])", "--reboot-exit-codes (e.g. 100)"),
    ("reboot_marker", "--reboot-marker"),
    ("script.success_exit_codes", "--success-exit-codes"),
)


def flags_origin(base_dir: Path | None = None) -> Origin:
    """Errors name the flag (``--timeout: ...``); ``file:`` scripts start at ``base_dir``."""
    return Origin(FLAGS_SOURCE, None, base_dir or Path.cwd(), flag_for, reword_for_flags)


def job_from_options(opts: JobOptions, *, env: Mapping[str, str] | None = None) -> ParsedJob:
    """Validate ad-hoc CLI flags; errors name the flag (``--timeout: ...``)."""
    data, problems = options_to_data(opts)
    base_dir = Path.cwd()
    spec = build(data, flags_origin(base_dir), env, problems)
    return ParsedJob(spec, JobDocument(FLAGS_SOURCE, str(base_dir), data=data))


def job_spec_from_options(opts: JobOptions, *, env: Mapping[str, str] | None = None) -> JobSpec:
    """:func:`job_from_options`, the spec only."""
    return job_from_options(opts, env=env).spec


def _checked(section: str, model: type[BaseModel], data: dict[str, Any]) -> dict[str, Any]:
    """``data`` for ``section``, validated on its own first so that errors name the flag."""
    try:
        model.model_validate(data)
    except ValidationError as exc:
        wrapped = {section: data}
        problems = [problem_of({**e, "loc": (section, *e["loc"])}, wrapped) for e in exc.errors()]
        raise SpecError(flags_origin().render(problems)) from None
    return data


def rollout_overrides(rollout: RolloutOptions | None) -> dict[str, Any]:
    """The rollout flags as data, checked on their own first so errors name the flag."""
    data = rollout.to_data() if rollout is not None else {}
    return _checked("rollout", Rollout, data) if data else data


def output_overrides(output: OutputOptions | None) -> dict[str, Any]:
    """The output flags as data; with a container they are checked on their own first so
    errors name the flag (``--completion`` alone needs a job file's ``output.storage``)."""
    data = output.to_data() if output is not None else {}
    return _checked("output", Output, data) if "storage" in data else data


def options_to_data(opts: JobOptions) -> tuple[dict[str, Any], list[Problem]]:
    """Job-file-shaped data plus the problems found while splitting flag values."""
    problems: list[Problem] = []
    targets: dict[str, Any] = {
        "subscriptions": list(opts.subscriptions),
        "tags": _tags(opts.tags, ("targets", "tags"), problems),
        "resource_groups": list(opts.resource_groups),
        "names": list(opts.names),
        "include_scale_sets": opts.include_scale_sets,
        "exclude": {
            "names": list(opts.exclude_names),
            "tags": _tags(opts.exclude_tags, ("targets", "exclude", "tags"), problems),
        },
    }
    if opts.all_targets:
        targets["all"] = True
    if opts.query is not None:
        targets["query"] = opts.query
    data: dict[str, Any] = {
        "name": opts.name,
        "targets": targets,
        "script": _script(opts, problems),
    }
    if opts.max_concurrency is not None:
        data["max_concurrency"] = opts.max_concurrency
    if opts.mode is not None:
        data["mode"] = opts.mode
    rollout = opts.rollout.to_data()
    if rollout:
        data["rollout"] = rollout
    output = opts.output.to_data()
    if output:
        data["output"] = output
    return data, problems


def _tags(raw: tuple[str, ...], loc: Loc, problems: list[Problem]) -> dict[str, Any]:
    tags: dict[str, list[str] | None] = {}
    for item in raw:
        key, sep, values = item.partition("=")
        key = key.strip()
        if not key:
            problems.append(
                (loc, f"{item!r} is not a tag filter — use key=value, key=v1,v2 or key")
            )
            continue
        new = [v.strip() for v in values.split(",")] if sep else None
        old = tags.get(key, [])
        # "key" alone (any value) is wider than any list of values for the same key.
        tags[key] = None if old is None or new is None else [*old, *new]
    return tags


def _script(opts: JobOptions, problems: list[Problem]) -> dict[str, Any]:
    """The script section. ``--script``/``--script-file``/``--script-uri`` are a shell script:
    they go to Linux targets only; Windows targets get ``--windows-script`` (or
    ``--windows-script-file``), or no script at all (Skipped before anything is sent). A
    built-in ``--command-id`` names its own OS."""
    script: dict[str, Any] = {}
    shell = _given(("inline", opts.script), ("file", opts.script_file), ("uri", opts.script_uri))
    windows = _given(("inline", opts.windows_script), ("file", opts.windows_script_file))
    sources = [*shell, *windows, *(["command_id"] if opts.command_id else [])]
    if len(shell) > 1 or len(windows) > 1 or (opts.command_id and (shell or windows)):
        given = [*(_SHELL_FLAGS[k] for k in shell), *(_WINDOWS_FLAGS[k] for k in windows)]
        given += ["--command-id"] if opts.command_id else []
        problems.append((("script",), f"give one script per OS, not {', '.join(given)}"))
    elif sources:
        for variant, source in (("linux", shell), ("windows", windows)):
            if source:
                script[variant] = source
    for key, value in (("command_id", opts.command_id), ("timeout", opts.timeout)):
        if value is not None:
            script[key] = value
    codes = _codes(opts.success_exit_codes, problems)
    if codes is not None:
        script["success_exit_codes"] = codes
    script["parameters"] = _parameters(opts.parameters, problems)
    script["protected_parameters"] = _protected(opts.protected_parameters, problems)
    if opts.run_as_user is not None:
        script["run_as"] = {"user": opts.run_as_user}
        if opts.run_as_password_env is not None:
            script["run_as"]["password"] = {"env": opts.run_as_password_env}
    elif opts.run_as_password_env is not None:
        problems.append((("script", "run_as", "password"), "needs --run-as-user as well"))
    return script


_SHELL_FLAGS = {"inline": "--script", "file": "--script-file", "uri": "--script-uri"}
_WINDOWS_FLAGS = {"inline": "--windows-script", "file": "--windows-script-file"}


def _given(*pairs: tuple[str, str | None]) -> dict[str, str]:
    return {key: value for key, value in pairs if value is not None}


def _codes(raw: str | None, problems: list[Problem]) -> list[int] | None:
    """``--success-exit-codes 0,100`` → ``[0, 100]``."""
    if raw is None:
        return None
    codes = []
    for item in raw.split(","):
        try:
            codes.append(int(item.strip()))
        except ValueError:
            message = f"{item.strip()!r} is not an exit code — give numbers, e.g. 0,100"
            problems.append((("script", "success_exit_codes"), message))
    return codes


def _parameters(raw: tuple[str, ...], problems: list[Problem]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in raw:
        name, sep, value = item.partition("=")
        loc: Loc = ("script", "parameters")
        if not sep:
            problems.append((loc, f"{item!r} is not NAME=value"))
        elif name in out:
            problems.append(((*loc, name), f"parameter {name} is given twice"))
        else:
            out[name] = value
    return out


def _protected(raw: tuple[str, ...], problems: list[Problem]) -> dict[str, Any]:
    # Never echo ``item`` or its value: whatever follows "=" may be the secret itself.
    out: dict[str, Any] = {}
    how = "pass NAME=env:VAR and export VAR (the value is read from the environment)"
    for item in raw:
        name, sep, value = item.partition("=")
        loc: Loc = ("script", "protected_parameters")
        if not sep or not name:
            problems.append((loc, f"expected NAME=env:VAR — {how}"))
            continue
        var = (
            value.removeprefix("@").removeprefix("env:")
            if value.startswith(("env:", "@env:"))
            else None
        )
        if not var:
            message = (
                f"{name}: a literal secret on the command line ends up in shell history and "
                f"process listings — {how}"
            )
            problems.append(((*loc, name), message))
        elif name in out:
            problems.append(((*loc, name), f"protected parameter {name} is given twice"))
        else:
            out[name] = {"env": var}
    return out
