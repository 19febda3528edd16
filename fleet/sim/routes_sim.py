"""Loopback-only introspection, the emulator's ground truth: ``GET /_sim/stats`` (requests by
operation and status, 429s sent by bucket, faults injected), ``GET /_sim/executions`` (every
run-command execution under ``executions``, their number under ``execution_count``, and how many
times each run command actually ran on each target under ``executed_per_target``; action run
commands are in the same list and counts, rows marked ``kind: action``, summed up under
``actions``), ``GET /_sim/restarts`` (every VM restart accepted, with its timeline, and
``restarts_per_target``), ``GET/PUT /_sim/faults`` (change fault injection at run time),
``GET /_sim/inventory`` (every target with its simulated state, including its ``run_as_users``)
and ``POST /_sim/reset-stats``. The run-command settings, background load and run-command ground
truth (``/_sim/settings``, ``/_sim/background``, ``/_sim/outcomes``, ``/_sim/runcommands``) are in
``routes_sim_control``; ``/_sim/executions`` also counts the PUT/PATCH requests each managed run
command received (``put_requests_per_target``: every one that reached the emulator, whatever
became of it; ``puts_applied_per_target``: those the store accepted).

Never authenticated, never throttled, never faulted; refused for non-loopback peers.
"""

from __future__ import annotations

import ipaddress
import json
from typing import TYPE_CHECKING, Any

from aiohttp import web
from pydantic import ValidationError

from fleet.sim import routes_sim_control
from fleet.sim.action import merge_ground_truth
from fleet.sim.errors import ArmError
from fleet.sim.faults import FaultConfig
from fleet.sim.http import json_response
from fleet.sim.profile_sections import Faults

if TYPE_CHECKING:
    from fleet.sim.world import World


def _target_row(world: World, vm: Any) -> dict[str, Any]:
    return {
        "id": vm.id,
        "name": vm.name,
        "kind": _kind(vm),
        "subscription": vm.subscription_id,
        "resource_group": vm.resource_group,
        "location": vm.location,
        "zone": vm.zone,
        "os": vm.os,
        "power_state": vm.power_state.value,
        "agent": vm.agent.value,
        "script_fault": vm.script_fault,
        "tags": vm.tags,
        "run_as_users": list(world.runcommands.rules.users.users(vm)),
    }


def _kind(vm: Any) -> str:
    if vm.scale_set is None:
        return "vm"
    return "vmss-uniform" if vm.is_uniform_instance else "vmss-flexible"


def _fault_config(raw: bytes, now: float) -> FaultConfig:
    """Validate a runtime fault change like a profile's ``faults`` section (storm ``start`` may
    also be ``"+N"``: N Azure-seconds from now)."""
    try:
        data = json.loads(raw or b"{}")
        if not isinstance(data, dict):
            raise ValueError("the body must be a JSON object like a profile's faults section")
        for storm in data.get("throttle_storms") or ():
            start = storm.get("start") if isinstance(storm, dict) else None
            if isinstance(start, str) and start.startswith("+"):
                storm["start"] = now + float(start[1:])
        faults = Faults.model_validate(data)
    except (ValueError, TypeError, RecursionError, ValidationError) as exc:
        raise ArmError(400, "InvalidFaults", f"Bad fault configuration: {exc}") from exc
    return FaultConfig.from_dict(faults.model_dump())


async def handle(world: World, request: web.Request) -> web.Response:
    peer = (request.remote or "").split("%")[0]
    try:
        loopback = ipaddress.ip_address(peer).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ArmError(403, "Forbidden", "The /_sim introspection API is loopback-only.")
    path, method = request.path.rstrip("/").lower(), request.method
    if path in routes_sim_control.PATHS:
        return await routes_sim_control.handle(world, request, path, method)
    if path == "/_sim/stats" and method == "GET":
        snap = world.stats.snapshot()
        snap["now"] = world.clock.now()
        snap["time_scale"] = world.clock.time_scale
        if world.blob_agent is not None:  # what the agents wrote to output blobs
            snap["blobs"] = dict(world.blob_agent.stats)
        return json_response(snap)
    if path == "/_sim/executions" and method == "GET":
        # The store's totals also have an "executions" key (a count): the list must win.
        totals = world.runcommands.stats()
        totals["execution_count"] = totals.pop("executions")
        body = {**totals, "executions": world.runcommands.executions()}
        now = world.clock.now()
        merge_ground_truth(body, world.actions.rows(now), world.actions.conflicts)
        return json_response(body)
    if path == "/_sim/restarts" and method == "GET":
        return json_response(world.power.restarts(world.clock.now()))
    if path == "/_sim/inventory" and method == "GET":
        rows = [_target_row(world, vm) for vm in world.inventory.all_targets()]
        return json_response({"targets": sorted(rows, key=lambda r: r["id"].lower())})
    if path == "/_sim/faults" and method == "GET":
        return json_response(world.faults.config.to_dict())
    if path == "/_sim/faults" and method in ("PUT", "POST"):
        world.faults.reconfigure(_fault_config(await request.read(), world.clock.now()))
        return json_response(world.faults.config.to_dict())
    if path == "/_sim/reset-stats" and method == "POST":
        world.stats.reset()
        return json_response({"ok": True})
    raise ArmError(404, "NotFound", f"No introspection endpoint {method} {request.path}.")
