"""The management clients' trimmed pipeline (fleet.azure.pipeline) against the emulator over real
HTTPS: what Azure sees of each request is unchanged where it matters (user agent with the SDK's
moniker, a client request id, the bearer token), the SDK's hooks and retries still work, and the
resources client (msrest style) still decodes its models."""

from __future__ import annotations

from typing import Any

import pytest
from azure.mgmt.resourcegraph.models import QueryRequest

from fleet.azure.clients import ArmClients
from fleet.azure.pipeline import management_policies
from fleet.sim.emulator import Emulator
from tests import simkit
from tests.azure.wired import arm_clients, set_faults

pytestmark = pytest.mark.anyio

RG, VM = "rg-small", "app-01"


async def test_a_request_carries_user_agent_request_id_and_token() -> None:
    seen: list[dict[str, str]] = []

    def hook(request: Any) -> None:  # raw_request_hook: the request as it leaves the pipeline
        seen.append(dict(request.http_request.headers))

    async with Emulator(simkit.profile("small"), time_scale=50) as emu, arm_clients(emu) as c:
        sub = emu.info.subscriptions[0]
        vm = await c.compute(sub).virtual_machines.get(RG, VM, raw_request_hook=hook)
        query = QueryRequest(subscriptions=[sub], query="Resources | project id, name")
        page = await c.graph.resources(query)
    assert vm.name == VM  # the Compute client parses its own bodies
    # the Resource Graph client (msrest style) reads its model from ContentDecodePolicy
    assert any(row["name"] == VM for row in page.data)
    headers = {k.lower(): v for k, v in seen[0].items()}
    assert "mgmt-compute/" in headers["user-agent"]
    assert headers["x-ms-client-request-id"]
    assert headers["authorization"] == f"Bearer {emu.token}"


async def test_reads_keep_the_sdks_retries_through_the_trimmed_pipeline() -> None:
    async with Emulator(simkit.profile("small"), time_scale=50) as emu, arm_clients(emu) as c:
        await set_faults(emu, {"transient": {"rate": 1.0, "statuses": [503]}})
        with pytest.raises(Exception) as raised:
            await c.compute(emu.info.subscriptions[0]).virtual_machines.get(RG, VM)
        requests = (await simkit.ground_truth(emu))["requests"]
    assert getattr(raised.value, "status_code", None) == 503
    assert requests.get("VirtualMachines_Get") == 4  # 1 + azure-core's 3 status retries


def test_the_pipeline_keeps_auth_retry_ids_agent_and_hooks_in_the_sdks_order() -> None:
    kept = management_policies(object(), ["scope"], "mgmt-x/1", decode=False, options={})
    names = [type(p).__name__ for p in kept]
    assert names == [
        "RequestIdPolicy",
        "UserAgentPolicy",
        "AsyncARMAutoResourceProviderRegistrationPolicy",
        "AsyncRedirectPolicy",
        "AsyncRetryPolicy",
        "AsyncARMChallengeAuthenticationPolicy",
        "CustomHookPolicy",
        "SensitiveHeaderCleanupPolicy",
    ]
    with_decode = management_policies(object(), ["s"], "m/1", decode=True, options={})
    assert "ContentDecodePolicy" in [type(p).__name__ for p in with_decode]


def test_a_connection_may_still_give_its_own_policies() -> None:
    from fleet.azure.clients import ArmConnection, StaticTokenCredential

    conn = ArmConnection(StaticTokenCredential("t"), client_kwargs={"policies": []})
    clients = ArmClients(conn)
    clients._session = object()  # type: ignore[assignment]  # no I/O: only the kwargs
    assert clients._kwargs("m/1", decode=False)["policies"] == []


def test_request_ids_are_random_unique_and_a_callers_own_id_still_wins() -> None:
    """fleet's RequestIdPolicy makes version-4 ids (azure-core's uuid1 asks libuuid for a clock
    sequence on every request, #16), one per request; a call's ``request_id=``, a configured id
    and a header the caller set are kept as azure-core keeps them."""
    import uuid

    from azure.core.pipeline import PipelineContext, PipelineRequest
    from azure.core.rest import HttpRequest

    from fleet.azure.pipeline import RequestIdPolicy

    def sent(policy: Any, headers: dict[str, str] | None = None, **options: Any) -> str:
        request = PipelineRequest(
            HttpRequest("GET", "https://127.0.0.1/x", headers=headers),
            PipelineContext(None, **options),
        )
        policy.on_request(request)
        return str(request.http_request.headers["x-ms-client-request-id"])

    made = [sent(RequestIdPolicy()) for _ in range(50)]
    assert len(set(made)) == 50
    assert all(uuid.UUID(one).version == 4 for one in made)
    assert sent(RequestIdPolicy(), request_id="call-id") == "call-id"
    assert sent(RequestIdPolicy(request_id="configured")) == "configured"
    assert sent(RequestIdPolicy(), headers={"x-ms-client-request-id": "mine"}) == "mine"
