"""Resource Graph: ``POST /providers/Microsoft.ResourceGraph/resources`` over the ``Resources``
table with the KQL subset of :mod:`fleet.sim.kql`, ``$top``/``$skip``/``$skipToken`` paging,
``objectArray`` and ``table`` result formats, and the per-user quota headers.

Only resources the caller can read are searched (Resource Graph silently drops the rest).
"""

from __future__ import annotations

import base64
import json
import weakref
from typing import TYPE_CHECKING, Any

from aiohttp import web

from fleet.sim.auth import Permission
from fleet.sim.errors import ArmError, bad_request
from fleet.sim.http import Ctx, Route, decode_token, json_response, throttled_error
from fleet.sim.kql import KqlError, run_query
from fleet.sim.model import SimResource, SimScaleSet, SimVm
from fleet.sim.serialize import graph_row, power_status
from fleet.sim.throttle import format_hms

if TYPE_CHECKING:
    from fleet.sim.world import World

MAX_PAGE = 1000


def _query_error(exc: KqlError) -> ArmError:
    details = [
        {
            "code": "InvalidQuery",
            "message": "Query is invalid. Please refer to the documentation "
            "for the Azure Resource Graph service and fix the error before retrying.",
        },
        {"code": "UnsupportedQueryConstruct", "message": exc.message, "target": exc.construct},
    ]
    message = f"Unsupported or invalid query construct '{exc.construct}': {exc.message}"
    return ArmError(400, "BadRequest", message, details=details)


# Per world: resource id -> its row. Rows are static except a VM's power state, refreshed on
# every query; rebuilding ~8,000 rows per query cost more than evaluating the KQL (GC churn).
# Keyed by id(world) with a weak reference, so a finished emulator's rows are dropped.
_ROW_CACHE: dict[int, tuple[weakref.ref[World], dict[str, dict[str, Any]]]] = {}


def _row_cache(world: World) -> dict[str, dict[str, Any]]:
    entry = _ROW_CACHE.get(id(world))
    if entry is None or entry[0]() is not world:
        for key in [k for k, (ref, _) in _ROW_CACHE.items() if ref() is None]:
            del _ROW_CACHE[key]
        entry = (weakref.ref(world), {})
        _ROW_CACHE[id(world)] = entry
    return entry[1]


def _rows(ctx: Ctx, subscriptions: list[str]) -> list[dict[str, Any]]:
    """Rows of the requested subscriptions the caller may read, checked per resource: a
    resource-group Reader sees that group's resources, as in Resource Graph. The KQL evaluator
    never hands input rows back (it copies its result), so cached rows cannot leak out."""
    inv, principal, cache = ctx.world.inventory, ctx.principal, _row_cache(ctx.world)
    wanted = {s.lower() for s in subscriptions}
    rows = []
    resources: list[SimVm | SimScaleSet | SimResource] = [
        *inv.vms.values(),
        *inv.scale_sets.values(),
        *inv.others,
    ]
    for res in resources:
        if res.subscription_id.lower() not in wanted:
            continue
        if Permission.READ not in principal.permissions_at(res.id):
            continue
        row = cache.get(res.id)
        if row is None:
            row = cache[res.id] = graph_row(res, ctx.world.tenant_id)
        if isinstance(res, SimVm):
            row["properties"]["extended"]["instanceView"]["powerState"] = power_status(res)
        rows.append(row)
    rows.sort(key=lambda r: r["id"].lower())
    return rows


def _options(body: dict[str, Any]) -> tuple[int | None, int | None, str | None, str]:
    options = body.get("options") or {}
    if not isinstance(options, dict):
        raise bad_request("'options' must be an object.")
    top, skip = options.get("$top"), options.get("$skip")
    for name, value in (("$top", top), ("$skip", skip)):
        if value is not None and (type(value) is not int or value < 0):  # bool is no number
            raise bad_request(f"options.{name} must be a non-negative integer, got {value!r}.")
    if top is not None and not 1 <= top <= MAX_PAGE:
        raise bad_request(f"options.$top must be between 1 and {MAX_PAGE}, got {top}.")
    fmt = options.get("resultFormat") or "objectArray"
    if fmt not in ("objectArray", "table"):
        raise bad_request(f"options.resultFormat must be 'objectArray' or 'table', got {fmt!r}.")
    return top, skip, options.get("$skipToken"), fmt


def _column_type(rows: list[dict[str, Any]], column: str) -> str:
    """Resource Graph's column type, from the first non-null value (``object`` if all null)."""
    value = next((r[column] for r in rows if r.get(column) is not None), None)
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string" if isinstance(value, str) else "object"


def _table(
    rows: list[dict[str, Any]], columns: list[str], every_row: list[dict[str, Any]]
) -> dict[str, Any]:
    # Types come from the whole result so that every page of a paged query agrees on them.
    return {
        "columns": [{"name": c, "type": _column_type(every_row, c)} for c in columns],
        "rows": [[r.get(c) for c in columns] for r in rows],
    }


def _encode_token(offset: int, size: int) -> str:
    # Resource Graph's token carries the page size: later pages keep it without a new $top.
    raw = json.dumps({"o": offset, "n": size}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str) -> tuple[int, int | None]:
    offset = decode_token(token)  # validates the token and its offset (400 InvalidSkipToken)
    size = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))).get("n")
    return offset, size if isinstance(size, int) and 1 <= size <= MAX_PAGE else None


def _scope(body: Any) -> list[str]:
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        raise bad_request("The request must be an object with a string property 'query'.")
    subscriptions = body.get("subscriptions")
    if (
        not subscriptions
        or not isinstance(subscriptions, list)
        or not all(isinstance(s, str) for s in subscriptions)
    ):
        raise bad_request(
            "Specify at least one subscription id in 'subscriptions' "
            "(management-group scopes are not emulated)."
        )
    if body.get("facets"):
        # Answering facets with [] would be a wrong answer; refuse what is not emulated.
        raise bad_request(
            "Facets are not emulated: remove 'facets' and aggregate the rows client-side.",
            code="UnsupportedQueryConstruct",
            target="facets",
        )
    return subscriptions


def _wall_headers(ctx: Ctx, headers: dict[str, str]) -> dict[str, str]:
    """The quota window's ``hh:mm:ss`` is Azure time: clients wait on the wall clock (÷K)."""
    out = dict(headers)
    hms = out.get("x-ms-user-quota-resets-after")
    if hms:
        hours, minutes, secs = (int(part) for part in hms.split(":"))
        azure_s = hours * 3600 + minutes * 60 + secs
        out["x-ms-user-quota-resets-after"] = format_hms(ctx.world.clock.to_wall(azure_s))
    return out


async def query_resources(ctx: Ctx) -> web.Response:
    decision = ctx.world.graph_quota.check(ctx.now, ctx.principal.name)
    ctx.headers.update(_wall_headers(ctx, decision.headers))
    if not decision.allowed:
        ctx.world.stats.throttled[decision.bucket or "graph"] += 1
        raise throttled_error(ctx.world, decision, ctx.headers)
    body = await ctx.json_body()
    subscriptions = _scope(body)
    top, skip, token, fmt = _options(body)
    try:
        result = run_query(body["query"], _rows(ctx, subscriptions))
    except KqlError as exc:
        raise _query_error(exc) from exc
    offset, token_size = _decode_token(token) if token else (0, None)
    if skip is not None:
        offset = skip
    size = top or token_size or MAX_PAGE
    chunk = result.rows[offset : offset + size]
    out: dict[str, Any] = {
        "totalRecords": len(result.rows),
        "count": len(chunk),
        "resultTruncated": "false",
        "facets": [],
        "data": _table(chunk, result.columns, result.rows) if fmt == "table" else chunk,
    }
    if offset + size < len(result.rows):
        if result.limited:
            out["resultTruncated"] = "true"
        else:
            out["$skipToken"] = _encode_token(offset + size, size)
    return json_response(out)


ROUTES = [
    Route(
        "POST",
        r"/providers/Microsoft\.ResourceGraph/resources",
        "Resources",
        "graph",
        None,
        Permission.READ,
        "Microsoft.ResourceGraph/resources/read",
        query_resources,
    ),
]
