"""End to end: ARM and Compute throttling as a client sees it over HTTPS (429s, rate-limit
headers, Retry-After scaled by the time scale) and the real SDK's retry policy waiting it out.

Bounds on token counts are derived from wall-clock intervals measured around the requests
(earliest send to latest receive and vice versa), so a slow machine widens them instead of
breaking them.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from datetime import datetime
from typing import Any

import aiohttp
import pytest
from azure.core.exceptions import HttpResponseError
from azure.core.pipeline.policies import SansIOHTTPPolicy

from fleet.sim.emulator import Emulator
from tests import simkit

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

RG = "rg-small"
API = {"api-version": simkit.RESOURCES_API}
CAPI = {"api-version": simkit.COMPUTE_API}
READS = "x-ms-ratelimit-remaining-subscription-reads"
WRITES = "x-ms-ratelimit-remaining-subscription-writes"


def _list_path(emu: Emulator) -> str:
    """An ARM read with no Compute policy behind it: only ARM's buckets apply."""
    return f"/subscriptions/{emu.info.subscriptions[0]}/resourceGroups/{RG}/resources"


def _rc_body(script: str = "uptime") -> dict[str, Any]:
    return {"location": "eastus", "properties": {"source": {"script": script}}}


async def _send(
    s: aiohttp.ClientSession, method: str, path: str, params: dict[str, str], **kw: Any
) -> tuple[int, dict[str, str], Any]:
    async with s.request(method, path, params=params, **kw) as r:
        text = await r.text()
        return r.status, dict(r.headers), json.loads(text) if text else None


async def _burst_until_429(
    s: aiohttp.ClientSession, method: str, path: str, params: dict[str, str], **kw: Any
) -> tuple[int, tuple[int, dict[str, str], Any]]:
    """Concurrent batches until a 429 comes back: (successes, the first 429)."""
    ok = 0
    for _ in range(100):
        batch = await asyncio.gather(*(_send(s, method, path, params, **kw) for _ in range(25)))
        ok += sum(1 for status, _, _ in batch if status < 300)
        refused = [res for res in batch if res[0] == 429]
        assert all(res[0] in (200, 201, 429) for res in batch), batch[0]
        if refused:
            return ok, refused[0]
    raise AssertionError("never throttled")


async def test_read_burst_is_throttled_after_250() -> None:
    async with Emulator(simkit.profile("small"), time_scale=1) as emu, simkit.raw(emu) as s:
        path = _list_path(emu)
        start = time.monotonic()
        remaining = []
        for _ in range(20):
            status, headers, _ = await _send(s, "GET", path, API)
            assert status == 200
            remaining.append(int(headers[READS]))
        first_20 = time.monotonic() - start
        assert remaining[0] == 249
        # Counts down by one a request, give or take what 25/s refilled meanwhile.
        assert remaining[0] - 20 <= remaining[-1] <= remaining[0] - 19 + 25 * first_20 + 1
        ok, (status, headers, body) = await _burst_until_429(s, "GET", path, API)
        elapsed = time.monotonic() - start
    ok += 20
    assert 249 <= ok <= 250 + 25 * elapsed + 1  # 250 at once, then 25/s
    assert status == 429
    assert body["error"]["code"] == "SubscriptionRequestsThrottled"
    assert "'read' requests" in body["error"]["message"]
    assert headers[READS] == "0"
    assert int(headers["Retry-After"]) >= 1
    assert 0 < int(headers["x-ms-retry-after-ms"]) <= 1000 / 25 + 1  # one token at 25/s


async def test_reads_refill_at_the_scaled_rate() -> None:
    k, rate = 5, 25.0  # 125 tokens per wall second
    async with Emulator(simkit.profile("small"), time_scale=k) as emu, simkit.raw(emu) as s:
        path = _list_path(emu)
        await _burst_until_429(s, "GET", path, API)
        t0_send = time.monotonic()
        status0, headers0, _ = await _send(s, "GET", path, API)
        t0_recv = time.monotonic()
        await asyncio.sleep(0.6)
        t1_send = time.monotonic()
        status1, headers1, _ = await _send(s, "GET", path, API)
        t1_recv = time.monotonic()
    assert status1 == 200
    # Tokens left after probe 0 (the header is floored; a 200 took one token).
    after0 = int(headers0[READS])
    before1 = int(headers1[READS]) + 1
    gained = before1 - after0
    low = rate * k * (t1_send - t0_recv)
    high = rate * k * (t1_recv - t0_send)
    assert min(low, 250 - after0) - 2 <= gained <= high + 2
    assert gained > rate * 0.6 * 2  # clearly faster than unscaled refill (15 tokens)
    assert status0 in (200, 429)


async def test_hot_vm_hits_the_update_vm_resource_limit() -> None:
    async with Emulator(simkit.profile("small"), time_scale=1) as emu:
        sub = emu.info.subscriptions[0]
        async with simkit.clients(emu) as arm:
            ops = arm.compute(sub).virtual_machine_run_commands
            for i in range(12):  # each body differs, so each PUT is a real update
                poller = await ops.begin_create_or_update(
                    RG, "app-01", "hot", _rc_body(f"echo {i}"), polling=False
                )
                await poller.result()
            with pytest.raises(HttpResponseError) as throttled:
                await ops.begin_create_or_update(
                    RG, "app-01", "hot", _rc_body("echo 12"), polling=False
                )
            error = throttled.value.error
            assert throttled.value.status_code == 429
            assert error.code == "OperationNotAllowed"
            assert error.details[0].target == "UpdateVM.Resource"
            assert json.loads(error.details[0].message)["allowedRequestCount"] == 12
            other = await ops.begin_create_or_update(RG, "app-02", "hot", _rc_body(), polling=False)
            assert (await other.result()).provisioning_state == "Creating"
        async with simkit.raw(emu) as s:
            path = simkit.vm_path(sub, RG, "app-01") + "/runCommands/hot"
            status, headers, _ = await _send(s, "PUT", path, CAPI, json=_rc_body("echo 13"))
    assert status == 429
    limits = headers["x-ms-ratelimit-remaining-resource"]
    assert "Microsoft.Compute/UpdateVM.Resource;0" in limits
    assert "Microsoft.Compute/UpdateVM.Subscription;" in limits
    assert int(headers["Retry-After"]) >= 1
    assert emu.world.stats.throttled["compute:UpdateVM:resource"] == 2


async def test_writes_bucket_exhausts_after_200_puts() -> None:
    roomy = {"compute": {"UpdateVM": {"resource": [4, 1000]}}}  # only ARM's bucket can refuse
    async with (
        Emulator(simkit.profile("small", throttling=roomy), time_scale=1) as emu,
        simkit.raw(emu) as s,
    ):
        path = simkit.vm_path(emu.info.subscriptions[0], RG, "app-01") + "/runCommands/w"
        start = time.monotonic()
        ok, (status, headers, body) = await _burst_until_429(s, "PUT", path, CAPI, json=_rc_body())
        elapsed = time.monotonic() - start
    assert 199 <= ok <= 200 + 10 * elapsed + 1  # 200 at once, then 10/s
    assert status == 429
    assert body["error"]["code"] == "SubscriptionRequestsThrottled"
    assert "'write' requests" in body["error"]["message"]
    assert headers[WRITES] == "0"


async def test_retry_after_is_divided_by_the_time_scale() -> None:
    k = 100
    slow = {
        "arm": {"reads": [5, 0.1]},  # one token per 10 Azure-seconds
        "compute": {"UpdateVM": {"resource": [1, 12]}},
    }
    async with (
        Emulator(simkit.profile("small", throttling=slow), time_scale=k) as emu,
        simkit.raw(emu) as s,
    ):
        _, (_, headers, body) = await _burst_until_429(s, "GET", _list_path(emu), API)
        # The message quotes the wait in Azure-seconds, rounded up: N-1 < wait <= N.
        azure_wait = int(re.search(r"after '(\d+)' seconds", body["error"]["message"])[1])
        wall_ms = int(headers["x-ms-retry-after-ms"])
        assert (azure_wait - 1) * 1000 / k <= wall_ms <= azure_wait * 1000 / k + 1
        assert 1 <= azure_wait <= 10 and headers["Retry-After"] == "1"

        # Compute: the per-VM window is a minute of Azure time, so at most 600 ms of wall time.
        # 30 PUTs at once against 12 tokens (+1 a minute): some are refused even if slow.
        vm_rc = simkit.vm_path(emu.info.subscriptions[0], RG, "app-01") + "/runCommands/k"
        before = emu.world.clock.now()
        puts = (_send(s, "PUT", vm_rc, CAPI, json=_rc_body(f"echo {i}")) for i in range(30))
        results = await asyncio.gather(*puts)
        after = emu.world.clock.now()
        _, headers, body = next(res for res in results if res[0] == 429)
        assert body["error"]["details"][0]["target"] == "UpdateVM.Resource"
        window = json.loads(body["error"]["details"][0]["message"])
        epoch = emu.world.clock.utc(0.0)
        end = (datetime.fromisoformat(window["endTime"]) - epoch).total_seconds()
        wall_ms = int(headers["x-ms-retry-after-ms"])
        assert (end - after) * 1000 / k - 1 <= wall_ms <= (end - before) * 1000 / k + 1
        assert wall_ms <= 60_000 / k + 1


class _Statuses(SansIOHTTPPolicy):  # type: ignore[type-arg]
    """Records the status of every attempt the SDK makes (a per-retry policy sees them all)."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    def on_response(self, request: Any, response: Any) -> None:
        self.seen.append(response.http_response.status_code)


async def test_sdk_with_default_retries_waits_out_a_429() -> None:
    k = 60  # a Compute minute is one wall second
    scarce = {"compute": {"LowCostGetVM": {"resource": [1, 2]}}}  # 2 GETs, then 1 a minute
    statuses = _Statuses()
    async with Emulator(simkit.profile("small", throttling=scarce), time_scale=k) as emu:
        path = simkit.vm_path(emu.info.subscriptions[0], RG, "app-01")
        async with simkit.raw(emu) as s:
            for _ in range(5):  # drain app-01's bucket early in a window, not just before a refill
                _, (_, headers, _) = await _burst_until_429(s, "GET", path, CAPI)
                refill_in_s = int(headers["x-ms-retry-after-ms"]) / 1000
                if refill_in_s >= 0.4:
                    break
                await asyncio.sleep(refill_in_s + 0.05)
            else:
                raise AssertionError("could not drain the bucket early in a window")
        async with simkit.clients(emu, retries=True, per_retry_policies=[statuses]) as arm:
            start = time.monotonic()
            vm = await arm.compute(emu.info.subscriptions[0]).virtual_machines.get(RG, "app-01")
            waited = time.monotonic() - start
    assert vm.name == "app-01"
    assert statuses.seen == [429, 200]
    assert waited >= 0.9  # it honoured Retry-After (whole seconds, so 1) instead of hammering
