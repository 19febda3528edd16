"""What an action run command returns: the ``RunCommandResult.value`` statuses per OS, and the
exit-code marker convention of the emulator's model mode. Pure.

Result shapes:

* Linux: one status ``ProvisioningState/succeeded`` ("Provisioning succeeded") whose message is
  ``"Enable succeeded: \\n[stdout]\\n<out>\\n[stderr]\\n<err>"``, each stream cut to its last
  4,096 bytes. The handler builds it that way and reports success whatever the exit code ("the
  extension should not fail if the script throws an error"): Azure/run-command-extension-linux
  main/cmds.go ``enable`` (maxTailLen 4 KiB per stream), main/status.go ``statusMsg``; captured
  in Azure/azure-cli#14425, #25948, #32286 and MicrosoftDocs/azure-docs#48369.
* Windows: ``ComponentStatus/StdOut/succeeded`` and ``ComponentStatus/StdErr/succeeded``, no exit
  code anywhere (spec example VirtualMachineRunCommand.json, Azure/azure-cli#29750,
  MicrosoftDocs/azure-docs-cli#4542); the captured messages carry no trailing newline.
* A Linux script cut off by a VM restart: after the reboot the handler finds its sequence number
  processed and the status still "transitioning", and reports success with
  ``"Enable succeeded: Last script execution didn't finish."`` (main/cmds.go ``enablePre``).
  Windows does not document it: both statuses come back with empty messages.

The VM's instance view lists the extension behind the action run command (``RunCommandLinux``,
``Microsoft.CPlat.Core.RunCommandLinux``, azure-linux-extensions#684; ``RunCommandWindows``,
MicrosoftDocs/azure-docs#9819) with the agent's last report: ``ProvisioningState/transitioning``
("Transitioning", the handler's "Enable in progress") while a run is in progress, then the result
(the shape of extension statuses in Azure/custom-script-extension-linux#137; Windows puts the two
streams in ``substatuses`` under "Finished executing command", Azure/azure-cli#6898). A run that
failed on its time limit or a lost agent never reported an end: it stays transitioning. This is
what a caller can read when it lost a POST's operation.

Exit-code markers (model mode). The action API returns no exit code, so a caller wraps its
script to print one. In exec mode bash really runs the wrapper. In model mode (no real shell)
the emulator recognises, on a line of its own, ``echo "<P>$?"`` (bash) or
``Write-Output "<P>$LASTEXITCODE"`` (PowerShell), quotes optional, where ``<P>`` is 1 to 64
characters from ``A-Z a-z 0-9 _ : = . # @ + / -``: each such line prints ``<P><exit code>``
and a newline after the simulated output, the exit code being the one the outcome model gave the
script. The outcome model sees the script without those lines.
"""

from __future__ import annotations

import re
from typing import Any

from fleet.sim.rc_state import tail_utf8

_MARKER = re.compile(
    r'^\s*(?:echo|Write-Output)\s+"?(?P<prefix>[A-Za-z0-9_:=.#@+/-]{1,64})'
    r'\$(?:\?|LASTEXITCODE)"?\s*;?\s*$'
)
INTERRUPTED_MESSAGE = "Last script execution didn't finish."


def split_markers(script: str) -> tuple[str, tuple[str, ...]]:
    """The script without its exit-code marker lines, and the markers' prefixes in order."""
    kept: list[str] = []
    prefixes: list[str] = []
    for line in script.splitlines():
        found = _MARKER.match(line)
        if found is None:
            kept.append(line)
        else:
            prefixes.append(found["prefix"])
    return "\n".join(kept), tuple(prefixes)


def with_markers(stdout: str, prefixes: tuple[str, ...], exit_code: int) -> str:
    """What the marker lines add to the simulated stdout (echo-style: right after it)."""
    return stdout + "".join(f"{prefix}{exit_code}\n" for prefix in prefixes)


def _status(code: str, message: str) -> dict[str, Any]:
    return {
        "code": code,
        "level": "Info",
        "displayStatus": "Provisioning succeeded",
        "message": message,
    }


def result_statuses(os_name: str, stdout: str, stderr: str) -> list[dict[str, Any]]:
    """``RunCommandResult.value`` for a finished script (its exit code is not in it)."""
    out, err = tail_utf8(stdout), tail_utf8(stderr)
    if os_name == "windows":
        return [
            _status("ComponentStatus/StdOut/succeeded", out.rstrip("\r\n")),
            _status("ComponentStatus/StdErr/succeeded", err.rstrip("\r\n")),
        ]
    message = f"Enable succeeded: \n[stdout]\n{out}\n[stderr]\n{err}"
    return [_status("ProvisioningState/succeeded", message)]


def interrupted_statuses(os_name: str) -> list[dict[str, Any]]:
    """``RunCommandResult.value`` for a script a VM restart cut off."""
    if os_name == "windows":
        return [
            _status("ComponentStatus/StdOut/succeeded", ""),
            _status("ComponentStatus/StdErr/succeeded", ""),
        ]
    return [_status("ProvisioningState/succeeded", f"Enable succeeded: {INTERRUPTED_MESSAGE}")]


_EXTENSIONS = {
    "linux": ("RunCommandLinux", "Microsoft.CPlat.Core.RunCommandLinux", "1.0.12"),
    "windows": ("RunCommandWindows", "Microsoft.CPlat.Core.RunCommandWindows", "1.0"),
}


def extension_view(
    os_name: str, succeeded: bool, interrupted: bool, stdout: str, stderr: str
) -> dict[str, Any]:
    """The action run-command extension in a VM instance view's ``extensions``."""
    name, kind, version = _EXTENSIONS["windows" if os_name == "windows" else "linux"]
    view: dict[str, Any] = {"name": name, "type": kind, "typeHandlerVersion": version}
    if not succeeded:
        transitioning = {"code": "ProvisioningState/transitioning", "level": "Info"}
        transitioning.update(displayStatus="Transitioning", message="Enable in progress")
        view["statuses"] = [transitioning]
        return view
    if interrupted:
        streams = interrupted_statuses(os_name)
    else:
        streams = result_statuses(os_name, stdout, stderr)
    if os_name != "windows":
        view["statuses"] = streams
        return view
    view["statuses"] = [_status("ProvisioningState/succeeded", "Finished executing command")]
    view["substatuses"] = streams
    return view
