"""``fleet.ports.RunCommands`` for the action run command (``mode: action``): ``POST
{vm}/runCommand`` and ``{vmss}/virtualMachines/{id}/runCommand`` through the real SDK
(``begin_run_command``), one long-running operation per target.

Where it differs from managed run commands, and how the port absorbs it:

- **No resource, one operation.** ``put`` POSTs once (``SEND_ONCE``: no SDK retry, and the
  session does not re-send it either, ``fleet.azure.send_once``) with ``polling=False``: the
  SDK's poller waits 30 s between polls. It answers ``Launched(handle=<the
  Azure-AsyncOperation URL>)``; ``get`` with that handle reads the operation's status document
  (charged to Compute's GetOperation policy, polled when the engine's planner says, like a
  managed run command), whose ``properties.output`` holds the result when it succeeded. The
  operation does not say whether the agent has started the script: while it is in progress,
  the VM's extension status is read too until it shows the agent working (Pending before,
  Running after), so a dead agent is reported as one, not as a wedged script.
- **No exit code.** The script is wrapped so its exit code comes back in the output
  (``fleet.azure.action_script``); a result without fleet's marker is ``Failed``, "exit code
  unknown". A built-in command (``command_id``) is wrapped too: its default script comes from
  the catalog (``RunCommandDocument.script``) and is sent as the command's ``script``, which
  the spec says replaces the default one.
- **One at a time per VM.** A POST while another action command runs gets 409 "Run command
  extension execution is in progress" (MicrosoftDocs/azure-docs#110433): returned as a
  ``CallError`` with ``busy``; the engine waits and sends again.
- **What Azure lets fleet know when a POST's answer was lost**: only the VM's instance view,
  whose ``RunCommandLinux`` / ``RunCommandWindows`` extension shows the *latest* action
  command's status (transitioning, then its output). ``get`` without an operation handle (or
  when the operation is gone: 404) reads that. While it is transitioning, or when its output
  has no marker, whose command it is cannot be told (``RunView.owner_unknown``); once it ended
  with a marker, the marker's run id says. Azure keeps no request id or caller on it.
- **No cancel.** Azure has no API to stop an action run command: ``delete`` refuses without
  a request; a stop only stops launching (the engine reports the command left running).

Parameters: named ones reach a Linux script as environment variables, unnamed ones as
arguments; the run id goes as ``FLEET_RUN_ID`` to Linux scripts only (a Windows script's
``param()`` block would refuse an unknown name; the marker carries the run id anyway).
``RunCommandInput`` has no protected parameters, run-as user or script URI: such invocations
are refused without a request (the spec refuses them first, ``fleet.spec.build``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from azure.core.exceptions import AzureError, HttpResponseError
from azure.core.rest import HttpRequest

from fleet.azure.action_script import ActionOutput, marker_safe, parse_statuses, wrap
from fleet.azure.body import wire_parameters
from fleet.azure.catalog import AzureCommandCatalog
from fleet.azure.clients import ArmClients
from fleet.azure.run_commands import AzureRunCommands, call_error
from fleet.azure.send_once import SEND_ONCE
from fleet.model import (
    RUN_ID_PARAMETER,
    CallError,
    Invocation,
    Launched,
    ListedRunCommand,
    RunView,
    SourceKind,
    Target,
    TargetKind,
)

BUSY_MESSAGE = "execution is in progress"  # of Azure's 409 (MicrosoftDocs/azure-docs#110433)
NOT_CANCELABLE = CallError(
    405,
    "NotCancelable",
    "an action run command cannot be stopped (Azure has no API for it); it runs to its end, "
    "at most 90 minutes",
)
_SHELL = {"linux": "RunShellScript", "windows": "RunPowerShellScript"}
_EXTENSIONS = ("RunCommandLinux", "RunCommandWindows")
_AGENT_LOST = "VMAgentStatusCommunicationError"
_TIMED_OUT = "VMExtensionProvisioningTimeout"


def _refused(message: str) -> CallError:
    return CallError(400, "InvalidActionRunCommand", message)


class AzureActionCommands:
    """Needs clients with fleet's ThrottlePolicy (it consumes ``fleet_region=``)."""

    def __init__(self, clients: ArmClients, catalog: AzureCommandCatalog) -> None:
        self.clients, self.catalog = clients, catalog
        self._endpoint = urlsplit(clients.conn.endpoint).netloc.lower()
        self._started: set[str] = set()  # operations the agent was seen working on
        self._managed = AzureRunCommands(clients)

    async def put(self, target: Target, invocation: Invocation) -> CallError | Launched | None:
        body = await self._body(target, invocation)
        if isinstance(body, CallError):
            return body
        compute = self.clients.compute(target.subscription)
        seen: dict[str, str] = {}

        def keep_operation(response: Any) -> None:
            headers = response.http_response.headers
            seen["op"] = headers.get("Azure-AsyncOperation") or headers.get("Location") or ""

        if target.kind is TargetKind.VMSS_UNIFORM:
            ops: Any = compute.virtual_machine_scale_set_vms
            path: tuple[str, ...] = (target.resource_group, target.scale_set or "")
            path += (target.instance_id or "",)
        else:
            ops, path = compute.virtual_machines, (target.resource_group, target.name)
        try:
            await ops.begin_run_command(
                *path, body, polling=False, raw_response_hook=keep_operation,
                fleet_region=target.location, **SEND_ONCE,
            )  # fmt: skip
        except AzureError as exc:
            return action_error(exc)
        return Launched(seen.get("op") or None)

    async def _body(self, target: Target, inv: Invocation) -> dict[str, Any] | CallError:
        """The ``RunCommandInput``, the script wrapped; or why it cannot be sent."""
        if inv.protected_parameters or inv.run_as_user or inv.run_as_password is not None:
            return _refused("an action run command takes no protected parameters or run-as user")
        if not marker_safe(inv.run_id):
            return _refused(f"run id {inv.run_id!r} cannot be carried in the exit-code marker")
        os_name = "windows" if target.os == "windows" else "linux"
        if inv.source.kind is SourceKind.URI:
            return _refused("an action run command takes no script URI")
        command_id, script = _SHELL[os_name], inv.source.value
        if inv.source.kind is SourceKind.COMMAND_ID:
            command_id = inv.source.value
            found = await self.catalog.command(target.subscription, target.location, command_id)
            if isinstance(found, CallError):
                return found
            script = "\n".join(found.script)
        params = tuple(
            p for p in inv.parameters if os_name == "linux" or p.name != RUN_ID_PARAMETER
        )
        return {
            "commandId": command_id,
            "script": wrap(script, os_name, inv.run_id),
            "parameters": wire_parameters(params),
        }

    async def get(self, target: Target, run_command: str) -> RunView | CallError:
        """The operation ``run_command`` names (a handle ``put`` answered), else — or once the
        operation is gone, or when it is not on this connection's endpoint — the VM's action
        run-command extension status."""
        if run_command.startswith("https://") and self._ours(run_command):
            view = await self._operation(target, run_command)
            if isinstance(view, RunView) and view.execution_state == "Running":
                return await self._started_yet(target, run_command)
            if not (isinstance(view, CallError) and view.status == 404):
                return view
        return await self._extension(target)

    async def _started_yet(self, target: Target, handle: str) -> RunView:
        """An operation in progress: Running once the agent reports the extension working on
        it (one at a time per VM: while this operation runs, a transitioning extension is
        this command), else still Pending — a dead agent never picks it up. One instance-view
        read per poll until the agent is seen working, none after."""
        if handle not in self._started:
            extension = await self._extension(target)
            if not (isinstance(extension, RunView) and extension.execution_state == "Running"):
                return RunView("Pending")
            self._started.add(handle)
        return RunView("Running")

    async def delete(self, target: Target, run_command: str) -> CallError | None:
        return NOT_CANCELABLE

    async def list_commands(self, target: Target) -> Sequence[ListedRunCommand] | CallError:
        """The VM's managed run commands (an action run command leaves none of its own)."""
        return await self._managed.list_commands(target)

    def _ours(self, url: str) -> bool:
        """Whether ``url`` is on this connection's ARM endpoint: the bearer token goes nowhere
        else (a journaled operation of another endpoint is read through the VM instead)."""
        return urlsplit(url).netloc.lower() == self._endpoint

    async def _operation(self, target: Target, url: str) -> RunView | CallError:
        compute = self.clients.compute(target.subscription)
        try:
            response = await compute.send_request(
                HttpRequest("GET", url), fleet_region=target.location
            )
        except AzureError as exc:
            return call_error(exc)
        if response.status_code >= 400:
            error = _json(response).get("error") or {}
            code = str(error.get("code") or f"HTTP {response.status_code}")
            return CallError(response.status_code, code, str(error.get("message") or ""))
        return operation_view(_json(response))

    async def _extension(self, target: Target) -> RunView | CallError:
        compute = self.clients.compute(target.subscription)
        view: Any
        try:
            if target.kind is TargetKind.VMSS_UNIFORM:
                view = await compute.virtual_machine_scale_set_vms.get_instance_view(
                    target.resource_group, target.scale_set or "", target.instance_id or "",
                    fleet_region=target.location,
                )  # fmt: skip
            else:
                view = await compute.virtual_machines.instance_view(
                    target.resource_group, target.name, fleet_region=target.location
                )
        except AzureError as exc:
            return call_error(exc)
        return extension_view(view.extensions or [])


def action_error(exc: AzureError) -> CallError:
    """An SDK exception of the POST; Azure's "execution is in progress" 409 is ``busy``."""
    err = call_error(exc)
    busy = isinstance(exc, HttpResponseError) and err.status == 409
    if busy and BUSY_MESSAGE in err.message.lower():
        return CallError(err.status, err.code, err.message, busy=True)
    return err


def _json(response: Any) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _time(value: Any) -> datetime | None:
    """An ARM timestamp (7 fractional digits, ``Z`` or an offset) as a datetime."""
    if not isinstance(value, str):
        return None
    text = re.sub(r"(\.\d{6})\d+", r"\1", value.replace("Z", "+00:00"))
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _finished(out: ActionOutput, **extra: Any) -> RunView:
    state = "Succeeded" if out.exit_code == 0 else "Failed"
    return RunView(
        state, exit_code=out.exit_code, output=out.stdout, error=out.stderr,
        message=out.note, run_id=out.run_id, **extra,
    )  # fmt: skip


def operation_view(doc: dict[str, Any]) -> RunView:
    """An action run command's operation status document as a ``RunView``."""
    status = str(doc.get("status") or "InProgress")
    started, ended = _time(doc.get("startTime")), _time(doc.get("endTime"))
    if status == "Succeeded":
        output = (doc.get("properties") or {}).get("output") or {}
        out = parse_statuses(list(output.get("value") or []))
        return _finished(out, start_time=started, end_time=ended)
    error = doc.get("error") or {}
    code, message = str(error.get("code") or ""), str(error.get("message") or "")
    if status == "Failed" and code == _AGENT_LOST:  # the agent never picked it up
        return RunView("TimedOut", message=f"{code}: {message}", end_time=ended)
    if status == "Failed" and code == _TIMED_OUT:  # Azure's 90-minute limit
        return RunView("TimedOut", message=f"{code}: {message}", start_time=started, end_time=ended)
    if status in ("Failed", "Canceled"):
        return RunView(status, message=f"{code or status}: {message}", end_time=ended)
    return RunView("Running")


def extension_view(extensions: list[Any]) -> RunView | CallError:
    """The action run-command extension in a VM's instance view as a ``RunView``."""
    found = next((e for e in extensions if _is_action_extension(e)), None)
    if found is None:
        return CallError(404, "NotFound", "no action run command has run on this VM")
    statuses = [*(found.statuses or []), *(found.substatuses or [])]
    codes = [str(s.code or "") for s in statuses]
    if not codes or any("transitioning" in c for c in codes):
        return RunView("Running", owner_unknown=True)
    out = parse_statuses([{"code": s.code, "message": s.message} for s in statuses])
    if out.exit_code is None:
        return RunView("Failed", message=out.note, owner_unknown=True)
    return _finished(out)


def _is_action_extension(extension: Any) -> bool:
    name = f"{extension.name or ''} {extension.type or ''}"
    return any(re.search(rf"(^|[ .]){kind}\b", name) for kind in _EXTENSIONS)
