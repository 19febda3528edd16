"""End to end over HTTPS and the real SDK: Compute throttle header dialects (profile, emulator
argument, run-time switch) and background load of other clients spending the same budgets.

Token counts are bounded by wall-clock intervals measured around the requests, so a slow machine
widens the bounds instead of breaking them."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import anyio
import pytest
from azure.core.exceptions import HttpResponseError

from fleet.sim.emulator import Emulator
from tests import simkit

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

RG = "rg-small"
CAPI = {"api-version": simkit.COMPUTE_API}
WRITES = "x-ms-ratelimit-remaining-subscription-writes"
COMPUTE = "x-ms-ratelimit-remaining-resource"
PATTERNS = {
    "current": r"Microsoft\.Compute/UpdateVM\.Resource;\d+,"
    r"Microsoft\.Compute/UpdateVM\.Subscription;\d+",
    "windowed": r"(Microsoft\.Compute/PutVM3Min;\d+,Microsoft\.Compute/PutVM30Min;\d+,?){2}",
}
TARGETS = {"current": "UpdateVM.Resource", "windowed": "PutVM3Min", "none": "UpdateVM"}


def _rc_body(script: str = "uptime") -> dict[str, Any]:
    return {"location": "eastus", "properties": {"source": {"script": script}}}


async def _put(emu: Emulator, vm: str, name: str, script: str = "uptime") -> tuple[int, Any, Any]:
    """Status, headers (a header sent several times: its lines joined with ","), body."""
    path = simkit.vm_path(emu.info.subscriptions[0], RG, vm) + f"/runCommands/{name}"
    async with simkit.raw(emu) as s, s.put(path, params=CAPI, json=_rc_body(script)) as r:
        headers = {k: ",".join(r.headers.getall(k)) for k in r.headers}
        return r.status, headers, await r.json()


async def _sim(emu: Emulator, method: str, what: str, body: Any = None) -> Any:
    async with (
        simkit.raw(emu, token=None) as s,
        s.request(method, f"/_sim/{what}", json=body) as r,
    ):
        return r.status, await r.json()


# -- header dialects ----------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["current", "windowed", "none"])
async def test_header_dialects_say_different_things_about_the_same_limits(dialect: str) -> None:
    async with Emulator(simkit.profile("small"), throttle_headers=dialect) as emu:
        status, headers, _ = await _put(emu, "app-01", "rc")
        assert status == 201 and headers[WRITES] == "199"  # ARM headers in every dialect
        if dialect == "none":
            assert COMPUTE not in headers
        else:
            assert re.fullmatch(PATTERNS[dialect], headers[COMPUTE]), headers[COMPUTE]
        if dialect == "windowed":  # sometimes two lines of the header, sometimes one value
            path = simkit.vm_path(emu.info.subscriptions[0], RG, "app-02") + "/runCommands/rc"
            async with simkit.raw(emu) as s:
                lines = []
                for _ in range(8):
                    async with s.get(path, params=CAPI) as r:
                        assert r.status in (200, 404)
                        lines.append(len(r.headers.getall(COMPUTE)))
            assert set(lines) == {1, 2}
        async with simkit.clients(emu) as arm:
            ops = arm.compute(emu.info.subscriptions[0]).virtual_machine_run_commands
            for i in range(11):  # 12 Update VM tokens per VM, whatever the headers say
                await ops.begin_create_or_update(
                    RG, "app-01", "rc", _rc_body(f"{i}"), polling=False
                )
            with pytest.raises(HttpResponseError) as throttled:
                await ops.begin_create_or_update(RG, "app-01", "rc", _rc_body("x"), polling=False)
        assert throttled.value.status_code == 429
        assert throttled.value.error.details[0].target == TARGETS[dialect]
        assert json.loads(throttled.value.error.details[0].message)["allowedRequestCount"] == 12


async def test_profile_sets_the_dialect_and_a_test_switches_it_mid_run() -> None:
    profile = simkit.profile("small", throttling={"headers": "windowed"})
    async with Emulator(profile) as emu:
        _, headers, _ = await _put(emu, "app-01", "a")
        assert "PutVM3Min;11" in headers[COMPUTE]
        status, settings = await _sim(emu, "PUT", "settings", {"throttle_headers": "none"})
        assert status == 200 and settings["throttle_headers"] == "none"
        _, headers, _ = await _put(emu, "app-02", "a")
        assert COMPUTE not in headers
        change = {"throttle_headers": "current", "throttle_headers_missing": 1.0}
        await _sim(emu, "PUT", "settings", change)
        _, headers, _ = await _put(emu, "app-03", "a")
        assert COMPUTE not in headers  # every response lacks it now, in any dialect
        await _sim(emu, "PUT", "settings", {"throttle_headers_missing": 0.0})
        _, headers, _ = await _put(emu, "app-04", "a")
        assert headers[COMPUTE].startswith("Microsoft.Compute/UpdateVM.Resource;11,")
        status, refused = await _sim(emu, "PUT", "settings", {"throttle_headers": "old"})
        assert status == 400 and "throttle_headers" in refused["error"]["message"]


# -- background load ----------------------------------------------------------------------------

OTHER_JOB = {"arm": [{"name": "other-job", "kind": "writes", "spent": 200, "rate_per_s": 3}]}


async def test_another_job_of_the_same_principal_has_spent_the_write_burst() -> None:
    """Issue #17: the caller starts into an empty write bucket that another client of its own
    identity keeps draining at 3 writes/s; the bucket refills at 10/s, so 7/s are left."""
    async with Emulator(simkit.profile("small", background=OTHER_JOB)) as emu:
        started = time.monotonic()
        async with simkit.clients(emu) as arm:  # the SDK sees the 429 (its retries are off)
            ops = arm.compute(emu.info.subscriptions[0]).virtual_machine_run_commands
            with pytest.raises(HttpResponseError) as throttled:
                await ops.begin_create_or_update(RG, "app-01", "first", _rc_body(), polling=False)
        assert throttled.value.status_code == 429
        assert throttled.value.error.code == "SubscriptionRequestsThrottled"
        assert throttled.value.response.headers[WRITES] == "0"
        await anyio.sleep(2.0)
        low = time.monotonic() - started  # at least this much Azure time has passed
        status, headers, _ = await _put(emu, "app-01", "second")
        high = time.monotonic() - started
        assert status == 201
        assert 7 * low - 2 <= int(headers[WRITES]) <= 7 * high + 1
        status, truth = await _sim(emu, "GET", "background")
    [load] = truth["loads"]
    assert (load["name"], load["principal"], load["spent_at_start"]) == (
        "other-job",
        "operator",
        200,
    )
    assert 3 * low - 1 <= load["taken"] <= 3 * high + 1 and load["running"]


async def test_background_started_and_stopped_at_run_time() -> None:
    async with Emulator(simkit.profile("small"), time_scale=10) as emu:
        status, _, _ = await _put(emu, "app-01", "before")
        assert status == 201
        other_team = {
            "compute": [
                {"name": "other-team", "region": "eastus", "policy": "UpdateVM", "spent": 1400}
            ]
        }
        status, started = await _sim(emu, "POST", "background", other_team)
        assert status == 200 and started["loads"][0]["spent_at_start"] == 1400
        _, headers, _ = await _put(emu, "app-02", "after")
        assert headers[COMPUTE].endswith("UpdateVM.Subscription;98")  # 1,500 - 1 - 1,400 - 1
        status, stopped = await _sim(emu, "DELETE", "background")
        assert status == 200 and not stopped["loads"][0]["running"]
        status, refused = await _sim(emu, "POST", "background", {"arm": [{"rate_per_s": 1}]})
        assert status == 400 and "name" in refused["error"]["message"]
