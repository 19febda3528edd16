"""Reboots after a target's script: the policy a job's ``rollout:`` gives them
(``RebootPolicy``), what fleet reads of a VM while it restarts (``MachineView``), Azure's answer
to a restart (``RestartAccepted``) and what happened on each target (``RebootRecord``).

Durations are Azure seconds, like every other duration of a rollout policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

#: How long a restarted VM may take to be running with its agent Ready again (Azure-seconds).
REBOOT_TIMEOUT_S = 15 * 60


class Reboot(StrEnum):
    """When fleet restarts a VM after its script: never, when the script says a reboot is
    required (an exit code or a marker in its output), or after every script that succeeded."""

    NEVER = "never"
    IF_REQUIRED = "if-required"
    ALWAYS = "always"


@dataclass(frozen=True)
class RebootPolicy:
    mode: Reboot = Reboot.NEVER
    # "required" is: one of these exit codes (each also a success exit code of the script) ...
    exit_codes: tuple[int, ...] = ()
    # ... or this regular expression found in the output (searched line by line, case kept)
    marker: str | None = None
    timeout_s: int = REBOOT_TIMEOUT_S  # from the restart's acceptance to running + agent Ready

    @property
    def enabled(self) -> bool:
        return self.mode is not Reboot.NEVER


@dataclass(frozen=True)
class MachineView:
    """A VM's instance view as far as a reboot is concerned (Azure's words, lower-cased codes).

    ``provisioned_at`` is the ``time`` of its ProvisioningState status: when the VM's last
    control-plane operation (a restart among them) changed that state. ``agent`` is the VM
    agent's display status ("Ready", "Not Ready"), None when Azure reports no agent (a VM that
    is not running)."""

    power_state: str | None  # "running", "starting", "stopped", ... (after "PowerState/")
    provisioning_state: str | None  # "succeeded", "updating", "failed", ...
    provisioned_at: datetime | None = None
    agent: str | None = None

    @property
    def back(self) -> bool:
        """Running with its agent Ready: what a reboot waits for."""
        return self.power_state == "running" and (self.agent or "").lower() == "ready"

    @property
    def busy(self) -> bool:
        """Something is visibly under way: not running, or an operation in progress."""
        return self.power_state != "running" or self.provisioning_state == "updating"

    def describe(self) -> str:
        agent = "no agent status" if self.agent is None else f"agent {self.agent}"
        power = self.power_state or "unknown"
        return f"PowerState/{power}, provisioning {self.provisioning_state or 'unknown'}, {agent}"


@dataclass(frozen=True)
class RestartAccepted:
    """Azure accepted a restart (202); ``operation`` is its ``Azure-AsyncOperation`` URL."""

    operation: str | None = None


class RebootOutcome(StrEnum):
    DONE = "done"  # restarted; running with its agent Ready again
    TIMED_OUT = "timed-out"  # restarted; not back within reboot_timeout (RebootTimedOut)
    NOT_REQUESTED = "not-requested"  # required, but the run was stopping: no restart sent
    REFUSED = "refused"  # Azure refused the restart (it never happened)
    UNKNOWN = "unknown"  # the restart's fate could not be learned: not sent again
    ABANDONED = "abandoned"  # restarted; the run stopped before the VM was back


@dataclass(frozen=True)
class RebootRecord:
    """One target's reboot: why it was required and what became of it."""

    required: str  # why: "exit code 100", "the output matched 'REBOOT REQUIRED'", "reboot: always"
    outcome: RebootOutcome
    requested: bool | None = None  # a restart reached Azure (None: cannot be known)
    requested_at: datetime | None = None  # when fleet sent it (UTC)
    ready_at: datetime | None = None  # when a read first saw the VM back (UTC)
    seconds_to_ready: float | None = None  # Azure-seconds from the request to that read
    detail: str | None = None  # the last state seen, Azure's refusal, ...
    # restart requests journaled for it (a resume's too; a request a crash kept from leaving
    # is among them, so more than 1 does not mean the VM restarted twice)
    restarts: int = 0
    reads: int = 0  # instance-view reads while waiting

    @property
    def done(self) -> bool:
        return self.outcome is RebootOutcome.DONE
