"""The run-command service's rules that a profile sets and ``/_sim/settings`` may change at run
time: the per-VM limit, what an identical PUT does, the output refresh cadence, how long Compute
waits for a dead agent, and which users exist on each VM (``runAsUser``).

Sources:
- At most 25 managed run commands per VM; a PUT of a new name beyond that fails with the message
  in :func:`limit_error` (MicrosoftDocs/azure-docs#117976, quoted from ``Set-AzVMRunCommand``).
  Status and error code are not documented: we answer ``409 OperationNotAllowed``, what Compute
  uses for its other "this would exceed a limit" refusals (core quota: nforgeio/neonKUBE#1671,
  Azure/karpenter-provider-azure#192), synchronously on the PUT. Updating an existing name is
  always allowed. Run commands still being deleted count until they are gone.
- Identical PUT: azure-sdk-for-net#47307 reports that a PUT with the same body does not run the
  script again (the default); a Microsoft reviewer on MicrosoftDocs/azure-compute-docs PR #178
  says repeated run commands with the same name "should work" — ``identical_put_reruns`` models
  that pessimistic reading (every applied PUT runs the script).
- ``runAsUser`` must exist on the VM (D-RCL, D-RCW; Linux handler ``user.Lookup``). Defaults:
  ``root`` and ``azureuser`` on Linux (the docs' admin user), ``Administrator`` on Windows; a
  profile adds users per VM by name glob. Windows user names compare case-insensitively.
- ``outputBlobUri`` / ``errorBlobUri`` are not a rule: ``blob_agent`` writes them.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

from fleet.sim.errors import ArmError
from fleet.sim.model import SimVm
from fleet.sim.rc_handler import REFRESH_S, StartFailure, unknown_user
from fleet.sim.rc_state import DEAD_AGENT_S

MAX_RUN_COMMANDS = 25
LINUX_USERS = ("root", "azureuser")
WINDOWS_USERS = ("Administrator",)
#: The rules ``/_sim/settings`` may change at run time.
SETTABLE = ("max_per_vm", "identical_put_reruns", "output_refresh_s", "agent_fail_after_s")


def limit_error(maximum: int, current: int) -> ArmError:
    """The refusal of a new run command on a VM that already holds ``maximum``."""
    message = (
        f"The maximum number of managed Run commands (max={maximum}, current={current}) has been "
        "exceeded. Use fewer Run commands and retry the request. To list Run commands, refer: "
        "https://aka.ms/RunCommandManaged#list-all-deployed-runcommand-resources-on-a-vm-1 and "
        "then delete a Run command: "
        "https://aka.ms/RunCommandManaged#delete-runcommand-resource-from-the-vm-1"
    )
    return ArmError(409, "OperationNotAllowed", message)


@dataclass(frozen=True)
class UserDirectory:
    """Which accounts exist on each VM."""

    linux: tuple[str, ...] = LINUX_USERS
    windows: tuple[str, ...] = WINDOWS_USERS
    extra: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = ()  # (name globs, users)

    def users(self, vm: SimVm) -> tuple[str, ...]:
        found = list(self.windows if vm.os == "windows" else self.linux)
        for globs, users in self.extra:
            if any(fnmatch.fnmatchcase(vm.name.lower(), g.lower()) for g in globs):
                found.extend(u for u in users if u not in found)
        return tuple(found)

    def exists(self, vm: SimVm, user: str) -> bool:
        if vm.os == "windows":
            return user.lower() in {u.lower() for u in self.users(vm)}
        return user in self.users(vm)


@dataclass
class RunCommandRules:
    """Mutable on purpose: a test may switch a rule in the middle of a run (``/_sim/settings``)."""

    max_per_vm: int = MAX_RUN_COMMANDS
    identical_put_reruns: bool = False
    output_refresh_s: float = REFRESH_S
    agent_fail_after_s: float = DEAD_AGENT_S
    users: UserDirectory = field(default_factory=UserDirectory)

    def check_new(self, current: int) -> None:
        """Raise the limit error when a VM holding ``current`` run commands gets a new one."""
        if current >= self.max_per_vm:
            raise limit_error(self.max_per_vm, current)

    def start_failure(self, vm: SimVm, run_as_user: str | None) -> StartFailure | None:
        if run_as_user and not self.users.exists(vm, run_as_user):
            return unknown_user(vm.os, run_as_user)
        return None

    def snapshot(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in SETTABLE}
