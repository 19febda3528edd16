"""The azure-core pipeline policy that keeps fleet inside Azure's throttling limits.

One instance per pipeline: azure-core links a pipeline's policies by setting ``policy.next``
when it builds the pipeline, so an instance shared by several clients would send every request
down the last pipeline built. :class:`fleet.azure.clients.ArmClients` therefore builds a new
``ThrottlePolicy(state)`` for each client, all holding the connection's one
:class:`fleet.azure.throttle_state.ThrottleState` (buckets, counters, deadline, on-throttle hook).

Install it with ``per_retry_policies=[ThrottlePolicy(state)]`` so it sees every attempt,
including the SDK RetryPolicy's own retries. Per attempt it classifies the request, takes a
token from each of the request's buckets (waiting if needed), sends, and settles the buckets with
the response's ``x-ms-ratelimit-remaining-*`` counts (what each may still spend; see
``fleet.azure.bucket_model``). On a 429 it pauses the bucket Azure named for ``Retry-After``
and sends the *same* request again — even a run-command PUT, which nothing else re-sends: a 429
means Azure refused the request without processing it, so sending it again cannot run a script
twice (``fleet.azure.send_once``) — until it succeeds or the deadline passes (then the 429 is
returned, so the caller can report the target as throttled out; if the deadline passes before a
request could be sent at all, :class:`ThrottleDeadlineExceeded`, an ``HttpResponseError`` with
status 429, is raised instead). Only 429 is handled here; 5xx and
connection errors stay with the SDK's RetryPolicy (see ``fleet.azure.backend`` for the two
loops side by side).

Two per-operation keyword arguments are understood: ``fleet_region=`` (the Compute buckets are
per region) and ``fleet_deadline=`` (monotonic seconds, overriding the state's deadline). They
are read once per logical call — popped from the transport options at the first attempt (aiohttp
would reject them) and kept in ``request.context`` as a :class:`CallOptions`, which the SDK's
later attempts of the same call reuse.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import structlog
from azure.core.exceptions import HttpResponseError
from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import AsyncHTTPPolicy
from azure.core.rest import AsyncHttpResponse, HttpRequest
from multidict import CIMultiDict

from fleet.azure.headers import RateLimitInfo, parse_rate_limit_headers, parse_throttle_error
from fleet.azure.limiter import Bucket
from fleet.azure.request_class import RequestClass, classify
from fleet.azure.throttle_state import ThrottleState

log = structlog.get_logger("fleet.azure")

Request = PipelineRequest[HttpRequest]
Response = PipelineResponse[HttpRequest, AsyncHttpResponse]

MAX_BACKOFF_S = 60.0
_CALL_KEY = "fleet_call"  # request.context key of the call's CallOptions


class ThrottleDeadlineExceeded(HttpResponseError):
    """The deadline came before the request could be sent at all (its buckets were paused or
    empty). Raised instead of a response; ``status_code`` is 429, like the 429 returned when the
    deadline cuts retries short, so callers can treat both as "throttled out"."""

    def __init__(self, request_class: RequestClass) -> None:
        what = (
            request_class.compute_policy
            or request_class.arm_kind
            or ("graph" if request_class.graph else "request")
        )
        message = f"Throttled out: the deadline passed while waiting for Azure's {what} limits."
        super().__init__(message=message)
        self.status_code = 429
        self.reason = "Too Many Requests"


@dataclass(frozen=True)
class CallOptions:
    """fleet's per-call options, read once per logical call."""

    region: str | None = None
    deadline: float | None = None


def call_options(request: Request) -> CallOptions:
    """The call's options: popped from the transport options at its first attempt, then kept."""
    context = request.context
    known = context.get(_CALL_KEY)
    if known is None:
        region = context.options.pop("fleet_region", None)
        deadline = context.options.pop("fleet_deadline", None)
        known = CallOptions(region, None if deadline is None else float(deadline))
        context[_CALL_KEY] = known
    return known


class ThrottlePolicy(AsyncHTTPPolicy[HttpRequest, AsyncHttpResponse]):
    """Per-retry policy for one pipeline; all pipelines of a connection share ``state``."""

    def __init__(self, state: ThrottleState) -> None:
        super().__init__()
        self.state = state

    async def send(self, request: Request) -> Response:
        http = request.http_request
        request_class = classify(http.method, http.url)
        options = call_options(request)
        deadline = self.state.deadline if options.deadline is None else options.deadline
        buckets = self.state.buckets.buckets_for(request_class, options.region)
        throttles = 0
        if not await self.state.acquire(buckets, deadline):
            raise ThrottleDeadlineExceeded(request_class)
        while True:
            response, info = await self._send_once(request, request_class, options.region, buckets)
            if response.http_response.status_code != 429:
                return response
            # A 429 was not processed (throttled before the resource provider acted), so the
            # loop below may re-send even a run-command PUT: it cannot run the script twice.
            wait = info.retry_after_s
            if wait is None:
                wait = min(MAX_BACKOFF_S, 2.0**throttles)
            throttles += 1
            paused = await self._throttled(
                response, info, request_class, options.region, buckets, wait
            )
            if deadline is not None and self.state.clock() + wait > deadline:
                return response
            if not paused:  # nothing to pause (unclassified request, or not a throttle)
                await self.state.sleep(wait)
            if not await self.state.acquire(buckets, deadline):
                return response
            self.state.count_retry()

    async def _send_once(
        self,
        request: Request,
        request_class: RequestClass,
        region: str | None,
        buckets: list[Bucket],
    ) -> tuple[Response, RateLimitInfo]:
        """One attempt with its tokens already taken: send, count, and settle the buckets with
        the counts the response's headers give them (a 429 was not charged)."""
        settle = self.state.buckets.settle
        try:
            response = await self.next.send(request)
        except BaseException:  # no answer: it may have been charged (the conservative guess)
            settle(request_class, region, None, buckets, charged=True)
            raise
        status = response.http_response.status_code
        self.state.count_response(request_class, throttled=status == 429)
        info = parse_rate_limit_headers(_headers(response))
        settle(request_class, region, info, buckets, charged=status != 429)
        return response, info

    async def _throttled(
        self,
        response: Response,
        info: RateLimitInfo,
        request_class: RequestClass,
        region: str | None,
        buckets: list[Bucket],
        wait: float,
    ) -> bool:
        """A 429: pause the bucket it names, log it, tell the hook; whether a bucket paused."""
        error = parse_throttle_error(await _body(response))
        paused = self.state.pause(request_class, region, (error, info), buckets, wait)
        log.info(  # info: the progress display and the report count them
            "arm.throttled",
            code=error.code,
            policy=error.target,
            kind=request_class.arm_kind,
            subscription=request_class.subscription,
            retry_after_s=round(wait, 3),
        )
        self.state.throttled(request_class, wait)
        return paused


def _headers(response: Response) -> Any:
    """The response's headers as received, one pair per header line. azure-core's aiohttp
    response keeps them in a ``CIMultiDict`` subclass whose ``items()`` groups repeats in Python
    (``azure/core/rest/_aiohttp.py``), a cost on every response (#16); the multidict's own
    ``items()`` gives the same headers, repeats as separate pairs (``fleet.azure.headers`` reads
    both shapes alike)."""
    try:
        headers = response.http_response.headers
    except Exception:  # a transport without headers: nothing to sync from
        return {}
    if isinstance(headers, CIMultiDict):
        return CIMultiDict.items(headers)
    return headers


async def _body(response: Response) -> bytes | None:
    """The 429's body, read if the call was streamed; None if it cannot be had."""
    # The transport's response: a legacy one (body(), load_body()) or an azure.core.rest one
    # (read()); which one depends on the SDK client, so it is handled dynamically.
    http: Any = response.http_response
    try:
        body = http.body()
        return body if isinstance(body, bytes) else None
    except Exception:  # not read yet (stream=True) or a legacy response
        pass
    try:
        reader = getattr(http, "read", None) or getattr(http, "load_body", None)
        if reader is None:
            return None
        result = reader()
        if inspect.isawaitable(result):
            result = await result
        body = result if isinstance(result, bytes) else http.body()
        return body if isinstance(body, bytes) else None
    except Exception:  # a reset while reading a 429 body: the code is simply unknown
        return None
