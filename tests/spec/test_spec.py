"""Job specs: YAML files and CLI flags → frozen JobSpec; every error names file, line and field."""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import tempfile
import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from fleet.errors import SpecError
from fleet.model import (
    Cleanup,
    Concurrency,
    JobSpec,
    Parameter,
    ScriptSource,
    ScriptSpec,
    Secret,
    Selector,
    SourceKind,
    TagMatch,
)
from fleet.sim import profile_yaml
from fleet.spec import (
    JobOptions,
    RolloutOptions,
    format_duration,
    job_spec_from_options,
    load_job_spec,
    parse_duration,
)
from fleet.util import yamlpos

ROOT = Path(__file__).resolve().parents[2]
JOBS = ROOT / "configs" / "jobs"
SUB = "11111111-1111-1111-1111-111111111111"
SAS = "https://acct.blob.core.windows.net/s/fix.sh?sv=2024&sig=TOPSECRETSIG"


def write(tmp_path: Path, text: str, name: str = "job.yaml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def spec_error(path: Path, env: dict[str, str] | None = None) -> str:
    with pytest.raises(SpecError) as info:
        load_job_spec(path, env=env or {})
    assert info.value.exit_code == 2
    return str(info.value)


MINIMAL = """
name: t
targets: {tags: {env: prod}}
script: {inline: echo hi}
"""


# --- the example job files ------------------------------------------------------------------


def _demo_tags() -> dict[str, set[str]]:
    profile = yaml.safe_load((ROOT / "fleet" / "sim" / "profiles" / "demo.yaml").read_text())
    tags: dict[str, set[str]] = {}
    for sub in profile["subscriptions"]:
        for rg in sub["resource_groups"]:
            for group in rg.get("vms", []) + rg.get("scale_sets", []):
                for key, value in group.get("tags", {}).items():
                    values = value if isinstance(value, dict) else {value: 1}
                    tags.setdefault(key, set()).update(str(v) for v in values)
    return tags


@pytest.mark.parametrize("name", ["health-check", "patch", "emergency-remediation"])
def test_example_jobs_load_and_target_the_demo_fleet(name: str) -> None:
    env = {"FLEET_NEW_API_TOKEN": "rotated-token-value"}
    spec = load_job_spec(JOBS / f"{name}.yaml", env=env)
    assert spec.source.endswith(f"{name}.yaml")
    demo = _demo_tags()
    for match in spec.selector.tags:
        assert match.key in demo, f"{name}: tag {match.key} is not in demo.yaml"
        assert set(match.values) <= demo[match.key]
    assert spec.script.source_for("linux") is not None


def test_health_check_has_both_os_variants_read_from_files() -> None:
    spec = load_job_spec(JOBS / "health-check.yaml", env={})
    linux, windows = spec.script.source_for("linux"), spec.script.source_for("windows")
    assert linux is not None and windows is not None
    assert linux.kind is windows.kind is SourceKind.INLINE
    assert "df -P" in linux.value and "Get-CimInstance" in windows.value


def test_emergency_remediation_reads_its_token_from_env() -> None:
    spec = load_job_spec(
        JOBS / "emergency-remediation.yaml", env={"FLEET_NEW_API_TOKEN": "Zq9-unique"}
    )
    (param,) = spec.script.protected_parameters
    assert param == Parameter("NEW_API_TOKEN", Secret("Zq9-unique"))
    assert "Zq9-unique" not in repr(spec)


# --- every field ----------------------------------------------------------------------------


def test_every_field_parses_into_the_frozen_model(tmp_path: Path) -> None:
    write(tmp_path, "echo linux\n", "scripts/l.sh")
    path = write(
        tmp_path,
        f"""
        name: full-job
        description: all the things
        targets:
          subscriptions: [{SUB.upper()}]
          tags: {{env: prod, role: [web, api], owner: null, empty: []}}
          resource_groups: [rg-web, rg-data]
          names: ["web-*", "db-0?"]
          query: "  Resources | where location == 'eastus'  "
          include_scale_sets: false
          exclude: {{names: [web-038], tags: {{state: [broken]}}}}
        script:
          inline: echo default
          linux: {{file: scripts/l.sh}}
          windows: {{command_id: IPConfig}}
          parameters: {{LOG_DIR: /var/log, COUNT: 3}}
          protected_parameters: {{TOKEN: {{env: TOKEN_VAR}}}}
          run_as: {{user: deploy, password: {{env: DEPLOY_PW}}}}
          timeout: 1h30m
        max_concurrency: "10%"
        """,
    )
    spec = load_job_spec(path, env={"TOKEN_VAR": "t0k", "DEPLOY_PW": "pw"})
    assert spec == JobSpec(
        name="full-job",
        selector=Selector(
            subscriptions=(SUB,),
            tags=(
                TagMatch("env", ("prod",)),
                TagMatch("role", ("web", "api")),
                TagMatch("owner"),
                TagMatch("empty"),
            ),
            resource_groups=("rg-web", "rg-data"),
            names=("web-*", "db-0?"),
            query="Resources | where location == 'eastus'",
            include_scale_sets=False,
            exclude_names=("web-038",),
            exclude_tags=(TagMatch("state", ("broken",)),),
        ),
        script=ScriptSpec(
            default=ScriptSource(SourceKind.INLINE, "echo default"),
            linux=ScriptSource(SourceKind.INLINE, "echo linux\n"),
            windows=ScriptSource(SourceKind.COMMAND_ID, "IPConfig"),
            parameters=(Parameter("LOG_DIR", "/var/log"), Parameter("COUNT", "3")),
            protected_parameters=(Parameter("TOKEN", Secret("t0k")),),
            run_as_user="deploy",
            run_as_password=Secret("pw"),
            timeout_s=5400,
        ),
        concurrency=Concurrency(percent=10.0),
        source=str(path),
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.name = "other"  # type: ignore[misc]


def test_defaults(tmp_path: Path) -> None:
    spec = load_job_spec(write(tmp_path, MINIMAL), env={})
    assert spec.selector == Selector(tags=(TagMatch("env", ("prod",)),))
    assert spec.script == ScriptSpec(default=ScriptSource(SourceKind.INLINE, "echo hi"))
    assert spec.concurrency == Concurrency()


def test_cleanup_and_pending_timeout_from_the_file_and_overridden_by_flags(tmp_path: Path) -> None:
    spec = load_job_spec(write(tmp_path, MINIMAL), env={})
    assert (spec.rollout.cleanup, spec.rollout.pending_timeout_s) == (Cleanup.KEEP_LAST, 1560)
    path = write(tmp_path, MINIMAL + "rollout: {cleanup: Always, pending_timeout: 10m}\n")
    spec = load_job_spec(path, env={})
    assert (spec.rollout.cleanup, spec.rollout.pending_timeout_s) == (Cleanup.ALWAYS, 600)
    flags = RolloutOptions(cleanup="delete-on-success", pending_timeout="90s")
    spec = load_job_spec(path, env={}, rollout=flags)
    assert (spec.rollout.cleanup, spec.rollout.pending_timeout_s) == (Cleanup.DELETE_ON_SUCCESS, 90)
    opts = JobOptions(all_targets=True, script="x", rollout=flags)
    assert job_spec_from_options(opts, env={}).rollout == spec.rollout
    with pytest.raises(SpecError) as info:
        job_spec_from_options(JobOptions(all_targets=True, script="x", rollout=RolloutOptions(
            cleanup="never")), env={})  # fmt: skip
    assert "--cleanup" in str(info.value) and "keep-last" in str(info.value)


def test_all_true_selects_everything(tmp_path: Path) -> None:
    path = write(tmp_path, "name: t\ntargets: {all: true}\nscript: {inline: x}\n")
    assert load_job_spec(path, env={}).selector == Selector()


def test_tag_values_that_yaml_reads_as_numbers_become_text(tmp_path: Path) -> None:
    path = write(tmp_path, "name: t\ntargets: {tags: {cost-center: 4711}}\nscript: {inline: x}\n")
    assert load_job_spec(path, env={}).selector.tags == (TagMatch("cost-center", ("4711",)),)


def test_per_os_variants_are_chosen_per_target(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        name: t
        targets: {names: ["*"]}
        script:
          linux: {inline: uname -a}
          windows: {uri: "https://example.com/w.ps1"}
        """,
    )
    script = load_job_spec(path, env={}).script
    assert script.source_for("linux") == ScriptSource(SourceKind.INLINE, "uname -a")
    assert script.source_for("windows") == ScriptSource(SourceKind.URI, "https://example.com/w.ps1")
    assert script.source_for(None) is None  # no default: an unknown OS gets no script


def test_script_file_is_relative_to_the_job_file_not_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "echo from file\n", "jobs/scripts/a.sh")
    path = write(
        tmp_path, MINIMAL.replace("{inline: echo hi}", "{file: scripts/a.sh}"), "jobs/j.yaml"
    )
    monkeypatch.chdir(tmp_path)
    assert load_job_spec(path, env={}).script.default == ScriptSource(
        SourceKind.INLINE, "echo from file\n"
    )


def test_parameters_list_form_allows_positional(tmp_path: Path) -> None:
    text = MINIMAL + "  parameters: [{name: '', value: a}, {name: X, value: b}]\n"
    path = write(tmp_path, text.replace("script: {inline: echo hi}", "script:\n  inline: hi"))
    params = load_job_spec(path, env={}).script.parameters
    assert params == (Parameter("", "a"), Parameter("X", "b"))


def test_sas_uri_is_kept(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("{inline: echo hi}", f'{{uri: "{SAS}"}}'))
    assert load_job_spec(path, env={}).script.default == ScriptSource(SourceKind.URI, SAS)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (600, 600),
        ("600", 600),
        ("90s", 90),
        ("10m", 600),
        ("1h", 3600),
        ("1h30m", 5400),
        (0, 0),
        ("0s", 0),
        ("1d", 86400),
    ],
)
def test_durations(text: str | int, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (50, Concurrency(count=50)),
        ("50", Concurrency(count=50)),
        ('"10%"', Concurrency(percent=10)),
    ],
)
def test_max_concurrency(tmp_path: Path, value: object, expected: Concurrency) -> None:
    path = write(tmp_path, MINIMAL + f"max_concurrency: {value}\n")
    assert load_job_spec(path, env={}).concurrency == expected


# --- errors: file, line, field, fix ---------------------------------------------------------


def test_bad_duration_message_names_file_line_field_and_fix(tmp_path: Path) -> None:
    path = write(
        tmp_path, MINIMAL.replace("{inline: echo hi}", "\n  inline: hi\n  timeout: 10 minutes")
    )
    assert spec_error(path) == (
        f"{path}:5: script.timeout: '10 minutes' is not a duration — "
        'use 600, "90s", "10m", "1h" or "7d"'
    )


@pytest.mark.parametrize(
    ("snippet", "line", "field", "words"),
    [
        ("name: Bad_Name", 1, "name", "lowercase"),
        ("max_concurrency: 0", 4, "max_concurrency", "whole number"),
        ('max_concurrency: "0%"', 4, "max_concurrency", "out of range"),
        ('max_concurrency: "150%"', 4, "max_concurrency", "out of range"),
        ("max_concurrency: true", 4, "max_concurrency", "not a concurrency"),
        ("targetz: {}", 4, "targetz", "did you mean 'targets'?"),
        ("script: {inline: x, timeout: -1}", 3, "script.timeout", "or 0 for none"),
        ("rollout: {cleanup: delete-always}", 4, "rollout.cleanup", "did you mean 'always'?"),
        ("rollout: {pending_timeout: 0}", 4, "rollout.pending_timeout", "out of range"),
        ("rollout: {pending_timeout: 2d}", 4, "rollout.pending_timeout", "24h"),
        ("script: {inline: x, timeout: 86401}", 3, "script.timeout", "24h"),
        ("script: {inline: x, file: y}", 3, "script", "only one of inline, file"),
        ("script: {timeout: 5}", 3, "script", "no script"),
        ("script: {inline: x, linux: {}}", 3, "script.linux", "give one of"),
        ("script: {command_id: 'Run Shell'}", 3, "script.command_id", "not a command id"),
        (
            "script: {inline: x, linux: {command_id: IPConfig}}",
            3,
            "script.linux.command_id",
            "windows",
        ),
        ("script: {uri: 'ftp://x/y'}", 3, "script.uri", "http(s)"),
        ("script: {inline: '  '}", 3, "script.inline", "non-empty"),
        ("script: {inline: x, parameters: {'': v}}", 3, "script.parameters.", "parameter name"),
        ("script: {inline: x, parameters: {1X: v}}", 3, "script.parameters.1X", "parameter name"),
        ("script: {inline: x, parameters: {A: yes}}", 3, "script.parameters.A", "quotes"),
        ("script: {inline: x, parameters: oops}", 3, "script.parameters", "mapping"),
        (
            "script: {inline: x, parameters: [{name: A, value: 1}, {name: A, value: 2}]}",
            3,
            "script.parameters[1].name",
            "twice",
        ),
        (
            "script: {inline: x, parameters: [{nme: A, value: 1}]}",
            3,
            "script.parameters[0].nme",
            "did you mean 'name'?",
        ),
        (
            "script: {inline: x, run_as: {usr: a}}",
            3,
            "script.run_as.usr",
            "allowed: user, password",
        ),
        (
            "script: {inline: x, run_as: {user: a, password: {env: 'no way'}}}",
            3,
            "script.run_as.password",
            "environment variable name",
        ),
    ],
)
def test_errors_name_file_line_and_field(
    tmp_path: Path, snippet: str, line: int, field: str, words: str
) -> None:
    key = snippet.split(":")[0]
    base = {
        "name": "name: t",
        "targets": "targets: {tags: {env: prod}}",
        "script": "script: {inline: x}",
    }
    lines = [snippet if k == key else v for k, v in base.items()]
    if key not in base:
        lines.append(snippet)
    message = spec_error(write(tmp_path, "\n".join(lines) + "\n"))
    head = f"{tmp_path / 'job.yaml'}:{line}: {field}: "
    assert any(problem.startswith(head) for problem in message.splitlines()), message
    assert words in message


@pytest.mark.parametrize(
    ("targets", "words"),
    [
        ("{}", "this would select every VM you can see — add targets.tags/names/resource_groups"),
        (f"{{subscriptions: [{SUB}]}}", "set targets.all: true"),
        ("{all: true, tags: {a: b}}", "remove it or the other criteria"),
        ("{subscriptions: [nope], all: true}", "'nope' is not a subscription id"),
        ("{tags: {a: true}}", "put it in quotes"),
        ("{names: ['']}", "not a name pattern"),
        ("{all: 'yes'}", "must be true or false (got text)"),
        ("{names: web-*}", "targets.names: must be a list, e.g. [a, b] (got text)"),
        ("{tags: [env]}", "targets.tags: must be a mapping, e.g. {key: value} (got a list)"),
        ("{exclude: 3, all: true}", "targets.exclude: must be a mapping of fields (got a number)"),
    ],
)
def test_target_errors(tmp_path: Path, targets: str, words: str) -> None:
    message = spec_error(write(tmp_path, f"name: t\ntargets: {targets}\nscript: {{inline: x}}\n"))
    assert f"{tmp_path / 'job.yaml'}:2: targets" in message
    assert words in message


def test_missing_targets_is_refused_not_everything(tmp_path: Path) -> None:
    message = spec_error(write(tmp_path, "name: t\nscript: {inline: x}\n"))
    assert "this would select every VM you can see" in message


def test_missing_required_fields(tmp_path: Path) -> None:
    message = spec_error(write(tmp_path, "targets: {all: true}\n"))
    assert "name: required field is missing" in message
    assert "script: required field is missing" in message


def test_unknown_key_lists_the_allowed_ones(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("targets: {tags:", "targets: {tag:"))
    message = spec_error(path)
    assert "targets.tag: unknown field 'tag' — did you mean 'tags'?" in message
    assert "(allowed: all, subscriptions, tags, resource_groups, names, query," in message


def test_all_problems_are_reported_at_once_in_line_order(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        name: t
        targets: {tags: {env: prod}}
        max_concurrency: lots
        script:
          inline: x
          timeout: forever
        """,
    )
    lines = spec_error(path).splitlines()
    assert [line.split(": ")[1] for line in lines] == ["max_concurrency", "script.timeout"]
    assert lines[0].startswith(f"{path}:3:") and lines[1].startswith(f"{path}:6:")


def test_missing_script_file_names_the_path(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("{inline: echo hi}", "\n  file: scripts/nope.sh"))
    message = spec_error(path)
    assert message.startswith(f"{path}:4: script.file: ")
    assert str(tmp_path / "scripts" / "nope.sh") in message


def test_empty_script_file_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "\n\n", "empty.sh")
    path = write(tmp_path, MINIMAL.replace("{inline: echo hi}", "{file: empty.sh}"))
    assert "is empty" in spec_error(path)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("name: t\nname: u\n", 2, "duplicate key 'name'"),
        ("name: t\ntargets: {tags: {env: a, env: b}}\n", 2, "targets.tags: duplicate key 'env'"),
        ("name: [t\n", 2, "invalid YAML"),
        ("- a\n- b\n", 1, "a job spec is a mapping"),
    ],
)
def test_yaml_level_errors(tmp_path: Path, text: str, line: int, words: str) -> None:
    path = write(tmp_path, text)
    message = spec_error(path)
    assert message.startswith(f"{path}:{line}: ")
    assert words in message


def test_unreadable_file(tmp_path: Path) -> None:
    message = spec_error(tmp_path / "absent.yaml")
    assert "absent.yaml: cannot read job spec" in message


def test_empty_file(tmp_path: Path) -> None:
    assert "a job spec is a mapping" in spec_error(write(tmp_path, ""))


# --- secrets --------------------------------------------------------------------------------

SECRET_JOB = f"""
name: t
targets: {{tags: {{env: prod}}}}
script:
  uri: "{SAS}"
  protected_parameters: {{TOKEN: {{env: TOKEN_VAR}}}}
  run_as: {{user: deploy, password: {{env: PW_VAR}}}}
  timeout: 10 minutes
"""


def test_secrets_come_from_env_and_are_masked(tmp_path: Path) -> None:
    path = write(tmp_path, SECRET_JOB.replace("10 minutes", "10m"))
    spec = load_job_spec(path, env={"TOKEN_VAR": "tok-123", "PW_VAR": "pw-456"})
    assert spec.script.run_as_password == Secret("pw-456")
    assert spec.script.protected_parameters == (Parameter("TOKEN", Secret("tok-123")),)
    assert "tok-123" not in repr(spec.script) and "pw-456" not in repr(spec.script)
    assert str(spec.script.run_as_password) == "Secret('***')"


def test_secret_values_never_appear_in_errors(tmp_path: Path) -> None:
    path = write(tmp_path, SECRET_JOB.replace('"https', '"ftp'))
    message = spec_error(path, env={"TOKEN_VAR": "tok-123", "PW_VAR": "pw-456"})
    assert "script.timeout" in message
    for secret in ("tok-123", "pw-456", "TOPSECRETSIG", "sv=2024"):
        assert secret not in message


def test_bad_sas_uri_is_redacted_in_the_error(tmp_path: Path) -> None:
    path = write(
        tmp_path, MINIMAL.replace("{inline: echo hi}", f'{{uri: "{SAS.replace("https", "ftp")}"}}')
    )
    message = spec_error(path)
    assert "ftp://acct.blob.core.windows.net/s/fix.sh?<redacted>" in message
    assert "TOPSECRETSIG" not in message


def test_missing_env_var_names_the_variable(tmp_path: Path) -> None:
    path = write(tmp_path, SECRET_JOB.replace("10 minutes", "10m"))
    message = spec_error(path, env={"TOKEN_VAR": "tok-123"})
    assert message == (
        f"{path}:6: script.run_as.password.env: environment variable PW_VAR is not set — "
        "export it before running"
    )


@pytest.mark.parametrize(
    "script",
    [
        "{inline: x, protected_parameters: {TOKEN: hunter2-literal}}",
        "{inline: x, run_as: {user: u, password: hunter2-literal}}",
    ],
)
def test_literal_secrets_in_files_are_refused_without_echo(tmp_path: Path, script: str) -> None:
    path = write(tmp_path, f"name: t\ntargets: {{all: true}}\nscript: {script}\n")
    message = spec_error(path)
    assert "never written in a job file" in message and "{env: VAR_NAME}" in message
    assert "hunter2" not in message


def test_plain_and_protected_parameter_with_one_name(tmp_path: Path) -> None:
    script = "{inline: x, parameters: {A: b}, protected_parameters: {A: {env: V}}}"
    path = write(tmp_path, f"name: t\ntargets: {{all: true}}\nscript: {script}\n")
    assert "A is also a plain parameter" in spec_error(path, env={"V": "s"})


# --- CLI flags ------------------------------------------------------------------------------


def test_flags_give_the_same_spec_as_yaml(tmp_path: Path) -> None:
    script = write(tmp_path, "echo hi\n", "s.sh")
    path = write(
        tmp_path,
        f"""
        name: same
        targets:
          subscriptions: [{SUB}]
          tags: {{env: prod, role: [web, api], owner: null}}
          resource_groups: [rg-web]
          names: ["web-*"]
          query: "Resources | limit 5"
          include_scale_sets: false
          exclude: {{names: [web-038], tags: {{state: [broken, bad]}}}}
        script:
          linux: {{file: {script}}}     # --script-file is a shell script: Linux targets
          parameters: {{A: "1", B: x=y}}
          protected_parameters: {{T: {{env: TV}}, U: {{env: UV}}}}
          run_as: {{user: deploy, password: {{env: PW}}}}
          timeout: 90s
        max_concurrency: "10%"
        """,
    )
    opts = JobOptions(
        name="same",
        subscriptions=(SUB,),
        tags=("env=prod", "role=web,api", "owner"),
        resource_groups=("rg-web",),
        names=("web-*",),
        query="Resources | limit 5",
        include_scale_sets=False,
        exclude_names=("web-038",),
        exclude_tags=("state=broken", "state=bad"),
        script_file=str(script),
        parameters=("A=1", "B=x=y"),
        protected_parameters=("T=env:TV", "U=@env:UV"),
        run_as_user="deploy",
        run_as_password_env="PW",
        timeout="90s",
        max_concurrency="10%",
    )
    env = {"TV": "t", "UV": "u", "PW": "p"}
    from_flags = job_spec_from_options(opts, env=env)
    assert from_flags.source == "<flags>"
    assert dataclasses.replace(load_job_spec(path, env=env), source="<flags>") == from_flags


def test_flags_refuse_literal_protected_values_without_echo() -> None:
    opts = JobOptions(tags=("env=prod",), script="x", protected_parameters=("TOKEN=hunter2",))
    with pytest.raises(SpecError) as info:
        job_spec_from_options(opts, env={})
    message = str(info.value)
    assert message.startswith("<flags>: --protected-param TOKEN: ")
    assert "shell history" in message and "NAME=env:VAR" in message
    assert "hunter2" not in message


@pytest.mark.parametrize(
    ("opts", "expected"),
    [
        (
            JobOptions(tags=("env=prod",), script="x", timeout="10 minutes"),
            "--timeout: '10 minutes'",
        ),
        (JobOptions(tags=("=v",), script="x"), "--tag: '=v' is not a tag filter"),
        (JobOptions(script="x"), "targets: this would select every VM you can see — add --tag"),
        (
            JobOptions(all_targets=True, script="x", parameters=("A",)),
            "--param: 'A' is not NAME=value",
        ),
        (JobOptions(all_targets=True, script="x", run_as_password_env="P"), "needs --run-as-user"),
        (JobOptions(all_targets=True, script="x", max_concurrency="x%"), "--max-concurrency: 'x%'"),
        (
            JobOptions(all_targets=True, protected_parameters=("hunter2",)),
            "--protected-param: expected",
        ),
        (JobOptions(all_targets=True, script="x", command_id="ifconfig"), "--script/--script-file"),
        (JobOptions(all_targets=True, script="x", names=("",)), "--target-name: '' is not a name"),
        (JobOptions(name="Bad", all_targets=True, script="x"), "--job-name: 'Bad'"),
    ],
)
def test_flag_errors_name_the_flag(opts: JobOptions, expected: str) -> None:
    with pytest.raises(SpecError) as info:
        job_spec_from_options(opts, env={})
    assert expected in str(info.value)
    assert "hunter2" not in str(info.value)


def test_flag_problems_and_schema_problems_are_reported_together() -> None:
    opts = JobOptions(tags=("env=prod",), script="x", parameters=("A",), timeout="soon")
    with pytest.raises(SpecError) as info:
        job_spec_from_options(opts, env={})
    assert "--param" in str(info.value) and "--timeout" in str(info.value)


def test_flags_minimal() -> None:
    spec = job_spec_from_options(JobOptions(all_targets=True, command_id="RunShellScript"), env={})
    assert spec.name == "adhoc" and spec.selector == Selector()
    assert spec.script.default == ScriptSource(SourceKind.COMMAND_ID, "RunShellScript")


# --- yamlpos and the emulator's use of it ---------------------------------------------------


def test_yamlpos_imports_nothing_else_from_fleet() -> None:
    tree = ast.parse(Path(yamlpos.__file__).read_text())
    modules = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    modules += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in modules if m.startswith("fleet")]


def test_profile_yaml_uses_yamlpos() -> None:
    assert profile_yaml.parse is yamlpos.parse and profile_yaml.line_of is yamlpos.line_of


def test_data_loc_drops_validator_markers() -> None:
    data = {"script": {"parameters": {"A": 1}, "list": [{"name": "x"}]}}
    assert yamlpos.data_loc(data, ("script", "parameters", "map", "A")) == (
        "script",
        "parameters",
        "A",
    )
    assert yamlpos.data_loc(data, ("script", "list", "list", 0, "name")) == (
        "script",
        "list",
        0,
        "name",
    )
    assert yamlpos.data_loc(data, ("script", "timeout"), keep_last=True) == ("script", "timeout")
    assert yamlpos.data_loc(data, ("script", "timeout")) == ("script",)


# --- properties -----------------------------------------------------------------------------


@given(st.integers(min_value=1, max_value=86_400))
def test_duration_format_parse_round_trip(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


@given(
    st.one_of(st.text(max_size=20), st.integers(), st.from_regex(r"\d{1,20}[hms]?", fullmatch=True))
)
def test_duration_parse_returns_seconds_in_range_or_spec_error(value: str | int) -> None:
    try:
        seconds = parse_duration(value)
    except SpecError:
        return
    assert 0 <= seconds <= 86_400  # 0 = no handler timeout


_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=12)
)


@settings(max_examples=60, deadline=None)
@given(timeout=_scalars, concurrency=_scalars, tag=_scalars)
def test_loading_never_raises_anything_but_spec_error(
    timeout: object, concurrency: object, tag: object
) -> None:
    doc = {
        "name": "t",
        "targets": {"tags": {"env": tag}},
        "script": {"inline": "x", "timeout": timeout},
        "max_concurrency": concurrency,
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "job.yaml"
        path.write_text(yaml.safe_dump(doc), encoding="utf-8")
        try:
            spec = load_job_spec(path, env={})
        except SpecError as exc:
            assert str(exc).startswith(str(path))
        else:
            assert 0 <= spec.script.timeout_s <= 86_400  # 0 = no handler timeout


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=80))
def test_arbitrary_text_never_raises_anything_but_spec_error(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "job.yaml"
        path.write_text(text, encoding="utf-8")
        with contextlib.suppress(SpecError):
            load_job_spec(path, env={})
