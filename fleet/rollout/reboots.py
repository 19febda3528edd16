"""Reboot rules (pure): whether a target's result asks for a reboot, when a restarted VM is back,
and what an instance view proves about a restart whose answer was lost.

**Required.** Only a script that succeeded reboots (a failed patch is the broken one; a restart
would not mend it and could hide it). ``reboot: always`` reboots every such target;
``if-required`` those that exited with one of ``reboot_exit_codes`` (each one also a success
exit code of the script) or printed something ``reboot_marker`` (a regular expression,
searched line by line, case kept) matches.

**Back.** A restarted VM is back when its instance view says ``PowerState/running`` and its
agent ``Ready`` *and* the restart is seen to have happened: a read saw it away (not running,
an operation in progress, the agent not Ready) or its ProvisioningState ``time`` moved past the
one read just before the restart. Right after Azure accepts a restart the VM may still show
running and Ready for a moment; that is not "back".

**A lost answer.** When a restart's answer is lost (connection dropped, 5xx) or a crash came
between its durable intent and its answer, Azure is asked before anything is sent again. The
VM busy, or its ProvisioningState ``time`` moved since the reading taken before the request:
the restart arrived (or something else happened to the VM at that moment: fleet cannot tell
the two apart, and errs on the side of never restarting twice). Running, Ready and the same
``time`` as before: nothing has happened to the VM since — the restart never arrived and may be
sent. Without a ``time`` to compare the question has no answer, and the restart is not re-sent.
"""

from __future__ import annotations

import re

from fleet.model import MachineView, Reboot, RebootPolicy, Status, TargetResult


def reboot_required(policy: RebootPolicy, result: TargetResult) -> str | None:
    """Why ``result`` asks for a reboot under ``policy``; None when it does not."""
    if not policy.enabled or result.status is not Status.SUCCEEDED:
        return None
    if policy.mode is Reboot.ALWAYS:
        return "reboot: always"
    if result.exit_code is not None and result.exit_code in policy.exit_codes:
        return f"exit code {result.exit_code}"
    if policy.marker is not None and re.search(policy.marker, result.output, re.MULTILINE):
        return f"the output matched {policy.marker!r}"
    return None


def moved(view: MachineView, baseline: MachineView) -> bool:
    """The VM's ProvisioningState time moved past the one read before the restart."""
    before, now = baseline.provisioned_at, view.provisioned_at
    return before is not None and now is not None and now > before


def is_back(view: MachineView, baseline: MachineView, *, seen_away: bool) -> bool:
    """A restarted VM is back: running with its agent Ready, the restart seen to happen."""
    return view.back and (seen_away or moved(view, baseline))


def arrived(view: MachineView, baseline: MachineView) -> bool | None:
    """Whether a restart whose answer was lost reached Azure: True / False when ``view`` (read
    afterwards) proves it, None when it cannot."""
    if view.busy or not view.back or moved(view, baseline):
        return True
    if baseline.provisioned_at is None or view.provisioned_at is None:
        return None
    return False
