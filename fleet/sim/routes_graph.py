"""Resource Graph: ``POST /providers/Microsoft.ResourceGraph/resources`` over the ``Resources``
table with the KQL subset of :mod:`fleet.sim.kql`, ``$top``/``$skip``/``$skipToken`` paging,
``objectArray`` and ``table`` result formats, and the per-user quota headers.

Only subscriptions the caller can read are searched (Resource Graph silently drops the rest).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from fleet.sim.auth import Permission
from fleet.sim.errors import ArmError, bad_request
from fleet.sim.http import Ctx, Route, decode_token, encode_token, json_response, throttled_error
from fleet.sim.kql import KqlError, run_query
from fleet.sim.serialize import graph_row

MAX_PAGE = 1000


def _query_error(exc: KqlError) -> ArmError:
    details = [
        {"code": "InvalidQuery", "message": "Query is invalid. Please refer to the documentation "
         "for the Azure Resource Graph service and fix the error before retrying."},
        {"code": "UnsupportedQueryConstruct", "message": exc.message, "target": exc.construct},
    ]
    message = f"Unsupported or invalid query construct '{exc.construct}': {exc.message}"
    return ArmError(400, "BadRequest", message, details=details)


def _rows(ctx: Ctx, subscriptions: list[str]) -> list[dict[str, Any]]:
    inv, tenant = ctx.world.inventory, ctx.world.tenant_id
    wanted = {s.lower() for s in subscriptions}
    readable = {
        s for s in wanted
        if Permission.READ in ctx.principal.permissions_at(f"/subscriptions/{s}")
    }
    everything = [*inv.vms.values(), *inv.scale_sets.values(), *inv.others]
    rows = [graph_row(r, tenant) for r in everything if r.subscription_id.lower() in readable]
    rows.sort(key=lambda r: r["id"].lower())
    return rows


def _options(body: dict[str, Any]) -> tuple[int | None, int | None, str | None, str]:
    options = body.get("options") or {}
    if not isinstance(options, dict):
        raise bad_request("'options' must be an object.")
    top, skip = options.get("$top"), options.get("$skip")
    for name, value in (("$top", top), ("$skip", skip)):
        if value is not None and (not isinstance(value, int) or value < 0):
            raise bad_request(f"options.{name} must be a non-negative integer, got {value!r}.")
    if top is not None and not 1 <= top <= MAX_PAGE:
        raise bad_request(f"options.$top must be between 1 and {MAX_PAGE}, got {top}.")
    fmt = options.get("resultFormat") or "objectArray"
    if fmt not in ("objectArray", "table"):
        raise bad_request(f"options.resultFormat must be 'objectArray' or 'table', got {fmt!r}.")
    return top, skip, options.get("$skipToken"), fmt


def _table(rows: list[dict[str, Any]], columns: list[str]) -> dict[str, Any]:
    return {
        "columns": [{"name": c, "type": "object"} for c in columns],
        "rows": [[r.get(c) for c in columns] for r in rows],
    }


async def query_resources(ctx: Ctx) -> web.Response:
    decision = ctx.world.graph_quota.check(ctx.now, ctx.principal.name)
    ctx.headers.update(decision.headers)
    if not decision.allowed:
        ctx.world.stats.throttled[decision.bucket or "graph"] += 1
        raise throttled_error(ctx.world, decision, ctx.headers)
    body = await ctx.json_body()
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        raise bad_request("The request must be an object with a string property 'query'.")
    subscriptions = body.get("subscriptions")
    if not subscriptions or not isinstance(subscriptions, list):
        raise bad_request("Specify at least one subscription in 'subscriptions' "
                          "(management-group scopes are not emulated).")
    top, skip, token, fmt = _options(body)
    try:
        result = run_query(body["query"], _rows(ctx, subscriptions))
    except KqlError as exc:
        raise _query_error(exc) from exc
    offset = decode_token(token) if token else 0
    if skip is not None:
        offset = skip
    size = top or MAX_PAGE
    chunk = result.rows[offset: offset + size]
    out: dict[str, Any] = {
        "totalRecords": len(result.rows),
        "count": len(chunk),
        "resultTruncated": "false",
        "facets": [],
        "data": _table(chunk, result.columns) if fmt == "table" else chunk,
    }
    if offset + size < len(result.rows):
        if result.limited:
            out["resultTruncated"] = "true"
        else:
            out["$skipToken"] = encode_token(offset + size)
    return json_response(out)


ROUTES = [
    Route("POST", r"/providers/Microsoft\.ResourceGraph/resources", "Resources", "graph", None,
          Permission.READ, "Microsoft.ResourceGraph/resources/read", query_resources),
]
