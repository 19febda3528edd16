"""Profile sections for VM operations beyond managed run commands: ``restart`` (how a restarted
VM comes back) and ``action`` (the action run command, ``POST .../runCommand``). Pure: no I/O.

Example (all keys optional; times in Azure-seconds)::

    restart:
      boot: {median: 45, sigma: 0.3, min: 15, max: 300}   # PowerState/starting, then running
      agent: {median: 30, sigma: 0.5, min: 5, max: 600}   # running, agent Not Ready, then Ready
      slow: {share: 0.05, agent: {median: 900}}           # 5% of VMs: the agent takes ~15 min
      agent_never: {names: ["app-07"]}                    # running, agent never Ready again
      stays_stopped: {share: 0.01}                        # never comes back: PowerState/stopped
    action:
      min_duration: 20     # "the minimum time to run a script is about 20 seconds"
      max_duration: 5400   # "the maximum time a script can run is 90 minutes"
    # a dead agent: run_commands.agent_fail_after_s, shared with managed run commands
"""

from __future__ import annotations

from typing import Any

from pydantic import NonNegativeFloat, PositiveFloat, model_validator

from fleet.sim.profile_sections import Distribution, Fraction, StrictModel


class RestartGroup(StrictModel):
    """VMs that behave this way when restarted: those whose name matches a glob in ``names``
    (case-insensitive) plus a ``share`` of the others, drawn once per VM from the seed."""

    share: Fraction = 0.0
    names: list[str] = []


class SlowRestart(RestartGroup):
    """VMs whose agent takes ``agent`` (instead of ``restart.agent``) to report Ready."""

    agent: Distribution = Distribution(median=900.0, sigma=0.3, min=300.0, max=3600.0)


class RestartSettings(StrictModel):
    """How restarted VMs come back (``fleet.sim.power``).

    ``operation``: until the restart operation reports Succeeded (never after the boot ends:
    the operation can finish while the VM still shows ``PowerState/starting``);
    ``boot``: ``PowerState/starting`` until ``running``; ``agent``: from running until the VM
    agent reports Ready. ``slow``, ``agent_never`` and ``stays_stopped`` pick the VMs that come
    back late or never; ``abandon_after``: when a restart that never finishes is given up
    (``Canceled`` / ``InternalOperationError``, as seen after ~28 minutes in microsoft/lisa#236).
    """

    operation: Distribution = Distribution(median=8.0, sigma=0.4, min=2.0, max=60.0)
    boot: Distribution = Distribution(median=45.0, sigma=0.3, min=15.0, max=300.0)
    agent: Distribution = Distribution(median=30.0, sigma=0.5, min=5.0, max=600.0)
    slow: SlowRestart = SlowRestart()
    agent_never: RestartGroup = RestartGroup()
    stays_stopped: RestartGroup = RestartGroup()
    abandon_after: PositiveFloat = 1680.0

    @model_validator(mode="after")
    def _shares(self) -> RestartSettings:
        total = self.slow.share + self.agent_never.share + self.stays_stopped.share
        if total > 1.0 + 1e-9:
            message = f"slow, agent_never and stays_stopped shares add up to {total:g} (> 1)"
            raise ValueError(message)
        return self


class ActionSettings(StrictModel):
    """The action run command's limits (docs "run-command", Linux and Windows):
    ``min_duration`` (the operation never ends sooner), ``max_duration`` (the script "times
    out"; the operation fails with ``VMExtensionProvisioningTimeout``). How long Compute waits
    for a dead agent is one setting for managed and action run commands alike:
    ``run_commands.agent_fail_after_s`` (``fleet.sim.profile_runcommands``)."""

    min_duration: NonNegativeFloat = 20.0
    max_duration: PositiveFloat = 5400.0

    @model_validator(mode="before")
    @classmethod
    def _moved(cls, data: Any) -> Any:
        if isinstance(data, dict) and "agent_timeout" in data:
            message = (
                "agent_timeout is now run_commands.agent_fail_after_s (one dead-agent delay for "
                "managed and action run commands)"
            )
            raise ValueError(message)
        return data
