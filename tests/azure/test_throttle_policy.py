"""fleet.azure.throttle_policy inside a real azure-core AsyncPipeline with a fake transport that
returns canned responses (429 + Retry-After, then 200). Time is fake: waits advance a clock."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.core.pipeline import AsyncPipeline
from azure.core.pipeline.policies import AsyncRetryPolicy
from azure.core.pipeline.transport import AsyncHttpResponse, AsyncHttpTransport, HttpRequest
from azure.mgmt.resourcegraph.models import QueryRequest

from fleet.azure.bucket_set import BucketSet
from fleet.azure.clients import ArmClients, ArmConnection, StaticTokenCredential
from fleet.azure.limits import ThrottleLimits
from fleet.azure.request_class import RequestClass, classify
from fleet.azure.throttle_policy import CallOptions, ThrottleDeadlineExceeded, ThrottlePolicy
from fleet.azure.throttle_state import ThrottleState
from fleet.sim.emulator import Emulator
from tests import simkit
from tests.azure.test_limiter import FakeTime

pytestmark = pytest.mark.anyio

SUB = "sub-1"
RG_URL = f"https://management.azure.com/subscriptions/{SUB}/resourceGroups/rg"
VM_URL = f"{RG_URL}/providers/Microsoft.Compute/virtualMachines/vm1"
RC_URL = f"{VM_URL}/runCommands/rc1?api-version=2025-04-01"

Canned = tuple[int, dict[str, str], dict[str, Any] | bytes | None]


class CannedResponse(AsyncHttpResponse):
    def __init__(self, request: HttpRequest, status: int, headers: dict[str, str], body: bytes):
        super().__init__(request, None)
        self.status_code = status
        self.headers = headers
        self.reason = "Too Many Requests" if status == 429 else "OK"
        self.content_type = "application/json"
        self._body = body

    def body(self) -> bytes:
        return self._body

    def json(self) -> Any:  # what the compute 39 operations read (azure.core.rest style)
        return json.loads(self._body) if self._body else None


class FakeTransport(AsyncHttpTransport):
    """Answers with ``canned`` in order (the last one repeats); records what it was sent."""

    def __init__(self, canned: Sequence[Canned]) -> None:
        self.canned = list(canned)
        self.sent: list[tuple[str, str, dict[str, Any]]] = []

    async def send(self, request: HttpRequest, **kwargs: Any) -> CannedResponse:
        self.sent.append((request.method, request.url, kwargs))
        status, headers, body = self.canned[min(len(self.sent), len(self.canned)) - 1]
        raw = body if isinstance(body, bytes) else json.dumps(body or {}).encode()
        return CannedResponse(request, status, headers, raw)

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> FakeTransport:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


OK: Canned = (200, {}, {})


def throttled(code: str = "TooManyRequests", target: str | None = None, **headers: str) -> Canned:
    error: dict[str, Any] = {"code": code, "message": "throttled"}
    if target:
        error["details"] = [{"code": "TooManyRequests", "target": target, "message": "{}"}]
    return (429, {k.replace("_", "-"): v for k, v in headers.items()}, {"error": error})


class Rig:
    """A policy with fake time, its bucket set and a pipeline around a fake transport."""

    def __init__(self, canned: Sequence[Canned], *, deadline: float | None = None, **kw: Any):
        self.time = FakeTime()
        # fast refills: the buckets share the fake clock, but fast ones keep waits out of the way
        limits = kw.get("limits") or ThrottleLimits.published(time_scale=10_000)
        self.buckets = BucketSet(limits, clock=self.time, sleep=self.time.sleep)
        self.events: list[tuple[RequestClass, float]] = []
        self.state = ThrottleState(
            self.buckets,
            deadline=None if deadline is None else self.time.now + deadline,
            clock=self.time,
            sleep=self.time.sleep,
            on_throttle=lambda rc, wait: self.events.append((rc, wait)),
        )
        self.policy = ThrottlePolicy(self.state)
        self.transport = FakeTransport(canned)
        policies = [*kw.get("before", []), self.policy]
        self.pipeline = AsyncPipeline(self.transport, policies=policies)

    async def run(self, method: str = "GET", url: str = RC_URL, **kwargs: Any) -> int:
        response = await self.pipeline.run(HttpRequest(method, url), **kwargs)
        return response.http_response.status_code

    def buckets_of(self, method: str, url: str = RC_URL, region: str | None = None) -> list[Any]:
        return self.buckets.buckets_for(classify(method, url), region)


async def test_429_with_retry_after_is_waited_out_and_retried() -> None:
    rig = Rig([throttled(Retry_After="7"), OK])
    assert await rig.run() == 200
    assert len(rig.transport.sent) == 2
    assert rig.time.now == 1007  # waited exactly Retry-After (fake time)
    counters = rig.state.counters()
    assert counters.requests == {"reads": 2}
    assert (counters.throttled, counters.retries, counters.throttle_wait_s) == (1, 1, 7.0)
    assert [(rc.compute_policy, wait) for rc, wait in rig.events] == [("LowCostGetVM", 7.0)]


async def test_retries_until_success_not_just_four_times() -> None:
    rig = Rig([*[throttled(x_ms_retry_after_ms="1500")] * 9, OK])
    assert await rig.run("PUT") == 200
    counters = rig.state.counters()
    assert (counters.requests, counters.throttled, counters.retries) == ({"writes": 10}, 9, 9)
    assert counters.throttle_wait_s == pytest.approx(13.5)


async def test_arm_throttle_pauses_only_the_arm_bucket() -> None:
    rig = Rig([throttled("SubscriptionRequestsThrottled", Retry_After="10"), OK])
    resource, sub, arm = rig.buckets_of("PUT")
    # the pauses are observed from on_throttle, right after they are set
    seen: list[tuple[float, float, float]] = []
    rig.state.on_throttle = lambda rc, w: seen.append(
        (resource.paused_for(), sub.paused_for(), arm.paused_for())
    )
    assert await rig.run("PUT") == 200
    assert seen == [(0.0, 0.0, 10.0)]


async def test_compute_throttle_pauses_the_named_policy_bucket() -> None:
    rig = Rig([throttled("OperationNotAllowed", "UpdateVM.Resource", Retry_After="30"), OK])
    resource, sub, arm = rig.buckets_of("PUT")
    seen: list[tuple[float, float, float]] = []
    rig.state.on_throttle = lambda rc, w: seen.append(
        (resource.paused_for(), sub.paused_for(), arm.paused_for())
    )
    assert await rig.run("PUT") == 200
    assert seen == [(30.0, 0.0, 0.0)]


async def test_unknown_throttle_pauses_all_of_the_requests_buckets() -> None:
    rig = Rig([throttled("TooManyRequests", Retry_After="4"), OK])
    buckets = rig.buckets_of("PUT")
    seen: list[list[float]] = []
    rig.state.on_throttle = lambda rc, w: seen.append([b.paused_for() for b in buckets])
    assert await rig.run("PUT") == 200
    assert seen == [[4.0, 4.0, 4.0]]


async def test_without_retry_after_backoff_doubles() -> None:
    rig = Rig([throttled(), throttled(), throttled(), OK])
    assert await rig.run() == 200
    assert [wait for _, wait in rig.events] == [1.0, 2.0, 4.0]
    assert rig.time.now == 1007


async def test_deadline_returns_the_429() -> None:
    rig = Rig([throttled(Retry_After="5"), throttled(Retry_After="5"), OK], deadline=8)
    assert await rig.run() == 429  # 5 s fits, a second 5 s would not
    counters = rig.state.counters()
    assert (counters.throttled, counters.retries, len(rig.transport.sent)) == (2, 1, 2)


async def test_per_request_deadline_overrides_the_policys() -> None:
    rig = Rig([throttled(Retry_After="5"), OK])
    assert await rig.run(fleet_deadline=rig.time.now + 1) == 429
    assert len(rig.transport.sent) == 1
    assert await rig.run() == 200  # other calls keep the policy's (no) deadline


async def test_non_throttling_429_waits_without_pausing_buckets() -> None:
    rig = Rig([throttled("RetryableErrorDueToAnotherOperation", Retry_After="3"), OK])
    assert await rig.run("PUT") == 200
    assert rig.time.slept == [3]
    assert all(b.paused_for() == 0 for b in rig.buckets_of("PUT"))


async def test_unclassified_request_still_waits_out_a_429() -> None:
    rig = Rig([throttled(Retry_After="2"), OK])
    assert await rig.run("GET", "https://example.blob.core.windows.net/c/b") == 200
    assert rig.time.slept == [2]
    assert rig.state.counters().requests == {"reads": 2}


async def test_headers_resync_the_buckets() -> None:
    headers = {
        "x-ms-ratelimit-remaining-subscription-reads": "15",
        "x-ms-ratelimit-remaining-resource": "Microsoft.Compute/LowCostGetVM.Resource;20",
    }
    rig = Rig([(200, headers, {})], limits=ThrottleLimits.published())  # slow refill: observable
    assert await rig.run(fleet_region="eastus") == 200
    resource, _sub, arm = rig.buckets_of("GET", region="eastus")
    assert arm.available() == pytest.approx(15 - arm.limits.sync_reserve, abs=0.1)
    limits = rig.buckets.limits.compute_resource["LowCostGetVM"]
    assert resource.available() == pytest.approx(20 - limits.sync_reserve, abs=0.1)


async def test_malformed_headers_and_bodies_never_fail_a_request() -> None:
    junk = {
        "x-ms-ratelimit-remaining-resource": ";;,Microsoft.Compute/;x",
        "x-ms-ratelimit-remaining-subscription-reads": "many",
        "Retry-After": "Someday, 99 Nev 2099",
        "x-ms-user-quota-resets-after": "::",
    }
    rig = Rig([(429, junk, b"\xff not json"), (200, junk, b"")])
    assert await rig.run() == 200
    assert rig.events[0][1] == 1.0  # unreadable Retry-After: backoff


async def test_deadline_before_the_first_send_raises_a_429_error() -> None:
    rig = Rig([throttled("SubscriptionRequestsThrottled", Retry_After="60"), OK])
    assert await rig.run(fleet_deadline=rig.time.now + 10) == 429  # pauses reads for 60 s
    with pytest.raises(ThrottleDeadlineExceeded) as info:
        await rig.run(url=f"{RG_URL}?api-version=1", fleet_deadline=rig.time.now + 10)
    assert info.value.status_code == 429
    assert "reads" in str(info.value)
    assert len(rig.transport.sent) == 1  # nothing was sent for the second call
    assert await rig.run(url=f"{RG_URL}?api-version=1") == 200  # no deadline: waits it out


class SpyBuckets(BucketSet):
    def __init__(self) -> None:
        super().__init__(ThrottleLimits.published())
        self.regions: list[str | None] = []

    def buckets_for(self, rc: RequestClass, region: str | None) -> list[Any]:
        self.regions.append(region)
        return super().buckets_for(rc, region)


async def test_fleet_kwargs_reach_every_attempt_and_never_the_transport() -> None:
    transport = FakeTransport([(503, {}, {}), OK])
    spy = SpyBuckets()
    state = ThrottleState(spy)
    retry = AsyncRetryPolicy(retry_backoff_factor=0)
    pipeline = AsyncPipeline(transport, policies=[retry, ThrottlePolicy(state)])
    response = await pipeline.run(
        HttpRequest("GET", RC_URL), fleet_region="westeurope", fleet_deadline=1e12
    )
    assert response.http_response.status_code == 200
    assert spy.regions == ["westeurope", "westeurope"]  # the SDK's retry saw it too
    for _, _, kwargs in transport.sent:
        assert "fleet_region" not in kwargs and "fleet_deadline" not in kwargs
    assert response.context["fleet_call"] == CallOptions("westeurope", 1e12)  # read once, kept
    assert state.counters().retries == 0  # 5xx retries are the SDK's, not ours


async def test_pipelines_with_their_own_policies_share_one_state() -> None:
    """One ThrottlePolicy per pipeline (azure-core links each to its pipeline via ``next``), one
    ThrottleState for all: each request leaves through its own pipeline's transport."""
    state = ThrottleState(BucketSet(ThrottleLimits.published()))
    first, second = FakeTransport([OK]), FakeTransport([OK])
    retry = AsyncRetryPolicy(retry_backoff_factor=0)
    pipe_a = AsyncPipeline(first, policies=[AsyncRetryPolicy(), ThrottlePolicy(state)])
    pipe_b = AsyncPipeline(second, policies=[retry, ThrottlePolicy(state)])
    for _ in range(2):
        await pipe_a.run(HttpRequest("GET", RC_URL))
        await pipe_b.run(HttpRequest("GET", f"{RG_URL}?api-version=1"))
    assert [url for _, url, _ in first.sent] == [RC_URL, RC_URL]
    assert [url for _, url, _ in second.sent] == [f"{RG_URL}?api-version=1"] * 2
    assert state.counters().requests == {"reads": 4}


class RecordingClients(ArmClients):
    """ArmClients whose clients each get a FakeTransport; records the transports and the
    per-retry policies it builds, one call per client."""

    def __init__(self, conn: ArmConnection, canned: dict[str, list[Canned]]) -> None:
        super().__init__(conn)
        self.canned = canned
        self.transports: list[FakeTransport] = []
        self.policies: list[list[Any]] = []

    def _transport(self) -> FakeTransport:
        which = ("compute", "resources", "graph")[len(self.transports)]
        self.transports.append(FakeTransport(self.canned[which]))
        return self.transports[-1]

    def _per_retry_policies(self) -> list[Any]:
        self.policies.append(super()._per_retry_policies())
        return self.policies[-1]


async def test_clients_of_one_connection_share_buckets_and_counters() -> None:
    """Compute, resources and graph clients built from one ArmConnection: each has its own
    ThrottlePolicy over the connection's ThrottleState and its own transport; a 429 seen by the
    compute client pauses the ARM read bucket the resources client then waits on. The shared
    ``retry_policy`` instance in client_kwargs is copied per client, or requests would leave
    through the last client's transport."""
    clock = FakeTime()
    limits = ThrottleLimits.published(time_scale=10_000)
    state = ThrottleState(BucketSet(limits, clock, clock.sleep), clock=clock, sleep=clock.sleep)
    conn = ArmConnection(
        StaticTokenCredential("t"),
        throttle=state,
        client_kwargs={"retry_policy": AsyncRetryPolicy.no_retries()},
    )
    arm_429 = throttled("SubscriptionRequestsThrottled", Retry_After="10")
    canned = {"compute": [arm_429, OK], "resources": [OK], "graph": [OK]}
    async with RecordingClients(conn, canned) as arm:
        compute, resources, graph = arm.compute(SUB), arm.resources(SUB), arm.graph
        with pytest.raises(HttpResponseError) as info:  # gives up at once, the pause stays
            await compute.virtual_machines.get("rg", "vm1", fleet_deadline=clock.now)
        assert info.value.status_code == 429
        start = clock.now
        await resources.resource_groups.get("rg")
        waited = clock.now - start
        await graph.resources(QueryRequest(subscriptions=[SUB], query="Resources"))
    own = [p for ps in arm.policies for p in ps if isinstance(p, ThrottlePolicy)]
    assert len(own) == 3 and len({id(p) for p in own}) == 3
    assert all(p.state is state for p in own)
    assert waited == 10  # the resources client honoured the compute client's 429
    compute_t, resources_t, graph_t = arm.transports
    assert [m for m, _, _ in compute_t.sent] == ["GET"] and "/virtualMachines/vm1" in (
        compute_t.sent[0][1]
    )
    assert [m for m, _, _ in resources_t.sent] == ["GET"] and resources_t.sent[0][1].startswith(
        f"https://management.azure.com/subscriptions/{SUB}/resourcegroups/rg"
    )
    assert [m for m, _, _ in graph_t.sent] == ["POST"] and "Microsoft.ResourceGraph" in (
        graph_t.sent[0][1]
    )
    counters = state.counters()
    assert counters.requests == {"reads": 2, "graph": 1}
    assert (counters.throttled, counters.throttle_wait_s) == (1, 10)


async def test_a_pause_holds_back_other_requests_on_the_bucket() -> None:
    rig = Rig([throttled("SubscriptionRequestsThrottled", Retry_After="6"), OK])
    assert await rig.run(fleet_deadline=rig.time.now) == 429  # gives up, the pause stays
    start = rig.time.now
    assert await rig.run(url=f"{RG_URL}?api-version=1") == 200  # another read, same ARM bucket
    assert rig.time.now - start == 6
    assert rig.state.counters().throttle_wait_s == 6


# --- end to end: the real SDK against the emulator -------------------------------------------


@asynccontextmanager
async def _compute_client(emu: Emulator, state: ThrottleState) -> AsyncIterator[Any]:
    """A compute client with fleet's policy installed and the SDK's own retries off, so every
    429 is the policy's to handle."""
    conn = ArmConnection(
        StaticTokenCredential(emu.token),
        endpoint=emu.info.endpoint,
        ca_cert=emu.info.ca_cert,
        throttle=state,
        client_kwargs={"retry_policy": AsyncRetryPolicy.no_retries()},
    )
    async with ArmClients(conn) as arm:
        compute = arm.compute(SMALL_SUB)
        # build the other clients too: their policies share the same state
        assert arm.resources(SMALL_SUB) is not None and arm.graph is not None
        yield compute


def _vms(emu: Emulator) -> list[Any]:
    vms = [vm for vm in emu.world.inventory.vms.values() if not vm.is_uniform_instance]
    return sorted(vms, key=lambda vm: vm.name)


async def _get_all(client: Any, vms: list[Any], count: int, hot_share: int) -> list[str]:
    """``count`` concurrent VM GETs: ``hot_share`` on the first VM (past its per-VM burst), the
    rest spread round-robin over the others."""
    names: list[str] = []

    async def get(vm: Any) -> None:
        got = await client.virtual_machines.get(
            vm.resource_group, vm.name, fleet_region=vm.location
        )
        names.append(got.name)

    others = vms[1:]
    async with asyncio.TaskGroup() as tg:
        for i in range(count):
            tg.create_task(get(vms[0] if i < hot_share else others[i % len(others)]))
    return names


SMALL_SUB = "00000000-0000-4000-8000-000000000001"


@pytest.mark.e2e
async def test_e2e_400_concurrent_gets_receive_zero_429s(small_emu: Emulator) -> None:
    limits = ThrottleLimits.published(time_scale=small_emu.info.time_scale)
    state = ThrottleState(BucketSet(limits), deadline=time.monotonic() + 60)
    vms = _vms(small_emu)
    async with _compute_client(small_emu, state) as client:
        # 40 GETs on one VM exceed its Low Cost Get VM bucket (36): unpaced, some would be 429s
        names = await _get_all(client, vms, count=400, hot_share=40)
    assert len(names) == 400
    truth = await simkit.ground_truth(small_emu)
    assert truth["throttled_total"] == 0, truth["throttled"]
    counters = state.counters()
    assert (counters.requests, counters.throttled, counters.retries) == ({"reads": 400}, 0, 0)


@pytest.mark.e2e
async def test_e2e_every_request_survives_a_429_storm(small_emu: Emulator) -> None:
    # half of all requests refused for as long as the test runs (so load cannot make us miss it)
    storm = {"throttle_storms": [{"start": "+0", "duration": 1e6, "rate": 0.5, "retry_after": 5}]}
    async with simkit.raw(small_emu, token=None) as s, s.put("/_sim/faults", json=storm) as resp:
        assert resp.status == 200, await resp.text()
    limits = ThrottleLimits.published(time_scale=small_emu.info.time_scale)
    state = ThrottleState(BucketSet(limits), deadline=time.monotonic() + 60)
    async with _compute_client(small_emu, state) as client:
        names = await _get_all(client, _vms(small_emu), count=100, hot_share=0)
    assert len(names) == 100
    truth = await simkit.ground_truth(small_emu)
    counters = state.counters()
    assert counters.throttled == truth["throttled"]["storm"] == truth["throttled_total"] > 0
    assert counters.retries == counters.throttled
    assert counters.requests == {"reads": 100 + counters.throttled}
