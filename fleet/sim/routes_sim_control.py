"""Loopback-only controls and ground truth added to ``/_sim`` (``routes_sim`` delegates here):

- ``GET /_sim/settings``; ``PUT`` (or ``POST``) a subset of ``max_per_vm``,
  ``identical_put_reruns``, ``output_refresh_s``, ``agent_fail_after_s`` (the run-command rules;
  the last two apply to executions created afterwards), ``throttle_headers`` (``current``,
  ``windowed``, ``none``) and ``throttle_headers_missing`` (a share) to change them mid-run.
- ``GET /_sim/background``: every background load with what it spent (``spent_at_start``,
  ``taken``, ``refused``); ``POST`` a body shaped like a profile's ``background`` section to start
  more (``start: "+N"`` = N Azure-seconds from now; omitted = now); ``PUT`` replaces (stops the
  running ones first); ``DELETE`` stops all, or one with ``?name=``.
- ``GET /_sim/outcomes``: the outcome classes set at run time; ``PUT`` (or ``POST``)
  ``{"names": ["web-00?"], "outcome": "disk-full"}`` makes the scripts of matching VMs end as
  that class of the profile from now on (``"outcome": null``: their profile class again) — a
  VM that starts failing, or recovers, between two runs of a scheduled check.
- ``GET /_sim/runcommands``: every run command now on a VM with its creator, tags and whether it
  carries fleet's marker, and every deletion (``deleted``: who created it, who deleted it, when).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any, Literal

from aiohttp import web
from pydantic import Field, NonNegativeFloat, PositiveFloat, PositiveInt, ValidationError

from fleet.sim.errors import ArmError
from fleet.sim.http import json_response
from fleet.sim.profile_background import BackgroundSection
from fleet.sim.profile_sections import Fraction, StrictModel
from fleet.sim.rc_ledger import fleet_marked
from fleet.sim.rc_state import view
from fleet.sim.throttle_headers import HeaderDialect

if TYPE_CHECKING:
    from fleet.sim.world import World

PATHS = frozenset({"/_sim/settings", "/_sim/background", "/_sim/runcommands", "/_sim/outcomes"})


class OutcomeChange(StrictModel):
    names: Annotated[list[str], Field(min_length=1)]
    outcome: str | None


def _outcomes(world: World, method: str, raw: bytes) -> dict[str, Any]:
    model = world.outcomes
    assert model is not None
    if method != "GET":
        change = _parse(OutcomeChange, raw, "InvalidOutcomes")
        try:
            model.force(tuple(change.names), change.outcome)
        except ValueError as exc:
            raise ArmError(400, "InvalidOutcomes", str(exc)) from exc
    return {"forced": model.forced()}


class SettingsChange(StrictModel):
    max_per_vm: PositiveInt | None = None
    identical_put_reruns: bool | None = None
    output_refresh_s: NonNegativeFloat | None = None
    agent_fail_after_s: PositiveFloat | None = None
    throttle_headers: Literal["current", "windowed", "none"] | None = None
    throttle_headers_missing: Fraction | None = None


def settings(world: World) -> dict[str, Any]:
    headers = world.compute_throttle.headers
    return {
        **world.runcommands.rules.snapshot(),
        "throttle_headers": str(headers.dialect),
        "throttle_headers_missing": headers.missing,
    }


def _change_settings(world: World, raw: bytes) -> None:
    change = _parse(SettingsChange, raw, "InvalidSettings")
    rules, headers = world.runcommands.rules, world.compute_throttle.headers
    for name in ("max_per_vm", "identical_put_reruns", "output_refresh_s", "agent_fail_after_s"):
        value = getattr(change, name)
        if value is not None:
            setattr(rules, name, value)
    if change.throttle_headers is not None:
        headers.dialect = HeaderDialect(change.throttle_headers)
    if change.throttle_headers_missing is not None:
        headers.missing = change.throttle_headers_missing


def _parse(model: type[Any], raw: bytes, code: str, now: float | None = None) -> Any:
    try:
        data = json.loads(raw or b"{}")
        if not isinstance(data, dict):
            raise ValueError("the body must be a JSON object")
        if now is not None:
            _relative_starts(data, now)
        return model.model_validate(data)
    except (ValueError, TypeError, RecursionError, ValidationError) as exc:
        raise ArmError(400, code, f"Bad {code.removeprefix('Invalid').lower()}: {exc}") from exc


def _relative_starts(data: dict[str, Any], now: float) -> None:
    """Background loads posted at run time start now, or ``"+N"`` Azure-seconds from now."""
    for kind in ("arm", "compute"):
        for load in data.get(kind) or ():
            if not isinstance(load, dict):
                continue
            start = load.get("start")
            if start is None:
                load["start"] = now
            elif isinstance(start, str) and start.startswith("+"):
                load["start"] = now + float(start[1:])


def _start_background(world: World, raw: bytes) -> None:
    assert world.background is not None
    section = _parse(BackgroundSection, raw, "InvalidBackground", world.clock.now())
    first_sub = world.profile.subscriptions[0].id
    for load in section.build(first_sub, world.principals[0].name):
        world.background.add(load)


def _background(world: World, request: web.Request, method: str, raw: bytes) -> dict[str, Any]:
    background = world.background
    assert background is not None
    now = world.clock.now()
    if method == "DELETE":
        background.stop(now, request.query.get("name"))
    elif method == "PUT":
        background.stop(now)
        _start_background(world, raw)
    elif method == "POST":
        _start_background(world, raw)
    return {"now": now, "loads": background.ground_truth(world.clock.now())}


def run_commands(world: World) -> dict[str, Any]:
    store, now = world.runcommands, world.clock.now()
    rows = []
    for rc in sorted(store.all(), key=lambda rc: (rc.vm.id.lower(), rc.name.lower())):
        origin = store.ledger.origin(rc.vm.id, rc.name)
        rows.append(
            {
                "target": rc.vm.id,
                "name": rc.name,
                "created_by": origin.created_by if origin else "unknown",
                "created_at": origin.created_at if origin else None,
                "preexisting": bool(origin and origin.preexisting),
                "fleet_marked": fleet_marked(rc.name, rc.spec.tags),
                "tags": dict(rc.spec.tags),
                "provisioning_state": store.provisioning_state(rc),
                "execution_state": str(view(rc.execution, now).state),
            }
        )
    return {"now": now, "run_commands": rows, "deleted": store.ledger.deletions()}


async def handle(world: World, request: web.Request, path: str, method: str) -> web.Response:
    raw = await request.read()
    if path == "/_sim/settings" and method in ("GET", "PUT", "POST"):
        if method != "GET":
            _change_settings(world, raw)
        return json_response(settings(world))
    if path == "/_sim/background" and method in ("GET", "POST", "PUT", "DELETE"):
        return json_response(_background(world, request, method, raw))
    if path == "/_sim/outcomes" and method in ("GET", "PUT", "POST"):
        return json_response(_outcomes(world, method, raw))
    if path == "/_sim/runcommands" and method == "GET":
        return json_response(run_commands(world))
    raise ArmError(405, "MethodNotAllowed", f"{method} is not allowed on {request.path}.")
