"""What the action adapter makes of Azure's answers (pure): the operation's status document,
the VM's action extension in its instance view, and the POST's errors. The spec's own example
result (Windows, no marker) reads as "exit code unknown", never as success."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from azure.core.exceptions import HttpResponseError

from fleet.azure.action_commands import action_error, extension_view, operation_view
from fleet.azure.action_script import MARKER
from fleet.model import CallError, RunView
from tests.simkit import REFERENCE

RUN = "20261130-101339-74aada"
EXAMPLE = REFERENCE / "compute/2025-04-01/examples/runCommandExamples/VirtualMachineRunCommand.json"


def _linux(out: str, err: str = "") -> list[dict[str, Any]]:
    message = f"Enable succeeded: \n[stdout]\n{out}\n[stderr]\n{err}"
    return [{"code": "ProvisioningState/succeeded", "message": message}]


def _done(value: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "status": "Succeeded",
        "startTime": "2026-11-30T10:00:00.1234567+00:00",
        "endTime": "2026-11-30T10:00:31Z",
        "properties": {"output": {"value": value}},
    }


def test_an_operation_in_progress_is_running_and_its_result_carries_the_exit_code() -> None:
    assert not operation_view({"status": "InProgress"}).terminal
    view = operation_view(_done(_linux(f"disk full\n{MARKER}{RUN}=3\n", "boom\n")))
    assert (view.execution_state, view.exit_code, view.run_id) == ("Failed", 3, RUN)
    assert (view.output, view.error) == ("disk full\n", "boom\n")
    assert view.start_time is not None and view.start_time.microsecond == 123456
    ok = operation_view(_done(_linux(f"fine\n{MARKER}{RUN}=0\n")))
    assert (ok.execution_state, ok.exit_code) == ("Succeeded", 0)


def test_the_specs_example_result_has_no_exit_code_and_is_not_success() -> None:
    example = json.loads(EXAMPLE.read_text())["responses"]["200"]["body"]
    view = operation_view(_done(example["value"]))
    assert view.execution_state == "Failed" and view.exit_code is None
    assert "exit code unknown" in view.message and not view.owner_unknown
    assert view.output.startswith("This is a sample script")


def test_failed_operations_tell_a_dead_agent_from_the_90_minute_limit() -> None:
    agent = operation_view(
        {"status": "Failed", "error": {"code": "VMAgentStatusCommunicationError", "message": "x"}}
    )
    assert agent.execution_state == "TimedOut" and agent.start_time is None  # never started
    limit = operation_view(
        {
            "status": "Failed",
            "startTime": "2026-11-30T10:00:00Z",
            "error": {"code": "VMExtensionProvisioningTimeout", "message": "timed out"},
        }
    )
    assert limit.execution_state == "TimedOut" and limit.start_time is not None
    other = operation_view({"status": "Failed", "error": {"code": "Boom", "message": "no"}})
    assert (other.execution_state, other.message) == ("Failed", "Boom: no")


def _extension(code: str, message: str = "", name: str = "RunCommandLinux") -> Any:
    status = SimpleNamespace(code=code, message=message)
    kind = f"Microsoft.CPlat.Core.{name}"
    return SimpleNamespace(name=name, type=kind, statuses=[status], substatuses=None)


def test_the_extension_says_whose_result_it_shows_only_through_the_marker() -> None:
    running = extension_view([_extension("ProvisioningState/transitioning")])
    assert isinstance(running, RunView) and running.owner_unknown and not running.terminal
    ours = extension_view([_extension(**_linux(f"ok\n{MARKER}{RUN}=0\n")[0])])
    assert isinstance(ours, RunView) and ours.run_id == RUN and not ours.owner_unknown
    foreign = extension_view([_extension(**_linux("someone else's\n")[0])])
    assert isinstance(foreign, RunView) and foreign.terminal and foreign.owner_unknown
    managed = [_extension("ProvisioningState/transitioning", name="RunCommandHandlerLinux")]
    nothing = extension_view(managed)  # the managed handler is another extension
    assert isinstance(nothing, CallError) and nothing.status == 404


def test_only_the_in_progress_409_is_busy() -> None:
    def refused(message: str) -> HttpResponseError:
        exc = HttpResponseError(message=message)
        exc.status_code = 409
        exc.error = SimpleNamespace(code="Conflict", message=message)  # type: ignore[assignment]
        return exc

    busy = action_error(
        refused(
            "Run command extension execution is in progress. Please wait for completion "
            "before invoking a run command."
        )
    )
    wrong_os = action_error(refused("Run command OS type 'Linux' does not match the target OS"))
    assert busy.busy and busy.status == 409
    assert not wrong_os.busy and wrong_os.code == "Conflict"
