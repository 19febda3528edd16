"""Request plumbing shared by the emulator's route modules: the route table entry, the
per-request context (principal, clock, accumulated response headers, Compute throttling) and
small response helpers (JSON, ARM paging tokens).
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from aiohttp import web

from fleet.sim.auth import Permission, Principal
from fleet.sim.errors import ArmError, bad_request
from fleet.sim.throttle import Kind
from fleet.sim.throttle_headers import REPEAT

if TYPE_CHECKING:
    from fleet.sim.world import World

Handler = Callable[["Ctx"], Awaitable[web.StreamResponse]]

SUB = r"/subscriptions/(?P<sub>[^/]+)"
RG = SUB + r"/resourceGroups/(?P<rg>[^/]+)"
VM = RG + r"/providers/Microsoft\.Compute/virtualMachines/(?P<vm>[^/]+)"
VMSS = RG + r"/providers/Microsoft\.Compute/virtualMachineScaleSets/(?P<ss>[^/]+)"
INSTANCE = VMSS + r"/virtualMachines/(?P<inst>[^/]+)"


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # regex with named groups, matched case-insensitively against the whole path
    operation: str  # operationId, used in stats
    family: str  # "compute" | "resources" | "graph": decides the accepted api-versions
    kind: Kind | None  # ARM bucket: "reads" | "writes" | "deletes"; None = not ARM-throttled
    permission: Permission
    action: str  # RBAC action named in 403 messages
    handler: Handler
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pattern", re.compile(self.path + r"/?", re.IGNORECASE))

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method != self.method:
            return None
        m = self.pattern.fullmatch(path)
        return None if m is None else m.groupdict()


@dataclass
class Ctx:
    world: World
    request: web.Request
    route: Route
    params: dict[str, str]
    principal: Principal
    now: float
    base_url: str
    headers: dict[str, str] = field(default_factory=dict)

    def query(self, name: str) -> str | None:
        """Query parameter, case-insensitive on the name (``$expand`` == ``$Expand``)."""
        wanted = name.lower()
        for key, value in self.request.query.items():
            if key.lower() == wanted:
                return value
        return None

    def expand_instance_view(self) -> bool:
        expand = (self.query("$expand") or "").lower()
        return "instanceview" in {part.strip() for part in expand.split(",")}

    async def json_body(self) -> Any:
        raw = await self.request.read()
        if not raw:
            raise bad_request(
                "The request content was invalid and could not be deserialized: the body is empty.",
                code="InvalidRequestContent",
            )
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            # RecursionError: a body nested deeper than the parser's stack (a 400, not a crash)
            message = f"The request content was invalid and could not be deserialized: {exc}."
            raise bad_request(message, code="InvalidRequestContent") from exc

    def compute(self, policy: str, region: str, resource: str | None) -> None:
        """Charge a Compute RP policy; raise 429 (with headers) when a bucket is empty."""
        decision = self.world.compute_throttle.check(
            self.now,
            self.params.get("sub", "").lower(),
            region.lower(),
            policy,
            resource.lower() if resource else None,
        )
        self.headers.update(decision.headers)
        if decision.allowed:
            return
        self.world.stats.throttled[decision.bucket or f"compute:{policy}"] += 1
        raise throttled_error(self.world, decision, self.headers)

    def url(self, path: str, query: dict[str, str]) -> str:
        return f"{self.base_url}{path}?{urlencode(query)}"


def throttled_error(world: World, decision: Any, headers: dict[str, str]) -> ArmError:
    wall = world.clock.to_wall(decision.retry_after_s)
    retry_headers = dict(headers)
    retry_headers["Retry-After"] = str(max(1, math.ceil(wall)))
    retry_headers["x-ms-retry-after-ms"] = str(max(1, math.ceil(wall * 1000)))
    return ArmError(
        429,
        decision.error_code or "TooManyRequests",
        decision.error_message or "Too many requests.",
        details=decision.details,
        headers=retry_headers,
    )


def set_headers(response: web.StreamResponse, headers: dict[str, str]) -> None:
    """Set ``headers`` on ``response``; a value holding ``REPEAT`` becomes repeated lines."""
    for name, value in headers.items():
        lines = value.split(REPEAT)
        response.headers[name] = lines[0]
        for line in lines[1:]:
            response.headers.add(name, line)


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    response = web.Response(
        body=json.dumps(body, separators=(",", ":")).encode(),
        status=status,
        content_type="application/json",
    )
    set_headers(response, headers or {})
    return response


def encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        padded = token + "=" * (-len(token) % 4)
        offset = json.loads(base64.urlsafe_b64decode(padded))["o"]
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise bad_request(f"The skip token '{token}' is invalid.", code="InvalidSkipToken") from exc
    if type(offset) is not int or offset < 0:  # not a float, a bool or a huge exponent
        raise bad_request(f"The skip token '{token}' is invalid.", code="InvalidSkipToken")
    return offset


def page(
    ctx: Ctx, items: list[dict[str, Any]], *, page_size: int, extra: dict[str, str] | None = None
) -> dict[str, Any]:
    """One ``{"value": [...], "nextLink"}`` page from ``$skiptoken`` on.

    ``$top`` is the page size, not a cap on the total: ARM answers ``$top=N`` with N items and a
    ``nextLink`` to the rest, so SDK pagers still walk everything (azure-sdk-for-python#541,
    azure-sdk-for-java#1451). The ``nextLink`` keeps ``$top`` so every page has that size.
    """
    offset = decode_token(ctx.query("$skiptoken"))
    top_raw = ctx.query("$top")
    if top_raw is not None:
        if not top_raw.isdigit() or int(top_raw) < 1:
            raise bad_request(f"The value '{top_raw}' of $top is invalid: use a positive integer.")
        page_size = min(page_size, int(top_raw))
    end = min(len(items), offset + page_size)
    body: dict[str, Any] = {"value": items[offset:end]}
    if end < len(items):
        query = {k: v for k, v in ctx.request.query.items() if k.lower() != "$skiptoken"}
        query.update(extra or {})
        query["$skiptoken"] = encode_token(end)
        body["nextLink"] = ctx.url(ctx.request.path, query)
    return body
