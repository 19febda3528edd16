"""fleet's completion record: the last line a wrapped script prints (to stdout and stderr), so
that the end of a run command — and its exit code — can be read from its output blobs instead
of from ARM.

Owns the record's wire format and the two wrappers that print it (pure text, no I/O):

- Linux (``wrap_linux``): one line after the script's ``#!`` line, if any::

      exec 9>&1 8>&2; trap 'set -- "$?"; printf "\\n::fleet-exit %s %d::\\n" RUN_ID "$1" >&9;
      printf ... >&8' EXIT  # fleet: completion record

  The EXIT trap runs when the shell ends by itself — falling off the end, ``exit N``, ``set -e``
  — with ``$?`` the status it exits with, and the shell keeps that status (checked with bash
  and dash). File descriptors 9 and 8 are the script's original stdout and stderr, so a script
  that sends its own output elsewhere (``exec >log 2>&1``) still prints the record where the
  run command's handler collects the streams. The record goes to *both* streams: the handler
  appends stdout's last bytes to its blob, then stderr's (cmds.go), so a record in the stdout
  blob says the script ended, and the same record in the stderr blob says that blob is whole.
  A script killed at ``timeoutInSeconds`` (SIGKILL), one that sets its own EXIT trap (it
  replaces ours) or that ``exec``\\ s another program prints no record: fleet then asks ARM, as
  it does for a dead agent. Only shell scripts can be wrapped: a ``#!`` line
  naming another interpreter (python, perl, ...) is refused (:func:`why_not_wrappable`).
- Windows (``wrap_windows``): the script's body in ``try { } finally { }``, its leading comments
  and ``param(...)`` block kept first (PowerShell requires ``param`` to come first); the
  ``finally`` block writes the record to stdout and stderr with ``$LASTEXITCODE`` (0 when no
  native command set it). This is modelled by fleet's emulator but has not been run on a
  Windows VM.

The record itself, ``"\\n::fleet-exit RUN_ID CODE::\\n"``, starts with a newline of its own so
that stripping it (:func:`split_record`) gives back the script's output byte for byte, whether
or not that output ended with a newline. It names the run, so a record left in the blob by
another run is never taken for this one's.

``unwrap`` is the inverse the emulator uses to run the original script under the wrapper (it
imports nothing of fleet but ``fleet.util``), so both sides agree on one format by
construction.
"""

from __future__ import annotations

import re

MARK = "# fleet: completion record"
_RUN_ID = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
RECORD = re.compile(rb"\n::fleet-exit (" + _RUN_ID.encode() + rb") (-?\d{1,10})::\n")
_SHELLS = ("sh", "bash", "dash", "ksh", "zsh", "ash", "busybox")

_PRINT = 'printf "\\n::fleet-exit %s %d::\\n" {run_id} "$1" >&'
_LINUX_LINE = (
    'exec 9>&1 8>&2; trap \'set -- "$?"; ' + _PRINT + "9; " + _PRINT + "8' EXIT  " + MARK + "\n"
)
_LINUX_HEAD, _LINUX_MID, _LINUX_TAIL = _LINUX_LINE.split("{run_id}")
_LINUX_RE = re.compile(
    re.escape(_LINUX_HEAD) + f"(?P<run>{_RUN_ID})" + re.escape(_LINUX_MID) + "(?P=run)"
    + re.escape(_LINUX_TAIL)
)  # fmt: skip
_PS_OPEN = f"\ntry {{  {MARK}\n"
_PS_CLOSE = (
    "\n} finally { $fleetExit = if ($LASTEXITCODE -is [int]) { $LASTEXITCODE } else { 0 }; "
    '$fleetRecord = "`n::fleet-exit {run_id} $($fleetExit)::`n"; '
    "[Console]::Out.Write($fleetRecord); [Console]::Error.Write($fleetRecord) }\n"
)
_PS_CLOSE_RE = re.compile(
    re.escape(_PS_CLOSE.split("{run_id}", 1)[0])
    + f"({_RUN_ID})"
    + re.escape(_PS_CLOSE.split("{run_id}", 1)[1])
    + r"\Z"
)


def record(run_id: str, exit_code: int) -> str:
    """The record a wrapped script of run ``run_id`` prints when it ends with ``exit_code``."""
    return f"\n::fleet-exit {run_id} {exit_code}::\n"


def split_record(data: bytes, run_id: str) -> tuple[bytes, int | None]:
    """(the output without this run's last record, its exit code) — or (``data``, None) when
    the output holds no record of ``run_id``. Bytes after the record (a background process
    still writing after the script ended) are kept."""
    found = None
    for match in RECORD.finditer(data):
        if match.group(1).decode() == run_id:
            found = match
    if found is None:
        return data, None
    return data[: found.start()] + data[found.end() :], int(found.group(2))


def _shebang(script: str) -> tuple[str, str]:
    """(the ``#!`` line with its newline, or "", the rest)."""
    if not script.startswith("#!"):
        return "", script
    line, _, rest = script.partition("\n")
    return line + "\n", rest


def why_not_wrappable(script: str, os_name: str | None) -> str | None:
    """Why ``script`` cannot carry the completion record on ``os_name``; None if it can."""
    if os_name == "windows":
        return None
    line, _ = _shebang(script)
    if not line:
        return None  # the handler runs it with /bin/sh semantics (bash -c)
    words = line[2:].split()
    program = words[0].rsplit("/", 1)[-1] if words else ""
    if program == "env" and len(words) > 1:
        program = words[1].rsplit("/", 1)[-1]
    if program in _SHELLS:
        return None
    return (
        f"its first line {line.strip()!r} names {program or 'no'} interpreter: only shell "
        "scripts can end with fleet's completion record (an EXIT trap)"
    )


def wrap_linux(script: str, run_id: str) -> str:
    """``script`` with fleet's EXIT trap after its ``#!`` line (see the module docstring)."""
    line, rest = _shebang(script)
    return line + _LINUX_LINE.replace("{run_id}", run_id) + rest


def _param_block_end(script: str) -> int:
    """Where a PowerShell script's leading comments, attributes and ``param(...)`` end; 0 if it
    has no ``param`` block (then nothing has to stay in front)."""
    match = re.match(
        r"(?:\s+|#[^\n]*|<#.*?#>|\[[A-Za-z]+(?:\([^)]*\))?\])*param\s*\(", script, re.I | re.S
    )
    if match is None:
        return 0
    depth, quote = 1, ""
    for index in range(match.end(), len(script)):
        char = script[index]
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index + 1
    return 0


def wrap_windows(script: str, run_id: str) -> str:
    """``script``'s body in ``try``/``finally`` that writes the record (module docstring)."""
    end = _param_block_end(script)
    return script[:end] + _PS_OPEN + script[end:] + _PS_CLOSE.replace("{run_id}", run_id)


def unwrap(script: str) -> tuple[str, str] | None:
    """(the original script, the run id) of a script fleet wrapped; None for any other."""
    line, rest = _shebang(script)
    linux = _LINUX_RE.match(rest)
    if linux is not None:
        return line + rest[linux.end() :], linux.group("run")
    opened = script.find(_PS_OPEN)
    closed = _PS_CLOSE_RE.search(script)
    if opened < 0 or closed is None or closed.start() < opened:
        return None
    inner = script[:opened] + script[opened + len(_PS_OPEN) : closed.start()]
    return inner, closed.group(1)
