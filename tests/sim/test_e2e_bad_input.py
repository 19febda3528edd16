"""Bad requests on the read surface and the generic pipeline, over raw HTTPS (the SDK would never
send most of these): each is a 4xx with an ARM error body ``{"error": {"code", "message"}}``,
never a 500 and never a traceback.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from fleet.sim.emulator import Emulator
from tests import simkit

pytestmark = pytest.mark.anyio

GRAPH = "/providers/Microsoft.ResourceGraph/resources"
GRAPH_API = {"api-version": "2021-03-01"}
COMPUTE_API = {"api-version": simkit.COMPUTE_API}
RESOURCES_API = {"api-version": simkit.RESOURCES_API}


@pytest.fixture(autouse=True)
async def no_5xx(small_emu: Emulator) -> AsyncIterator[None]:
    """After every test here: the emulator's own statistics show no 5xx answer at all."""
    yield
    stats = await simkit.ground_truth(small_emu, "stats")
    fives = {
        op: codes
        for op, codes in stats["statuses"].items()
        if any(code.startswith("5") for code in codes)
    }
    assert not fives, f"5xx answers: {fives}"


@pytest.fixture
async def session(small_emu: Emulator) -> AsyncIterator[aiohttp.ClientSession]:
    async with simkit.raw(small_emu) as s:
        yield s


async def _error(
    response: aiohttp.ClientResponse, status: int, code: str | None = None
) -> dict[str, Any]:
    text = await response.text()
    assert response.status == status, text
    assert response.content_type == "application/json", text
    error = (await response.json())["error"]
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code, text
    return error


def _vm(emu: Emulator, name: str = "app-01") -> str:
    return simkit.vm_path(emu.info.subscriptions[0], "rg-small", name)


async def test_api_version_unknown_and_missing(
    small_emu: Emulator, session: aiohttp.ClientSession
) -> None:
    vm = _vm(small_emu)
    async with session.get(vm, params={"api-version": "1999-01-01"}) as r:
        error = await _error(r, 400, "InvalidApiVersionParameter")
    assert "1999-01-01" in error["message"] and simkit.COMPUTE_API in error["message"]
    async with session.get(vm) as r:
        await _error(r, 400, "MissingApiVersionParameter")
    async with session.post(GRAPH, json={"query": "Resources"}) as r:
        await _error(r, 400, "MissingApiVersionParameter")
    # A Compute version is not a Resources version: families are checked separately.
    resources = f"/subscriptions/{small_emu.info.subscriptions[0]}/resources"
    async with session.get(resources, params={"api-version": "2026-04-01"}) as r:
        await _error(r, 400, "InvalidApiVersionParameter")


async def test_unknown_path_is_an_arm_404(
    small_emu: Emulator, session: aiohttp.ClientSession
) -> None:
    sub = small_emu.info.subscriptions[0]
    for path in (
        "/nothing/here",
        f"/subscriptions/{sub}/providers/Microsoft.Storage/storageAccounts",
        f"{_vm(small_emu)}/extensions",
    ):
        async with session.get(path, params=COMPUTE_API) as r:
            error = await _error(r, 404)
        assert path in error["message"]


async def test_wrong_method_is_405(small_emu: Emulator, session: aiohttp.ClientSession) -> None:
    async with session.delete(_vm(small_emu), params=COMPUTE_API) as r:
        error = await _error(r, 405)
    assert "DELETE" in error["message"]
    async with session.get(GRAPH, params=GRAPH_API) as r:
        await _error(r, 405)
    resources = f"/subscriptions/{small_emu.info.subscriptions[0]}/resources"
    async with session.post(resources, params=RESOURCES_API, json={}) as r:
        await _error(r, 405)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"{not json", "InvalidRequestContent"),
        (b"", "InvalidRequestContent"),
        (b"\xff\xfe", "InvalidRequestContent"),
    ],
)
async def test_graph_malformed_body(session: aiohttp.ClientSession, raw: bytes, code: str) -> None:
    headers = {"Content-Type": "application/json"}
    async with session.post(GRAPH, params=GRAPH_API, data=raw, headers=headers) as r:
        await _error(r, 400, code)


# Sent as they are: no query, a query of the wrong type, not an object, no scope.
UNSCOPED = [
    {},
    {"subscriptions": ["x"]},
    {"query": 42},
    [],
    "Resources",
    {"query": "Resources"},
    {"query": "Resources", "subscriptions": "not-a-list"},
    {"query": "Resources", "subscriptions": [1, None]},
    {
        "query": "Resources",
        "subscriptions": ["00000000-0000-4000-8000-000000000001"],
        "facets": [{}],
    },
]
# Sent with the emulator's subscription: bad options and malformed or unknown KQL.
SCOPED = [
    {"query": "Resources", "options": {"$top": 0}},
    {"query": "Resources", "options": {"$top": 5000}},
    {"query": "Resources", "options": {"$top": "ten"}},
    {"query": "Resources", "options": {"$skip": -1}},
    {"query": "Resources", "options": {"resultFormat": "csv"}},
    {"query": "Resources", "options": {"$skipToken": "%%%not-a-token"}},
    {"query": "Resources", "options": "fast"},
    {"query": "Resources | where"},
    {"query": "Resources | where name == "},
    {"query": "Resources | project"},
    {"query": "Resources | order by"},
    {"query": "Resources | limit -1"},
    {"query": "Resources | where name == 'x' or"},
    {"query": "Resources | where nosuchcolumn == 1"},
    {"query": "VirtualMachines"},
    {"query": ""},
    {"query": "Resources | extend x = tolower()"},
    {"query": "Resources | where name in ()"},
    {"query": "Resources | where name == 'unterminated"},
]


@pytest.mark.parametrize("body", UNSCOPED)
async def test_graph_bad_requests_are_400(session: aiohttp.ClientSession, body: Any) -> None:
    async with session.post(GRAPH, params=GRAPH_API, json=body) as r:
        await _error(r, 400)


@pytest.mark.parametrize("body", SCOPED)
async def test_graph_bad_options_and_queries_are_400(
    small_emu: Emulator, session: aiohttp.ClientSession, body: dict[str, Any]
) -> None:
    scoped = {**body, "subscriptions": small_emu.info.subscriptions}
    async with session.post(GRAPH, params=GRAPH_API, json=scoped) as r:
        await _error(r, 400)


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ({"$filter": "name eq"}, 400),
        ({"$filter": "tagName eq 'a' or tagName eq 'b'"}, 400),
        ({"$filter": "identity eq 'x'"}, 400),
        ({"$filter": "substringof(name, 'x')"}, 400),
        ({"$filter": "(name eq 'x'"}, 400),
        ({"$top": "0"}, 400),
        ({"$top": "-3"}, 400),
        ({"$top": "many"}, 400),
        ({"$skiptoken": "garbage!!"}, 400),
    ],
)
async def test_resources_list_bad_query_parameters(
    small_emu: Emulator, session: aiohttp.ClientSession, query: dict[str, str], status: int
) -> None:
    path = f"/subscriptions/{small_emu.info.subscriptions[0]}/resources"
    async with session.get(path, params={**RESOURCES_API, **query}) as r:
        await _error(r, status)


async def test_compute_lists_reject_a_bad_skip_token(
    small_emu: Emulator, session: aiohttp.ClientSession
) -> None:
    sub = small_emu.info.subscriptions[0]
    path = f"/subscriptions/{sub}/providers/Microsoft.Compute/virtualMachines"
    async with session.get(path, params={**COMPUTE_API, "$skiptoken": "eyJvIjogLTF9"}) as r:
        await _error(r, 400, "InvalidSkipToken")


async def test_odd_names_and_scopes_are_404s_not_500s(
    small_emu: Emulator, session: aiohttp.ClientSession
) -> None:
    sub = small_emu.info.subscriptions[0]
    for path, code in (
        (simkit.vm_path(sub, "rg-small", "app-01%20x"), "ResourceNotFound"),
        (simkit.vm_path(sub, "RG-SMALL", "APP-01") + "/instanceView/extra", None),
        (
            f"/subscriptions/{sub}/resourceGroups/rg-small/providers/Microsoft.Compute/virtualMachineScaleSets/vmss-small/virtualMachines/-1",
            "ResourceNotFound",
        ),
    ):
        async with session.get(path, params=COMPUTE_API) as r:
            await _error(r, 404, code)


async def test_malformed_subscription_id_is_400(session: aiohttp.ClientSession) -> None:
    async with session.get(
        simkit.vm_path("not-a-guid", "rg-small", "app-01"), params=COMPUTE_API
    ) as r:
        error = await _error(r, 400, "InvalidSubscriptionId")
    assert "not-a-guid" in error["message"]


async def test_no_token_is_401_with_an_arm_body(small_emu: Emulator) -> None:
    async with (
        simkit.raw(small_emu, token=None) as s,
        s.get(_vm(small_emu), params=COMPUTE_API) as r,
    ):
        await _error(r, 401)
    async with (
        simkit.raw(small_emu, token="forged") as s,
        s.post(GRAPH, params=GRAPH_API, json={}) as r,
    ):
        await _error(r, 401)


async def test_nothing_above_was_a_500(small_emu: Emulator, session: aiohttp.ClientSession) -> None:
    """A sweep of odd requests (``no_5xx`` then checks the statistics)."""
    sub = small_emu.info.subscriptions[0]
    odd = [
        ("GET", f"/subscriptions/{sub}/resources", {"$filter": "'"}),
        ("GET", f"/subscriptions/{sub}/resources", {"$filter": "startswith(tagName)"}),
        ("GET", f"/subscriptions/{sub}/resources", {"$top": "99999999999999999999"}),
        (
            "GET",
            f"/subscriptions/{sub}/providers/Microsoft.Compute/virtualMachines",
            {"statusOnly": "maybe"},
        ),
        ("GET", _vm(small_emu), {"$expand": "instanceView,,userData"}),
        ("PUT", _vm(small_emu), {}),
        ("PATCH", GRAPH, {}),
    ]
    for method, path, query in odd:
        version = RESOURCES_API if path.endswith("/resources") else COMPUTE_API
        async with session.request(method, path, params={**version, **query}) as r:
            assert r.status < 500, f"{method} {path} {query}: {r.status} {await r.text()}"
            if r.status >= 400:
                await _error(r, r.status)
    assert (await simkit.ground_truth(small_emu, "stats"))["total_requests"] >= len(odd)
