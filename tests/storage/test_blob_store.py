"""fleet.storage against real Azurite: the SAS fleet issues lets an agent (a plain SAS-URL
client) create and append its blobs — signed with the account key, or with a user delegation
key from Azure AD (Azurite ``--oauth basic`` serves those and checks the SAS they sign) — and
the store lists, reads, prunes and counts as the port says."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.storage.blob.aio import BlobClient, BlobServiceClient

from fleet.model import CallError, Completion, OutputSpec, OutputStorage
from fleet.sim.azurite import AzuriteInfo
from fleet.storage.factory import output_store_factory
from tests import storagekit

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


@pytest.fixture(scope="module")
def oauth_azurite() -> Iterator[AzuriteInfo]:
    with storagekit.oauth_azurite() as info:
        yield info


async def container_in(info: AzuriteInfo, credential: Any) -> str:
    name = f"out-{uuid.uuid4().hex[:12]}"
    async with BlobServiceClient(
        info.account_url, credential=credential, connection_verify=info.connection_verify
    ) as service:
        await service.create_container(name)
    return name


def spec_for(info: AzuriteInfo, container: str) -> OutputSpec:
    return OutputSpec(OutputStorage(info.account_url, container), completion=Completion.STORAGE)


async def agent_writes(url: str, data: bytes, info: AzuriteInfo) -> None:
    """What the run-command handler does with a blob URL: create or replace, then append."""
    async with BlobClient.from_blob_url(url, connection_verify=info.connection_verify) as blob:
        await blob.create_append_blob()
        if data:
            await blob.append_block(data)


@pytest.mark.parametrize("signing", ["account-key", "user-delegation"])
async def test_the_sas_fleet_issues_lets_the_agent_write_and_fleet_read(
    azurite: AzuriteInfo, oauth_azurite: AzuriteInfo, signing: str
) -> None:
    if signing == "account-key":
        info, credential = azurite, None
        admin: Any = {"account_name": info.account_name, "account_key": info.account_key}
    else:
        info, credential = oauth_azurite, storagekit.FakeAadCredential()
        admin = credential
    container = await container_in(info, admin)
    opener = output_store_factory(credential, ca_cert=info.ca_cert)
    async with opener(spec_for(info, container), datetime.now(UTC) + timedelta(hours=2)) as store:
        blobs = store.blobs_for("run-1/vm-a", timedelta(hours=1))
        assert blobs.stdout.sas is not None and "sig=" in blobs.stdout.sas.reveal()
        assert "sig=" not in blobs.stdout.url and "sig=" not in repr(blobs)
        await agent_writes(blobs.stdout.writable_url(), b"hello\n", info)
        await agent_writes(blobs.stderr.writable_url(), b"", info)
        listed = await store.list("run-1/")
        assert not isinstance(listed, CallError)
        assert sorted((b.name, b.size) for b in listed) == [
            ("run-1/vm-a/stderr", 0), ("run-1/vm-a/stdout", 6)
        ]  # fmt: skip
        assert await store.read("run-1/vm-a/stdout", 2) == b"llo\n"
        assert await store.properties("run-1/vm-a/nothing") is None
        counted = store.counters().requests
    assert counted["list"] == 1 and counted["read"] == 1 and counted["properties"] == 1
    assert counted.get("key", 0) == (1 if signing == "user-delegation" else 0)


async def test_a_sas_is_for_its_blob_only(azurite: AzuriteInfo) -> None:
    key = {"account_name": azurite.account_name, "account_key": azurite.account_key}
    container = await container_in(azurite, key)
    opener = output_store_factory(ca_cert=azurite.ca_cert)
    async with opener(
        spec_for(azurite, container), datetime.now(UTC) + timedelta(hours=1)
    ) as store:
        blobs = store.blobs_for("run-1/vm-a", timedelta(hours=1))
        other = blobs.stdout.writable_url().replace("/vm-a/stdout?", "/vm-b/stdout?")
        with pytest.raises(Exception, match=r"AuthorizationFailure|authenticate"):
            await agent_writes(other, b"not mine", azurite)


async def test_prune_deletes_only_fleets_old_output_blobs(azurite: AzuriteInfo) -> None:
    key = {"account_name": azurite.account_name, "account_key": azurite.account_key}
    container = await container_in(azurite, key)
    async with BlobServiceClient(
        azurite.account_url, credential=key, connection_verify=azurite.connection_verify
    ) as service:
        client = service.get_container_client(container)
        for name in ("old-run/vm-a/stdout", "old-run/vm-a/stderr", "notes.txt", "a/b/c/stdout"):
            await client.upload_blob(name, b"x")
        opener = output_store_factory(ca_cert=azurite.ca_cert)
        spec = spec_for(azurite, container)
        async with opener(spec, datetime.now(UTC) + timedelta(hours=1)) as store:
            assert await store.prune(datetime.now(UTC) - timedelta(days=1)) == 0  # all recent
            assert await store.prune(datetime.now(UTC) + timedelta(days=1)) == 2
            assert store.counters().requests["delete"] == 2
        left = sorted([b.name async for b in client.list_blobs()])
    assert left == ["a/b/c/stdout", "notes.txt"]


async def test_an_unreachable_account_is_a_call_error_without_the_sas() -> None:
    spec = OutputSpec(OutputStorage("https://127.0.0.1:9/devstoreaccount1", "out"))
    opener = output_store_factory()
    async with opener(spec, datetime.now(UTC) + timedelta(hours=1)) as store:
        got = await store.list("run-1/")
        assert isinstance(got, CallError) and got.status == 0
        assert "sig=" not in got.message
        assert store.counters().errors == 1
