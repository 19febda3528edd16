"""The azure-core pipeline policy that keeps fleet inside Azure's throttling limits.

Install it with ``per_retry_policies=[policy]`` so it sees every attempt, including the SDK
RetryPolicy's own retries. Per attempt it classifies the request, takes a token from each of the
request's buckets (waiting if needed), sends, and re-syncs the buckets from the response's
``x-ms-ratelimit-remaining-*`` headers. On a 429 it pauses the bucket Azure named for
``Retry-After`` and sends the *same* request again, until it succeeds or the deadline passes
(then the 429 is returned, so the caller can report the target as throttled out; if the
deadline passes before a request could be sent at all, :class:`ThrottleDeadlineExceeded`, an
``HttpResponseError`` with status 429, is raised instead). Only 429 is handled here; 5xx and
connection errors stay with the SDK's RetryPolicy.

Two per-operation keyword arguments are understood and removed before the transport (aiohttp
would reject them): ``fleet_region=`` (the Compute buckets are per region) and
``fleet_deadline=`` (monotonic seconds, overriding the policy's deadline). Both are kept in
``request.context`` so the SDK's later attempts of the same call still see them.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import structlog
from azure.core.exceptions import HttpResponseError
from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import AsyncHTTPPolicy

from fleet.azure.headers import ThrottleError, parse_rate_limit_headers, parse_throttle_error
from fleet.azure.limiter import Bucket, BucketSet, Clock, Sleep
from fleet.azure.request_class import RequestClass, classify
from fleet.model import ArmCounters

log = structlog.get_logger("fleet.azure")

MAX_BACKOFF_S = 60.0
# 429s that are not throttling (Network RP: "resource locked by another operation"): the request
# waits, but no bucket is paused, so other requests are not slowed down.
_NOT_THROTTLING = {"retryableerrorduetoanotheroperation"}


class ThrottleDeadlineExceeded(HttpResponseError):
    """The deadline came before the request could be sent at all (its buckets were paused or
    empty). Raised instead of a response; ``status_code`` is 429, like the 429 returned when the
    deadline cuts retries short, so callers can treat both as "throttled out"."""

    def __init__(self, rc: RequestClass) -> None:
        what = rc.compute_policy or rc.arm_kind or ("graph" if rc.graph else "request")
        message = f"Throttled out: the deadline passed while waiting for Azure's {what} limits."
        super().__init__(message=message)
        self.status_code = 429
        self.reason = "Too Many Requests"


class ThrottlePolicy(AsyncHTTPPolicy):  # type: ignore[type-arg]
    def __init__(
        self,
        buckets: BucketSet,
        *,
        deadline: float | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        on_throttle: Callable[[RequestClass, float], None] | None = None,
    ) -> None:
        super().__init__()
        self.buckets = buckets
        self.deadline = deadline
        self._clock = clock
        self._sleep = sleep
        self._on_throttle = on_throttle
        self._requests: Counter[str] = Counter()
        self._throttled = 0
        self._wait_s = 0.0  # wall seconds during which at least one request was held back
        self._waiters = 0
        self._wait_since = 0.0
        self._retries = 0
        self._nexts: list[Any] = []  # one per pipeline this instance was installed in
        self._routes: dict[int, Any] = {}  # id(transport) -> that pipeline's next policy

    # One instance is shared by every client of an ArmConnection (one set of buckets), but
    # azure-core links policies by setting ``policy.next`` when it builds each pipeline: the last
    # client built would capture every request. So each request follows the ``next`` whose
    # chain ends at its own pipeline's transport (``request.context.transport``).
    @property
    def next(self) -> Any:  # type: ignore[override]
        return self._nexts[-1] if self._nexts else None

    @next.setter
    def next(self, policy: Any) -> None:
        if all(policy is not known for known in self._nexts):
            self._nexts.append(policy)
        self._routes.clear()

    def _next_for(self, request: PipelineRequest) -> Any:  # type: ignore[type-arg]
        transport = request.context.transport
        route = self._routes.get(id(transport))
        if route is None:
            route = next((n for n in self._nexts if _ends_at(n, transport)), self.next)
            self._routes[id(transport)] = route
        return route

    def counters(self) -> ArmCounters:
        return ArmCounters(
            requests=dict(self._requests),
            throttled=self._throttled,
            throttle_wait_s=self._wait_s,
            retries=self._retries,
        )

    async def send(self, request: PipelineRequest) -> PipelineResponse:  # type: ignore[type-arg]
        http = request.http_request
        rc = classify(http.method, http.url)
        region = _option(request, "fleet_region")
        deadline = _option(request, "fleet_deadline")
        deadline = self.deadline if deadline is None else float(deadline)
        buckets = self.buckets.buckets_for(rc, region)
        throttles = 0
        if not await self._acquire(buckets, deadline):
            raise ThrottleDeadlineExceeded(rc)
        while True:
            try:
                response = await self._next_for(request).send(request)
            finally:
                for bucket in buckets:
                    bucket.release()
            self._requests[_kind(rc)] += 1
            info = parse_rate_limit_headers(_headers(response))
            self.buckets.sync(rc, region, info)
            if response.http_response.status_code != 429:
                return response
            self._throttled += 1
            wait = info.retry_after_s
            if wait is None:
                wait = min(MAX_BACKOFF_S, 2.0**throttles)
            throttles += 1
            error = parse_throttle_error(await _body(response))
            paused = self._pause(rc, region, error, buckets, wait)
            log.info(  # info: the progress display and the report count them
                "arm.throttled",
                code=error.code,
                policy=error.target,
                kind=rc.arm_kind,
                subscription=rc.subscription,
                retry_after_s=round(wait, 3),
            )
            if self._on_throttle is not None:
                self._on_throttle(rc, wait)
            if deadline is not None and self._clock() + wait > deadline:
                return response
            if not paused:  # nothing to pause (unclassified request, or not a throttle)
                await self._timed_sleep(wait)
            if not await self._acquire(buckets, deadline):
                return response
            self._retries += 1

    def _pause(
        self,
        rc: RequestClass,
        region: str | None,
        error: ThrottleError,
        buckets: list[Bucket],
        wait: float,
    ) -> bool:
        """Pause the bucket the server named, or all of this request's if it named none."""
        code = (error.code or "").lower()
        if code in _NOT_THROTTLING:
            return False
        named: Bucket | None = None
        if code == "subscriptionrequeststhrottled":
            named = self.buckets.arm_bucket(rc)
        elif error.target:
            named = self.buckets.compute_bucket_named(rc, region, error.target)
        elif rc.graph:
            named = self.buckets.graph_bucket(rc)
        culprits = [named] if named is not None else buckets
        for bucket in culprits:
            bucket.pause(wait)
        return bool(culprits)

    async def _acquire(self, buckets: list[Bucket], deadline: float | None) -> bool:
        """Take a token from every bucket; False if ``deadline`` came first."""
        start = self._clock()
        longest_pause = max((b.paused_for() for b in buckets), default=0.0)
        if deadline is not None and start + longest_pause > deadline:
            return False  # waiting out the pause cannot end in time
        timeout = None if deadline is None else max(0.0, deadline - start)
        taken: list[Bucket] = []
        try:
            with self._waiting(), anyio.move_on_after(timeout) as scope:
                for bucket in buckets:
                    await bucket.acquire()
                    taken.append(bucket)
        except BaseException:  # cancelled: nothing will be sent
            for bucket in taken:
                bucket.release()
            raise
        if scope.cancelled_caught:
            for bucket in taken:
                bucket.release()
        return not scope.cancelled_caught

    async def _timed_sleep(self, seconds: float) -> None:
        with self._waiting():
            await self._sleep(seconds)

    @contextmanager
    def _waiting(self) -> Iterator[None]:
        # Wall time, not request-seconds: 2,000 requests queued for 10 s is 10 s of waiting.
        if self._waiters == 0:
            self._wait_since = self._clock()
        self._waiters += 1
        try:
            yield
        finally:
            self._waiters -= 1
            if self._waiters == 0:
                self._wait_s += max(0.0, self._clock() - self._wait_since)


def _ends_at(policy: Any, transport: Any) -> bool:
    """Whether a policy chain ends at ``transport`` (azure-core's runner keeps it as
    ``_sender``)."""
    for _ in range(100):  # a chain is a handful of policies; never loop on a cycle
        if policy is None:
            return False
        if getattr(policy, "_sender", None) is transport:
            return True
        policy = getattr(policy, "next", None)
    return False


def _option(request: PipelineRequest, name: str) -> Any:  # type: ignore[type-arg]
    """A fleet kwarg: popped from the transport's options, remembered for later attempts."""
    value = request.context.options.pop(name, None)
    if value is not None:
        request.context[name] = value
        return value
    return request.context.get(name)


def _kind(rc: RequestClass) -> str:
    if rc.graph:
        return "graph"
    return rc.arm_kind or "other"


def _headers(response: PipelineResponse) -> Any:  # type: ignore[type-arg]
    try:
        return response.http_response.headers
    except Exception:  # a transport without headers: nothing to sync from
        return {}


async def _body(response: PipelineResponse) -> bytes | None:  # type: ignore[type-arg]
    """The 429's body, read if the call was streamed; None if it cannot be had."""
    http = response.http_response
    try:
        return http.body()
    except Exception:  # not read yet (stream=True) or a legacy response
        pass
    try:
        reader = getattr(http, "read", None) or getattr(http, "load_body", None)
        if reader is None:
            return None
        result = reader()
        if inspect.isawaitable(result):
            result = await result
        return result if isinstance(result, bytes) else http.body()
    except Exception:  # a reset while reading a 429 body: the code is simply unknown
        return None
