"""Unit tests of the action run command without HTTP: result shapes and exit-code markers
(``action_output``), a run's course (``action_state``), input validation and the catalog."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fleet.sim import command_catalog as catalog
from fleet.sim.action import parse_input
from fleet.sim.action_output import (
    extension_view,
    interrupted_statuses,
    result_statuses,
    split_markers,
    with_markers,
)
from fleet.sim.action_state import ActionRun, evaluate
from fleet.sim.errors import ArmError
from fleet.sim.model import SimVm
from fleet.sim.profile import ProfileError, parse_profile
from fleet.sim.profile_ops import ActionSettings
from tests import simkit

LIMITS = ActionSettings(min_duration=20, max_duration=5400)


def test_linux_result_is_one_succeeded_status_with_both_streams() -> None:
    [status] = result_statuses("linux", "hello\n", "oops\n")
    assert status["code"] == "ProvisioningState/succeeded"
    assert status["displayStatus"] == "Provisioning succeeded"
    assert status["message"] == "Enable succeeded: \n[stdout]\nhello\n\n[stderr]\noops\n"
    assert "exitCode" not in json.dumps(status)


def test_windows_result_is_two_statuses_without_exit_code() -> None:
    out, err = result_statuses("windows", "hello\r\n", "")
    assert (out["code"], out["message"]) == ("ComponentStatus/StdOut/succeeded", "hello")
    assert (err["code"], err["message"]) == ("ComponentStatus/StdErr/succeeded", "")


def test_each_stream_keeps_its_last_4096_bytes() -> None:
    stdout = "".join(f"{i:08d}\n" for i in range(2000))  # 18,000 bytes
    stderr = "E" * 5000 + "END"
    [status] = result_statuses("linux", stdout, stderr)
    body = status["message"].removeprefix("Enable succeeded: \n[stdout]\n")
    kept_out, kept_err = body.split("\n[stderr]\n")
    assert kept_out.encode() == stdout.encode()[-4096:]
    assert kept_err.encode() == stderr.encode()[-4096:] and kept_err.endswith("END")


def test_interrupted_shapes() -> None:
    [linux] = interrupted_statuses("linux")
    assert linux["message"] == "Enable succeeded: Last script execution didn't finish."
    assert [s["message"] for s in interrupted_statuses("windows")] == ["", ""]


def test_extension_view_keeps_the_last_report() -> None:
    busy = extension_view("linux", False, False, "", "")
    assert busy["statuses"][0]["code"] == "ProvisioningState/transitioning"
    cut = extension_view("linux", True, True, "ignored", "")
    assert cut["statuses"] == interrupted_statuses("linux")
    windows = extension_view("windows", True, False, "out\n", "err\n")
    assert windows["statuses"][0]["message"] == "Finished executing command"
    assert windows["substatuses"] == result_statuses("windows", "out\n", "err\n")


@pytest.mark.parametrize(
    ("line", "prefix"),
    [
        ('echo "__FLEET_RC__$?"', "__FLEET_RC__"),
        ("  echo RC=$?  ", "RC="),
        ('Write-Output "fleet:exit:$LASTEXITCODE"', "fleet:exit:"),
        ('echo "x$?";', "x"),
    ],
)
def test_marker_lines_are_recognised(line: str, prefix: str) -> None:
    script, prefixes = split_markers(f"uptime\n{line}\n")
    assert script == "uptime" and prefixes == (prefix,)
    assert with_markers("up 3 days\n", prefixes, 3) == f"up 3 days\n{prefix}3\n"


@pytest.mark.parametrize(
    "line",
    [
        "echo '__RC__$?'",  # single quotes: bash prints $? literally
        'echo "rc is $?"',  # spaces: not a marker
        'echo "$?"',  # no prefix
        'printf "RC=%s" $?',
        'echo "RC=$?" && reboot',
    ],
)
def test_other_lines_are_script(line: str) -> None:
    assert split_markers(line) == (line, ())


def _vm(os: str = "linux") -> SimVm:
    return SimVm("sub", "rg", "vm-1", "eastus", os, "Standard_D2s_v5", "id", "vm-1")


def _run(**kw: Any) -> ActionRun:
    defaults: dict[str, Any] = {"start_at": 5.0, "end_at": 9.0, "exit_code": 2, "stdout": "x\n"}
    defaults.update(kw)
    return ActionRun("op", _vm(), "RunShellScript", 1, 0.0, **defaults)


def test_course_non_zero_exit_still_succeeds_after_min_duration() -> None:
    run = _run()
    assert evaluate(run, 4, LIMITS).script == "Pending"
    assert evaluate(run, 6, LIMITS).script == "Running"
    early = evaluate(run, 10, LIMITS)
    assert (early.status, early.script, early.exit_code) == ("InProgress", "Failed", 2)
    done = evaluate(run, 20, LIMITS)
    assert (done.status, done.ended_at, done.stdout) == ("Succeeded", 20.0, "x\n")


def test_course_time_limit_dead_agent_and_restart() -> None:
    endless = evaluate(_run(end_at=None), 5405, LIMITS)
    assert (endless.status, endless.script) == ("Failed", "TimedOut")
    assert endless.error and endless.error["code"] == "VMExtensionProvisioningTimeout"
    assert "'RunCommandLinux'" in endless.error["message"]
    assert evaluate(_run(end_at=6000.0), 5404, LIMITS).status == "InProgress"
    dead = _run(start_at=None, end_at=None)  # agent_fail_after_s: the default, 1522 s
    assert evaluate(dead, 1521, LIMITS).script == "Pending"
    failed = evaluate(dead, 1522, LIMITS)
    assert failed.error and failed.error["code"] == "VMAgentStatusCommunicationError"
    assert evaluate(_run(start_at=None, end_at=None, agent_fail_after_s=100), 100, LIMITS).error
    cut = _run(interrupted_at=7.0, resume_at=60.0)
    assert evaluate(cut, 59, LIMITS).status == "InProgress"
    back = evaluate(cut, 60, LIMITS)
    assert (back.status, back.script, back.exit_code) == ("Succeeded", "Interrupted", None)
    lost = _run(interrupted_at=7.0, resume_at=None)
    assert evaluate(lost, 1528, LIMITS).status == "InProgress"
    gone = evaluate(lost, 1529, LIMITS)
    assert (gone.status, gone.script) == ("Failed", "Interrupted")


def test_parse_input() -> None:
    parsed = parse_input({"commandId": "runshellscript", "script": ["a", "b"]})
    assert parsed.command.id == "RunShellScript" and parsed.script == "a\nb"
    default = parse_input({"commandId": "ifconfig", "parameters": [{"name": "", "value": "-a"}]})
    assert default.script == 'ifconfig "$@"' and default.parameters == (("", "-a"),)
    with pytest.raises(ArmError) as unknown:
        parse_input({"commandId": "RunBashScript"})
    assert (unknown.value.status, unknown.value.code) == (404, "NotFound")
    assert unknown.value.message == "The entity was not found in this Azure location."
    for bad in ({}, {"commandId": "RunShellScript", "script": "echo"}, [], {"commandId": 3}):
        with pytest.raises(ArmError) as refused:
            parse_input(bad)
        assert refused.value.status == 400
    with pytest.raises(ArmError, match="parameters"):
        parse_input({"commandId": "RunShellScript", "parameters": [{"name": "a"}]})


def test_catalog_matches_the_spec_example() -> None:
    """Every command of RunCommand_List.json is listed with the example's label and text."""
    path = simkit.REFERENCE / "compute/2025-04-01/examples/runCommandExamples/RunCommand_List.json"
    example = json.loads(path.read_text())["responses"]["200"]["body"]["value"]
    listed = {c.id: c.base() for c in catalog.COMMANDS}
    for entry in example:
        assert listed[entry["id"]] == entry
    assert len(listed) == len(catalog.COMMANDS)  # ids are unique
    assert {c.os_type for c in catalog.COMMANDS} == {"Linux", "Windows"}


def test_catalog_documents() -> None:
    path = simkit.REFERENCE / "compute/2025-04-01/examples/runCommandExamples/RunCommand_Get.json"
    example = json.loads(path.read_text())["responses"]["200"]["body"]
    found = catalog.find("RUNPOWERSHELLSCRIPT")
    assert found is not None and found.document() == example
    for command in catalog.COMMANDS:
        doc = command.document()
        assert doc["script"] and {"$schema", "id", "osType", "label", "description"} <= set(doc)
        assert all({"name", "type"} <= set(p) for p in doc["parameters"])


def test_the_dead_agent_delay_is_a_run_commands_setting() -> None:
    """One number for managed and action run commands: ``action.agent_timeout`` is refused with
    where it went."""
    data = simkit.profile("small").model_dump(mode="json", exclude_unset=True)
    with pytest.raises(ProfileError, match=r"run_commands\.agent_fail_after_s"):
        parse_profile({**data, "action": {"agent_timeout": 1500}}, source="t")
    moved = parse_profile({**data, "run_commands": {"agent_fail_after_s": 90}}, source="t")
    assert moved.run_commands.rules().agent_fail_after_s == 90
