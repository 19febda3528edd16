"""Truthful exit codes for the action run command (pure): the wrapper fleet sends around a
script, and reading the script's output and exit code back from what Azure returns.

Azure returns no exit code for an action run command and reports success even when the
script failed (Linux: one ``ProvisioningState/succeeded`` status, ``Enable succeeded:
\\n[stdout]\\n...\\n[stderr]\\n...``, Azure/azure-cli#14425, MicrosoftDocs/azure-docs#48369;
Windows: ``ComponentStatus/StdOut|StdErr/succeeded``, Azure/azure-cli#29750). So fleet wraps
the script: the wrapper writes it to a temporary file, runs it as its own process (so ``exit
N``, ``set -e`` or a syntax error end the script, not the wrapper) and then prints fleet's
**marker** on stdout, ``FLEET_EXIT:<run id>=<exit code>``, as the very last thing it prints.

Where the marker sits: Azure keeps only the *last* 4,096 bytes of each stream (docs
"run-command", handler maxTailLen), so the marker, printed last, survives any amount of output
before it. The run id in it says which run's result the output is (the VM's extension status
shows the latest action command, whoever sent it). The marker is stripped from the output the
report shows. Output without it — the script was cut off (a VM restart, Azure's 90-minute
limit), or something printed more than 4 KiB after it — has no exit code: the target is
``Failed`` with "exit code unknown", never ``Succeeded``.

Linux (RunShellScript, run by the handler with bash, Azure/custom-script-extension-linux
main/exec.go): the script goes to ``mktemp`` through a quoted here-document (nothing in it is
expanded) and runs with ``/bin/bash``, or with the interpreter of its own ``#!`` line; named
parameters reach it as environment variables and unnamed ones as arguments (``"$@"``), as
they reach the wrapper. Windows (RunPowerShellScript): the script goes to a temporary ``.ps1``
through a single-quoted here-string (base64 if the script has a line starting with ``'@``) and
runs with ``powershell.exe -File``, whose exit code ``$LASTEXITCODE`` is (``exit N``, 1 after a
terminating error); the wrapper's arguments are passed on. The marker lines are the shapes the
emulator's model mode recognises (``fleet.sim.action_output``): ``echo "<P>$?"`` and
``Write-Output "<P>$LASTEXITCODE"``.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any

MARKER = "FLEET_EXIT:"
_SAFE_RUN_ID = re.compile(r"^[A-Za-z0-9_.+-]{1,48}$")
_FOUND = re.compile(MARKER + r"(?P<run>[A-Za-z0-9_.+-]{1,48})=(?P<code>-?\d{1,10})")
_SHEBANG = re.compile(r"^#!\s*(/[A-Za-z0-9_./+-]+(?:\s+[A-Za-z0-9_./+=-]+)?)\s*$")
LINUX_STATUS_PREFIX = "Enable succeeded: "
INTERRUPTED = "Last script execution didn't finish."


def marker_safe(run_id: str) -> bool:
    """Whether ``run_id`` can be carried in the marker (fleet's own run ids always can)."""
    return _SAFE_RUN_ID.match(run_id) is not None


def wrap(script: str, os_name: str | None, run_id: str) -> list[str]:
    """The lines of the wrapped script for a target of ``os_name`` (windows, else bash)."""
    if not marker_safe(run_id):
        raise ValueError(f"run id {run_id!r} cannot be carried in fleet's exit-code marker")
    if os_name == "windows":
        return _wrap_powershell(script, run_id)
    return _wrap_bash(script, run_id)


def _delimiter(script: str, base: str) -> str:
    lines = set(script.splitlines())
    delimiter, n = base, 0
    while delimiter in lines:
        n += 1
        delimiter = f"{base}_{n}"
    return delimiter


def _wrap_bash(script: str, run_id: str) -> list[str]:
    found = _SHEBANG.match(script.splitlines()[0]) if script.strip() else None
    runner = found.group(1) if found else "/bin/bash"
    end = _delimiter(script, "FLEET_SCRIPT_" + re.sub(r"[^A-Za-z0-9_]", "_", run_id))
    return [
        'fleet_script="$(mktemp "${TMPDIR:-/tmp}/fleet-script.XXXXXX")" || exit 125',
        f"cat > \"$fleet_script\" <<'{end}'",
        *script.splitlines(),
        end,
        f'{runner} "$fleet_script" "$@"',
        f'echo "{MARKER}{run_id}=$?"',
        'rm -f "$fleet_script"',
    ]


def _wrap_powershell(script: str, run_id: str) -> list[str]:
    lines = script.splitlines()
    if any(line.startswith("'@") for line in lines):
        encoded = base64.b64encode(script.encode("utf-8")).decode("ascii")
        decode = "[System.Text.Encoding]::UTF8.GetString([System.Convert]::FromBase64String("
        body = [f"$fleetText = {decode}'{encoded}'))"]
    else:
        body = ["$fleetText = @'", *lines, "'@"]
    temp = "Join-Path ([System.IO.Path]::GetTempPath())"
    name = "('fleet-script-' + [guid]::NewGuid().ToString('N') + '.ps1')"
    return [
        f"$fleetScript = {temp} {name}",
        *body,
        "Set-Content -LiteralPath $fleetScript -Value $fleetText -Encoding UTF8",
        "& powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass "
        "-File $fleetScript @args",
        f'Write-Output "{MARKER}{run_id}=$LASTEXITCODE"',
        "Remove-Item -LiteralPath $fleetScript -Force -ErrorAction SilentlyContinue",
    ]


@dataclass(frozen=True)
class ActionOutput:
    """What a finished action run command printed, and what fleet's marker says."""

    stdout: str
    stderr: str
    exit_code: int | None = None  # from the marker; None = no marker
    run_id: str | None = None  # the run whose marker ended stdout
    note: str = ""  # why there is no exit code, when there is none

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0


def _split_marker(stdout: str) -> tuple[str, int | None, str | None, str]:
    """(stdout without the marker, exit code, run id, what came after the marker)."""
    matches = list(_FOUND.finditer(stdout))
    found = matches[-1] if matches else None
    if found is None:
        return stdout, None, None, ""
    after = stdout[found.end() :]
    after = after[1:] if after.startswith("\n") else after
    return stdout[: found.start()], int(found["code"]), found["run"], after


def _note(stdout: str) -> str:
    cut = "" if len(stdout.encode("utf-8")) < 4000 else " (Azure keeps only its last 4,096 bytes)"
    return (
        "exit code unknown: fleet's exit-code marker is not in the output"
        f"{cut}; the script may have been cut off before it ended"
    )


def from_streams(stdout: str, stderr: str) -> ActionOutput:
    """Both streams as Azure returned them (marker included)."""
    shown, code, run_id, after = _split_marker(stdout)
    if code is None:
        return ActionOutput(stdout, stderr, note=_note(stdout))
    return ActionOutput(shown + after, stderr, code, run_id)


def parse_linux_message(message: str) -> ActionOutput:
    """The message of the Linux ``ProvisioningState/succeeded`` status."""
    if not message.startswith(LINUX_STATUS_PREFIX):
        return ActionOutput("", message, note=f"the extension reported: {message[:200]}")
    body = message[len(LINUX_STATUS_PREFIX) :]
    if body.strip() == INTERRUPTED:
        note = "exit code unknown: the script was cut off (the VM restarted while it ran)"
        return ActionOutput("", "", note=note)
    body = body.removeprefix("\n").removeprefix("[stdout]\n")
    shown, code, run_id, after = _split_marker(body)
    rest = after if code is not None else shown
    head, sep, stderr = rest.partition("\n[stderr]\n")
    if not sep and rest.startswith("[stderr]\n"):
        head, stderr = "", rest[len("[stderr]\n") :]
    if code is None:
        return ActionOutput(head, stderr, note=_note(head))
    return ActionOutput(shown + head, stderr, code, run_id)


def parse_statuses(statuses: list[dict[str, Any]]) -> ActionOutput:
    """``RunCommandResult.value`` (or an extension's statuses and substatuses) → output."""
    by_code = {str(s.get("code") or ""): str(s.get("message") or "") for s in statuses}
    out = next((m for c, m in by_code.items() if c.startswith("ComponentStatus/StdOut")), None)
    err = next((m for c, m in by_code.items() if c.startswith("ComponentStatus/StdErr")), "")
    if out is not None:  # Windows
        return from_streams(out, err)
    linux = [m for c, m in by_code.items() if c.startswith("ProvisioningState/")]
    return parse_linux_message(linux[0] if linux else "")
