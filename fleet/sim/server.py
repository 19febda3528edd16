"""The emulator's HTTPS server: one aiohttp handler that runs every ARM request through the same
pipeline Azure's front door does, then the matching route.

Pipeline: introspection (``/_sim``, loopback only) → injected faults (reset, storm, 5xx) →
authentication (401) → route match (404/405) → api-version (400) → ARM token buckets (429) →
RBAC (403) → route handler (which charges Compute RP policies) → response headers → a reset
after processing, if one was drawn. Any ``ArmError`` becomes its ARM error body; anything else
becomes a 500 ``InternalServerError`` body (and is logged), never a traceback on the wire.
"""

from __future__ import annotations

import contextlib
import logging
import math
import socket
import struct
import uuid
from collections.abc import Iterable

from aiohttp import web

from fleet.sim import (
    routes_action,
    routes_catalog,
    routes_compute,
    routes_graph,
    routes_power,
    routes_resources,
    routes_runcommands,
    routes_sim,
)
from fleet.sim.auth import Principal, authorize
from fleet.sim.errors import ArmError
from fleet.sim.faults import FaultDecision, FaultKind
from fleet.sim.http import Ctx, Route, json_response, set_headers, throttled_error
from fleet.sim.world import World

log = logging.getLogger("fleet.sim")

API_VERSIONS: dict[str, frozenset[str]] = {
    "compute": frozenset(
        {
            "2023-03-01",
            "2023-07-01",
            "2023-09-01",
            "2024-03-01",
            "2024-07-01",
            "2024-11-01",
            "2025-04-01",
            "2025-11-01",
            "2026-04-01",
        }
    ),
    "resources": frozenset(
        {
            "2021-04-01",
            "2022-09-01",
            "2023-07-01",
            "2024-03-01",
            "2024-07-01",
            "2024-11-01",
            "2025-01-01",
            "2025-03-01",
            "2025-04-01",
        }
    ),
    "graph": frozenset(
        {"2019-04-01", "2020-04-01-preview", "2021-03-01", "2022-10-01", "2024-04-01"}
    ),
}

ROUTES: tuple[Route, ...] = (
    *routes_resources.ROUTES,
    *routes_runcommands.ROUTES,
    *routes_compute.ROUTES,
    *routes_graph.ROUTES,
    *routes_power.ROUTES,
    *routes_action.ROUTES,
    *routes_catalog.ROUTES,
)


def _match(method: str, path: str, routes: Iterable[Route]) -> tuple[Route, dict[str, str]]:
    allowed = False
    for route in routes:
        params = route.match(method, path)
        if params is not None:
            return route, params
        if route.pattern.fullmatch(path):
            allowed = True
    if allowed:
        raise ArmError(
            405, "MethodNotAllowed", f"The method '{method}' is not allowed on '{path}'."
        )
    message = f"No HTTP resource was found that matches the request URI '{path}'."
    raise ArmError(404, "NotFound", message)


def _lookup(method: str, path: str) -> tuple[Route, dict[str, str]] | ArmError:
    """The matching route, or the 404/405 to answer once faults and auth have had their say."""
    try:
        return _match(method, path, ROUTES)
    except ArmError as exc:
        return exc


def _check_api_version(route: Route, version: str | None) -> None:
    if not version:
        message = "The api-version query parameter (?api-version=) is required for all requests."
        raise ArmError(400, "MissingApiVersionParameter", message)
    supported = API_VERSIONS[route.family]
    if version not in supported:
        message = (
            f"The api-version '{version}' is invalid for '{route.operation}'. The supported "
            f"versions are '{', '.join(sorted(supported))}'."
        )
        raise ArmError(400, "InvalidApiVersionParameter", message)


def _reset(request: web.Request) -> None:
    """Drop the connection with a TCP RST, as a flaky load balancer would."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


class Server:
    """Turns a :class:`World` into an aiohttp application."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.base_url = ""  # set once the listening port is known

    def app(self) -> web.Application:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.world.power.advance(self.world.clock.now())  # restarts: transitions now due
        if request.path.lower().startswith("/_sim"):
            try:
                return await routes_sim.handle(self.world, request)
            except ArmError as exc:
                return json_response(exc.body(), exc.status, exc.headers)
        world = self.world
        # Match first so that stats attribute faults, 401s and 429s to the operation (and resets
        # can target one), but answer in Azure's order: faults, then 401, then 404/405.
        matched = _lookup(request.method, request.path)
        operation, kind = ("Unmatched", None)
        if not isinstance(matched, ArmError):
            operation, kind = matched[0].operation, matched[0].kind
            routes_runcommands.note_request(world, matched[0], matched[1])
        try:
            fault = world.faults.decide(request.method, world.clock.now(), operation)
        except Exception:  # a bad fault configuration must not take the emulator down
            log.exception("fault injection failed; serving the request without a fault")
            fault = FaultDecision(FaultKind.NONE)
        if fault.kind is not FaultKind.NONE:
            world.stats.faults[fault.kind.value] += 1
        if fault.kind is FaultKind.RESET_BEFORE:
            _reset(request)
            return web.Response(status=500)
        try:
            self._inject(fault)
            principal = world.authenticator.authenticate(request.headers.get("Authorization"))
            if isinstance(matched, ArmError):
                raise matched
            route, params = matched
            response = await self._dispatch(request, route, params, principal)
        except ArmError as exc:
            response = json_response(exc.body(), exc.status, exc.headers)
        except Exception:  # a bug in the emulator: answer like Azure would, keep serving
            log.exception("emulator handler failed for %s %s", request.method, request.path)
            body = {"error": {"code": "InternalServerError", "message": "Internal error."}}
            response = json_response(body, 500)
        request_id = str(uuid.uuid4())
        response.headers.setdefault("x-ms-request-id", request_id)
        response.headers.setdefault("x-ms-correlation-request-id", request_id)
        world.stats.record(operation, kind, response.status)
        if fault.kind is FaultKind.RESET_AFTER:
            _reset(request)
        return response

    def _inject(self, fault: FaultDecision) -> None:
        if fault.kind is FaultKind.STORM:
            self.world.stats.throttled["storm"] += 1
            wall = self.world.clock.to_wall(fault.retry_after)
            headers = {  # rounded up, as for bucket 429s: never advertise a too-short wait
                "Retry-After": str(max(1, math.ceil(wall))),
                "x-ms-retry-after-ms": str(max(1, math.ceil(wall * 1000))),
            }
            # A storm is ARM saying "slow down" (as when other clients drain the subscription's
            # buckets): the ARM body, so clients classify it like any ARM throttle.
            message = (
                "Number of requests for this subscription exceeded the limit (a throttle storm). "
                f"Please try again after '{math.ceil(fault.retry_after)}' seconds."
            )
            raise ArmError(429, "SubscriptionRequestsThrottled", message, headers=headers)
        if fault.kind is FaultKind.TRANSIENT:
            code = "ServiceUnavailable" if fault.status == 503 else "InternalServerError"
            message = "The server encountered a transient error. Please retry the request."
            raise ArmError(fault.status, code, message)

    async def _dispatch(
        self, request: web.Request, route: Route, params: dict[str, str], principal: Principal
    ) -> web.StreamResponse:
        world = self.world
        _check_api_version(route, request.query.get("api-version"))
        ctx = Ctx(world, request, route, params, principal, world.clock.now(), self.base_url)
        if route.kind is not None:
            sub = params.get("sub", "")
            decision = world.arm_throttle.check(ctx.now, sub, principal.name, route.kind)
            ctx.headers.update(decision.headers)
            if not decision.allowed:
                world.stats.throttled[decision.bucket or f"arm:{route.kind}"] += 1
                raise throttled_error(world, decision, ctx.headers)
        # Resource Graph filters subscriptions by access instead; an operation's status is
        # readable by whoever may read the VM it belongs to (checked in its handler)
        if route.family != "graph" and route.operation != "Operations_Get":
            try:
                authorize(principal, request.path, route.permission, route.action)
            except ArmError as exc:
                exc.headers.update(ctx.headers)
                raise
        try:
            response = await route.handler(ctx)
        except ArmError as exc:
            exc.headers = {**ctx.headers, **exc.headers}
            raise
        set_headers(response, ctx.headers)
        return response
