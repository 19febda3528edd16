"""Compute async operations other than managed run commands (restarts, action run commands):
the status URLs a 202 points at, and how ``GET .../locations/{loc}/operations/{id}`` answers.

Every such operation object in ``World.operations`` implements :class:`AsyncOperation`. The
``Azure-AsyncOperation`` URL returns its status document (``status`` InProgress / Succeeded /
Failed / Canceled, ``startTime``, ``endTime``, ``error``, and for the action run command
``properties.output``, as captured in Azure/azure-cli#32286 and Azure/azure-powershell#8848).
The ``Location`` URL (``&monitor=true``) answers 202 while in progress and 200 with the final
body when done (D-ASYNC); for a failed operation its status code is not documented, so it answers
400 with the operation's error (clients that follow ``Azure-AsyncOperation``, as the SDK does,
never get there). Polls are charged to Compute's Get Operation policy.
"""

from __future__ import annotations

from typing import Any, Protocol

from aiohttp import web

from fleet.sim.auth import Permission, authorize
from fleet.sim.errors import ArmError, bad_request
from fleet.sim.http import Ctx, json_response


class AsyncOperation(Protocol):
    # Read-only members: an operation may hold them as fields or derive them (properties).
    @property
    def operation_id(self) -> str: ...

    @property
    def subscription_id(self) -> str: ...

    @property
    def location(self) -> str: ...

    @property
    def resource_id(self) -> str:
        """What the caller must be allowed to read, and the throttled resource."""
        ...

    def document(self, now: float) -> dict[str, Any]: ...

    def result(self, now: float) -> Any | None:
        """The final body of a Succeeded operation (None: an empty 200)."""
        ...


def operation_headers(ctx: Ctx, subscription_id: str, location: str, op_id: str) -> dict[str, str]:
    """``Azure-AsyncOperation`` and ``Location`` (the same URL plus ``&monitor=true``)."""
    api = ctx.query("api-version") or ""
    path = (
        f"/subscriptions/{subscription_id}/providers/Microsoft.Compute"
        f"/locations/{location}/operations/{op_id}"
    )
    status_url = ctx.url(path, {"api-version": api})
    return {"Azure-AsyncOperation": status_url, "Location": f"{status_url}&monitor=true"}


def accepted(ctx: Ctx, op: AsyncOperation) -> web.Response:
    """Register ``op`` and answer 202 with its status URLs (no body)."""
    ctx.world.operations[op.operation_id] = op
    headers = operation_headers(ctx, op.subscription_id, op.location, op.operation_id)
    return web.Response(status=202, headers=headers)


async def serve(ctx: Ctx, op: AsyncOperation) -> web.Response:
    """Answer a status or monitor poll of ``op``."""
    op_id = ctx.params["op"]
    if op.subscription_id.lower() != ctx.params["sub"].lower():
        raise bad_request(f"The operation '{op_id}' does not belong to this subscription.")
    if op.location.lower() != ctx.params["loc"].lower():
        raise ArmError(404, "NotFound", f"The operation '{op_id}' was not found.")
    authorize(ctx.principal, op.resource_id, Permission.READ, ctx.route.action)
    ctx.compute("GetOperation", op.location, op.resource_id)
    doc = op.document(ctx.now)
    if (ctx.query("monitor") or "").lower() != "true":
        return json_response(doc)
    status = doc["status"]
    if status == "InProgress":
        headers = operation_headers(ctx, op.subscription_id, op.location, op_id)
        return web.Response(status=202, headers=headers)
    if status == "Succeeded":
        body = op.result(ctx.now)
        return web.Response(status=200) if body is None else json_response(body)
    error = doc.get("error") or {}
    raise ArmError(400, error.get("code", "OperationFailed"), error.get("message", status))
