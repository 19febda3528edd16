"""Reboots in job specs: ``rollout.reboot`` (never | if-required | always), how "required" is
known (``reboot_exit_codes``, each a success exit code of the script; ``reboot_marker``, a regex)
and ``reboot_timeout``, from a job file and from flags, with errors naming file, line and field
(or the flag)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from fleet.errors import SpecError
from fleet.model import REBOOT_TIMEOUT_S, Reboot, RebootPolicy
from fleet.spec import JobOptions, RolloutOptions, job_spec_from_options, load_job_spec

HEAD = """\
name: patch
targets: {tags: {env: prod}}
script:
  inline: apt-get upgrade -y
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "job.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def error_of(path: Path, rollout: RolloutOptions | None = None) -> str:
    with pytest.raises(SpecError) as info:
        load_job_spec(path, env={}, rollout=rollout)
    assert info.value.exit_code == 2
    return str(info.value)


def test_no_reboot_by_default(tmp_path: Path) -> None:
    spec = load_job_spec(write(tmp_path, HEAD), env={})
    assert spec.rollout.reboot == RebootPolicy() and not spec.rollout.reboot.enabled
    assert spec.rollout.reboot.timeout_s == REBOOT_TIMEOUT_S == 900


def test_if_required_by_marker_with_a_timeout(tmp_path: Path) -> None:
    text = HEAD + "rollout:\n  reboot: If-Required\n  reboot_marker: '^REBOOT'\n"
    text += "  reboot_timeout: 20m\n"
    spec = load_job_spec(write(tmp_path, text), env={})
    assert spec.rollout.reboot == RebootPolicy(Reboot.IF_REQUIRED, (), "^REBOOT", 1200)


def test_if_required_must_say_how_it_is_known(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, HEAD + "rollout:\n  reboot: if-required\n"))
    assert "job.yaml:6: rollout.reboot: if-required needs a way to know" in message
    assert "reboot_exit_codes" in message and "reboot_marker" in message


def test_a_reboot_exit_code_must_be_a_success_exit_code(tmp_path: Path) -> None:
    text = HEAD + "rollout:\n  reboot: if-required\n  reboot_exit_codes: [100]\n"
    message = error_of(write(tmp_path, text))
    assert (
        "job.yaml:7: rollout.reboot_exit_codes: 100 not in script.success_exit_codes [0]" in message
    )
    assert "add 100 to script.success_exit_codes" in message


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "reboot_timeout: 10s",
            "rollout.reboot_timeout: '10s' is out of range — a reboot timeout is 1m to 24h",
        ),
        ("reboot_marker: '(unclosed'", "is not a regular expression"),
        ("reboot_exit_codes: [one]", "reboot_exit_codes"),
    ],
)
def test_bad_values_name_their_line(tmp_path: Path, line: str, expected: str) -> None:
    message = error_of(write(tmp_path, HEAD + f"rollout:\n  reboot: always\n  {line}\n"))
    assert expected in message, message
    assert "job.yaml:" in message


def test_an_unknown_policy_says_the_known_ones(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, HEAD + "rollout:\n  reboot: if-needed\n"))
    assert "job.yaml:6" in message and "'if-needed' is not a reboot policy" in message
    assert "one of: never, if-required, always" in message


def test_a_flag_may_switch_on_what_the_file_says_how_to_detect(tmp_path: Path) -> None:
    path = write(tmp_path, HEAD + "rollout:\n  reboot_marker: NEEDS-REBOOT\n")
    flags = RolloutOptions(reboot="if-required")
    reboot = load_job_spec(path, env={}, rollout=flags).rollout.reboot
    assert (reboot.mode, reboot.marker) == (Reboot.IF_REQUIRED, "NEEDS-REBOOT")
    message = error_of(write(tmp_path, HEAD), rollout=flags)
    assert "rollout.reboot: if-required needs a way to know" in message


def test_flags_set_and_override_the_reboot(tmp_path: Path) -> None:
    path = write(tmp_path, HEAD + "rollout:\n  reboot: if-required\n  reboot_marker: REBOOT\n")
    flags = RolloutOptions(reboot="never")
    assert load_job_spec(path, env={}, rollout=flags).rollout.reboot.mode is Reboot.NEVER
    flags = RolloutOptions(reboot="always", reboot_timeout="5m")
    reboot = load_job_spec(path, env={}, rollout=flags).rollout.reboot
    assert (reboot.mode, reboot.marker, reboot.timeout_s) == (Reboot.ALWAYS, "REBOOT", 300)
    opts = JobOptions(
        all_targets=True, script="x",
        rollout=RolloutOptions(reboot="if-required", reboot_marker="^NEEDS REBOOT$"),
    )  # fmt: skip
    reboot = job_spec_from_options(opts, env={}).rollout.reboot
    assert (reboot.mode, reboot.marker) == (Reboot.IF_REQUIRED, "^NEEDS REBOOT$")


def test_flag_errors_name_the_flag() -> None:
    opts = JobOptions(all_targets=True, script="x", rollout=RolloutOptions(reboot="if-required"))
    with pytest.raises(SpecError) as info:
        job_spec_from_options(opts, env={})
    assert "--reboot: if-required needs a way to know: --reboot-exit-codes" in str(info.value)
    assert "or --reboot-marker" in str(info.value)
    opts = JobOptions(all_targets=True, script="x", rollout=RolloutOptions(reboot_timeout="1w"))
    with pytest.raises(SpecError) as info:
        job_spec_from_options(opts, env={})
    assert "--reboot-timeout" in str(info.value)
