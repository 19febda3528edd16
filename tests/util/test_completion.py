"""fleet's completion record and wrappers (fleet.util.completion): the format both fleet and the
emulator read, and the wrappers really run by the shells that run run-command scripts."""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleet.util import completion

RUN = "r-20250101-abc"


@given(st.text())
def test_unwrap_gives_back_any_script_and_the_run_id(script: str) -> None:
    if script.startswith("#!") and "\n" not in script:
        script += "\n"  # a lone #! line gains the newline the trap line needs
    assert completion.unwrap(completion.wrap_linux(script, RUN)) == (script, RUN)
    assert completion.unwrap(completion.wrap_windows(script, RUN)) == (script, RUN)


def test_an_ordinary_script_is_not_taken_for_a_wrapped_one() -> None:
    assert completion.unwrap("echo hi\n") is None
    assert completion.unwrap("try {  # fleet: completion record\n}") is None


def test_powershell_param_block_stays_first() -> None:
    script = "# check\n[CmdletBinding()]\nparam([int]$N = 90, [string]$S = ')')\n$x = $N\n"
    wrapped = completion.wrap_windows(script, RUN)
    assert wrapped.startswith("# check\n[CmdletBinding()]\nparam([int]$N = 90, [string]$S = ')')\n")
    assert "try {" in wrapped.split("param(", 1)[1]


@given(st.binary(), st.integers(-(2**31), 2**31 - 1))
def test_split_record_returns_the_output_byte_for_byte(output: bytes, code: int) -> None:
    data = output + completion.record(RUN, code).encode()
    assert completion.split_record(data, RUN) == (output, code)
    assert completion.split_record(data, "another-run") == (data, None)
    assert completion.split_record(output, RUN) == (output, None) or RUN.encode() in output


@pytest.mark.parametrize("shell", ["bash", "dash"])
@pytest.mark.parametrize(
    ("body", "output", "code"),
    [
        ("echo hi; exit 3", b"hi\n", 3),
        ("echo oops >&2; exit 2", b"", 2),
        ("printf 'no newline'", b"no newline", 0),
        ("set -e; echo a; false; echo b", b"a\n", 1),
        ("exec >/dev/null 2>&1; echo hidden; exit 4", b"", 4),
    ],
)
def test_the_linux_trap_prints_the_exit_code_and_keeps_it(
    shell: str, body: str, output: bytes, code: int
) -> None:
    proc = subprocess.run(
        [shell, "-c", completion.wrap_linux(body, RUN)], capture_output=True, timeout=30
    )
    assert proc.returncode == code
    assert completion.split_record(proc.stdout, RUN) == (output, code)
    errors = b"oops\n" if "oops" in body else b""
    assert completion.split_record(proc.stderr, RUN) == (errors, code)  # stderr is whole too


def test_a_script_with_its_own_exit_trap_prints_no_record() -> None:
    wrapped = completion.wrap_linux("trap 'echo mine' EXIT; echo x", RUN)
    proc = subprocess.run(["bash", "-c", wrapped], capture_output=True, timeout=30)
    assert completion.split_record(proc.stdout, RUN) == (b"x\nmine\n", None)


@pytest.mark.parametrize(
    ("first_line", "ok"),
    [
        ("#!/bin/sh", True),
        ("#!/usr/bin/env bash", True),
        ("#!/bin/dash -e", True),
        ("#!/usr/bin/env python3", False),
        ("#!/usr/bin/perl", False),
    ],
)
def test_only_shell_scripts_can_be_wrapped_on_linux(first_line: str, ok: bool) -> None:
    reason = completion.why_not_wrappable(f"{first_line}\necho\n", "linux")
    assert (reason is None) is ok
    assert completion.why_not_wrappable(f"{first_line}\n", "windows") is None
