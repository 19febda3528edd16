"""``fleet.ports.RunCommands`` with the real SDK: managed run commands on VMs (and Flexible
members) and on Uniform scale-set instances.

Creates with ``polling=False`` — the SDK's LRO poller waits 30 s between polls and its final
GET has no instance view — and reads outcomes with ``expand="instanceView"``. SDK exceptions
become ``CallError`` values; nothing here raises for an Azure-side failure.

A PUT leaves at most once per call (``SEND_ONCE``: no SDK retry; the session does not re-send
it either, ``fleet.azure.send_once``): whether to send it again is the engine's decision, made
after reading the run command. Reads and deletes keep the client's retries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)

from fleet.azure.body import run_command_body
from fleet.azure.clients import ArmClients
from fleet.azure.send_once import SEND_ONCE
from fleet.model import (
    RUN_ID_PARAMETER,
    CallError,
    Invocation,
    ListedRunCommand,
    RunView,
    Target,
    TargetKind,
)


def call_error(exc: AzureError) -> CallError:
    """An SDK exception as (status, ARM code, message); status 0 = no HTTP response."""
    if isinstance(exc, HttpResponseError):
        status = exc.status_code or 0
        code = getattr(getattr(exc, "error", None), "code", None) or exc.reason or "HttpError"
        message = getattr(getattr(exc, "error", None), "message", None) or exc.message or ""
        return CallError(status, str(code), str(message))
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return CallError(0, type(exc).__name__, str(exc.message or exc))
    return CallError(0, type(exc).__name__, str(exc))


def enum_text(value: Any) -> str | None:
    """SDK enums are ``str`` subclasses whose ``str()`` is ``Class.MEMBER``: use the wire value."""
    if value is None:
        return None
    return str(getattr(value, "value", value))


def _view(model: Any) -> RunView:
    iv = model.instance_view
    run_id = next((p.value for p in (model.parameters or []) if p.name == RUN_ID_PARAMETER), None)
    if iv is None:
        return RunView("Unknown", enum_text(model.provisioning_state), run_id=run_id)
    return RunView(
        execution_state=enum_text(iv.execution_state) or "Unknown",
        provisioning_state=enum_text(model.provisioning_state),
        exit_code=iv.exit_code,
        output=iv.output or "",
        error=iv.error or "",
        message=iv.execution_message or "",
        start_time=iv.start_time,
        end_time=iv.end_time,
        run_id=run_id,
    )


def _listed(model: Any) -> ListedRunCommand:
    tags = tuple(sorted((str(k), str(v)) for k, v in (model.tags or {}).items()))
    return ListedRunCommand(name=str(model.name), tags=tags, view=_view(model))


class AzureRunCommands:
    """Needs clients with fleet's ThrottlePolicy (``ArmConnection(throttle=...)``): it consumes
    the ``fleet_region=`` keyword (the Compute limits are per region), which aiohttp would
    otherwise reject."""

    def __init__(self, clients: ArmClients) -> None:
        self.clients = clients

    def _address(self, target: Target) -> tuple[Any, tuple[str, ...], str]:
        """(operations group, leading path arguments, name of the GET method) for ``target``."""
        compute = self.clients.compute(target.subscription)
        if target.kind is TargetKind.VMSS_UNIFORM:
            instance = (target.resource_group, target.scale_set or "", target.instance_id or "")
            return compute.virtual_machine_scale_set_vm_run_commands, instance, "get"
        vm = (target.resource_group, target.name)
        return compute.virtual_machine_run_commands, vm, "get_by_virtual_machine"

    async def list_commands(self, target: Target) -> Sequence[ListedRunCommand] | CallError:
        ops, path, get_name = self._address(target)
        lister = ops.list if get_name == "get" else ops.list_by_virtual_machine
        try:
            pages = lister(*path, expand="instanceView", fleet_region=target.location)
            return [_listed(model) async for model in pages]
        except AzureError as exc:
            return call_error(exc)

    async def put(self, target: Target, invocation: Invocation) -> CallError | None:
        ops, path, _ = self._address(target)
        body = run_command_body(invocation, target.location)
        try:
            await ops.begin_create_or_update(
                *path, invocation.run_command, body,
                polling=False, fleet_region=target.location, **SEND_ONCE,
            )  # fmt: skip
        except AzureError as exc:
            return call_error(exc)
        return None

    async def get(self, target: Target, run_command: str) -> RunView | CallError:
        ops, path, get_name = self._address(target)
        try:
            model = await getattr(ops, get_name)(
                *path, run_command, expand="instanceView", fleet_region=target.location
            )
        except AzureError as exc:
            return call_error(exc)
        return _view(model)

    async def delete(self, target: Target, run_command: str) -> CallError | None:
        ops, path, _ = self._address(target)
        try:
            await ops.begin_delete(*path, run_command, polling=False, fleet_region=target.location)
        except AzureError as exc:
            return call_error(exc)
        return None
