"""The pure reboot rules: who reboots, when a restarted VM is back, and what a read proves about
a restart whose answer was lost (``fleet.rollout.reboots``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fleet.model import MachineView, Reboot, RebootPolicy, Status, TargetResult
from fleet.rollout.control import RunControl
from fleet.rollout.reboots import arrived, is_back, reboot_required
from tests.fakes import make_target

T0 = datetime(2026, 1, 1, tzinfo=UTC)
LATER = T0 + timedelta(seconds=40)
BEFORE = MachineView("running", "succeeded", T0, "Ready")


def result(
    status: Status = Status.SUCCEEDED, code: int | None = 0, output: str = ""
) -> TargetResult:
    return TargetResult(make_target("vm"), status, exit_code=code, output=output)


IF_REQUIRED = RebootPolicy(Reboot.IF_REQUIRED, exit_codes=(100,), marker=r"^REBOOT REQUIRED$")


@pytest.mark.parametrize(
    ("policy", "res", "why"),
    [
        (RebootPolicy(), result(code=100), None),  # never
        (IF_REQUIRED, result(code=100), "exit code 100"),
        (IF_REQUIRED, result(code=0), None),
        (
            IF_REQUIRED,
            result(output="x\nREBOOT REQUIRED\n"),
            "the output matched '^REBOOT REQUIRED$'",
        ),
        (IF_REQUIRED, result(output="no reboot required\n"), None),  # case kept, line anchored
        (IF_REQUIRED, result(output="NO REBOOT REQUIRED\n"), None),
        (IF_REQUIRED, result(Status.FAILED, 100, "REBOOT REQUIRED"), None),  # failures never
        (RebootPolicy(Reboot.ALWAYS), result(), "reboot: always"),
        (RebootPolicy(Reboot.ALWAYS), result(Status.TIMED_OUT, None), None),
    ],
)
def test_who_reboots(policy: RebootPolicy, res: TargetResult, why: str | None) -> None:
    assert reboot_required(policy, res) == why


def test_back_only_once_the_restart_is_seen() -> None:
    still = MachineView("running", "succeeded", T0, "Ready")  # right after the 202
    assert not is_back(still, BEFORE, seen_away=False)
    assert is_back(still, BEFORE, seen_away=True)
    moved = MachineView("running", "succeeded", LATER, "Ready")
    assert is_back(moved, BEFORE, seen_away=False)
    booting = MachineView("running", "succeeded", LATER, "Not Ready")
    assert not is_back(booting, BEFORE, seen_away=True)
    assert not is_back(MachineView("starting", "updating", LATER), BEFORE, seen_away=True)


@pytest.mark.parametrize(
    ("view", "verdict"),
    [
        (MachineView("starting", "updating", LATER), True),  # under way
        (MachineView("running", "updating", LATER, "Ready"), True),
        (MachineView("running", "succeeded", LATER, "Not Ready"), True),  # agent coming back
        (MachineView("running", "succeeded", LATER, "Ready"), True),  # done already
        (MachineView("running", "succeeded", T0, "Ready"), False),  # untouched since
        (MachineView("running", "succeeded", None, "Ready"), None),  # nothing to compare
    ],
)
def test_what_a_read_proves_about_a_lost_restart(view: MachineView, verdict: bool | None) -> None:
    assert arrived(view, BEFORE) is verdict


def test_no_time_before_the_restart_proves_nothing() -> None:
    unknown = MachineView("running", "succeeded", None, "Ready")
    assert arrived(MachineView("running", "succeeded", T0, "Ready"), unknown) is None


def test_restarts_go_on_while_a_halt_drains_not_after_a_stop() -> None:
    from fleet.rollout.control import Ended

    halted, stopped = RunControl(), RunControl()
    assert halted.restarts_allowed
    halted.halt(Ended.ERROR_BUDGET, "too many")
    stopped.stop()
    assert halted.restarts_allowed and not stopped.restarts_allowed
    halted.interrupt()  # a Ctrl-C during the halt's drain is a stop
    assert not halted.restarts_allowed
