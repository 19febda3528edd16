"""fleet's wrapper for action run commands, run for real by bash the way the Linux handler runs
a script (``/bin/bash -c``, Azure/custom-script-extension-linux main/exec.go: named parameters
as environment variables, unnamed ones as arguments), and the output parser over Azure's result
shapes: the exit code is recovered whatever the script does (``exit N``, ``set -e``, a syntax
error, its own interpreter, 8 KiB of output cut to Azure's last 4,096 bytes), the marker is
stripped from what is shown, and output without the marker never reads as success."""

from __future__ import annotations

import subprocess

import pytest

from fleet.azure.action_script import (
    MARKER,
    from_streams,
    parse_linux_message,
    parse_statuses,
    wrap,
)

RUN = "20261130-101339-74aada"
LIMIT = 4096  # Azure keeps the last 4,096 bytes of each stream


def run_wrapped(script: str, *args: str, env: dict[str, str] | None = None) -> tuple[str, str]:
    """The wrapper run as the handler would; (stdout, stderr) cut as Azure cuts them."""
    wrapped = "\n".join(wrap(script, "linux", RUN))
    done = subprocess.run(
        ["/bin/bash", "-c", wrapped, "script.sh", *args],
        capture_output=True, text=True, timeout=30, env={"PATH": "/usr/bin:/bin", **(env or {})},
    )  # fmt: skip
    out = done.stdout.encode()[-LIMIT:].decode(errors="replace")
    err = done.stderr.encode()[-LIMIT:].decode(errors="replace")
    return out, err


def linux_message(out: str, err: str) -> str:
    """The Linux handler's status message (Azure/azure-cli#14425)."""
    return f"Enable succeeded: \n[stdout]\n{out}\n[stderr]\n{err}"


@pytest.mark.parametrize(
    ("script", "code", "shown"),
    [
        ("echo hello", 0, "hello\n"),
        ("echo before\nexit 3\necho never", 3, "before\n"),
        ("set -e\necho one\nfalse\necho two", 1, "one\n"),
        ("echo 'unclosed", 2, ""),  # a syntax error ends the script, not the wrapper
        ("printf 'no newline'", 0, "no newline"),
        ("cat <<'EOF'\nFLEET_SCRIPT_x\nEOF\nexit 7", 7, "FLEET_SCRIPT_x\n"),
        ("#!/usr/bin/env python3\nimport sys\nprint('py')\nsys.exit(4)", 4, "py\n"),
        ('read line; echo "read:$line"', 0, "read:\n"),  # stdin is not the script
    ],
)
def test_the_exit_code_comes_back_whatever_the_script_does(
    script: str, code: int, shown: str
) -> None:
    out, err = run_wrapped(script)
    parsed = parse_linux_message(linux_message(out, err))
    assert (parsed.exit_code, parsed.run_id) == (code, RUN), (out, err)
    assert parsed.stdout == shown
    assert MARKER not in parsed.stdout and "fleet_script" not in parsed.stdout


def test_parameters_reach_the_script_as_they_reach_the_wrapper() -> None:
    out, err = run_wrapped('echo "$GREETING $1 $2"; exit $#', "a", "b c", env={"GREETING": "hi"})
    parsed = parse_linux_message(linux_message(out, err))
    assert parsed.stdout == "hi a b c\n" and parsed.exit_code == 2


def test_stderr_is_kept_apart_and_the_marker_survives_output_past_4096_bytes() -> None:
    script = "for i in $(seq 1 1000); do echo line-$i; done\necho oops >&2\nexit 9"
    out, err = run_wrapped(script)
    assert len(out.encode()) == LIMIT  # Azure cut the head off
    parsed = parse_linux_message(linux_message(out, err))
    assert parsed.exit_code == 9 and parsed.stderr.strip() == "oops"
    assert parsed.stdout.endswith("line-1000\n") and "line-1\n" not in parsed.stdout


def test_output_without_the_marker_has_no_exit_code_and_says_why() -> None:
    cut = "x" * 5000  # something printed 4 KiB after the marker: the marker is gone
    parsed = parse_linux_message(linux_message(cut[-LIMIT:], ""))
    assert parsed.exit_code is None and not parsed.succeeded
    assert "exit code unknown" in parsed.note and "4,096 bytes" in parsed.note
    restarted = parse_linux_message("Enable succeeded: Last script execution didn't finish.")
    assert restarted.exit_code is None and "restarted" in restarted.note


def test_another_runs_marker_is_read_as_that_runs() -> None:
    parsed = parse_linux_message(linux_message(f"done\n{MARKER}other-run=0\n", ""))
    assert (parsed.exit_code, parsed.run_id) == (0, "other-run")


def test_windows_streams_give_the_exit_code_and_hide_the_marker() -> None:
    statuses = [
        {"code": "ComponentStatus/StdOut/succeeded", "message": f"C:\\> ok\n{MARKER}{RUN}=5"},
        {"code": "ComponentStatus/StdErr/succeeded", "message": "warning"},
    ]
    parsed = parse_statuses(statuses)
    assert (parsed.exit_code, parsed.stdout, parsed.stderr) == (5, "C:\\> ok\n", "warning")
    assert from_streams("no marker", "").exit_code is None


def test_the_powershell_wrapper_runs_the_script_as_its_own_process_and_prints_the_marker() -> None:
    lines = wrap("Write-Output 'hi'\nexit 3", "windows", RUN)
    assert "$fleetText = @'" in lines and "Write-Output 'hi'" in lines
    assert any("powershell.exe" in line and "-File $fleetScript @args" in line for line in lines)
    assert f'Write-Output "{MARKER}{RUN}=$LASTEXITCODE"' in lines  # the shape Azure runs
    tricky = wrap("'@ closes a here-string\nexit 1", "windows", RUN)
    assert not any(line.startswith("'@ closes") for line in tricky)  # sent base64 instead
    assert any("FromBase64String" in line for line in tricky)


def test_a_run_id_the_marker_cannot_carry_is_refused() -> None:
    with pytest.raises(ValueError, match="marker"):
        wrap("echo", "linux", "run id with spaces")
