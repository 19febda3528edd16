"""Azurite from this checkout's setup, through azure-storage-blob's async clients over HTTPS: the
ground later output-blob features (issue 11) stand on.

Append blobs and SAS URLs as the run-command handler uses them: it gets a blob URL with a SAS
and appends stdout to it in pieces (outputBlobUri; Azure/run-command-handler-linux writes with
the SAS URL alone, no account key).
"""

from __future__ import annotations

import itertools
import os
from datetime import UTC, datetime, timedelta

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.storage.blob import BlobSasPermissions, generate_blob_sas
from azure.storage.blob.aio import BlobClient, BlobServiceClient

from fleet.sim.azurite import AzuriteInfo

pytestmark = pytest.mark.anyio


def _sas_url(azurite: AzuriteInfo, container: str, blob: str, *, expiry: datetime) -> str:
    sas = generate_blob_sas(
        azurite.account_name, container, blob, account_key=azurite.account_key,
        permission=BlobSasPermissions(read=True, add=True, create=True, write=True),
        expiry=expiry,
    )  # fmt: skip
    return f"{azurite.account_url}/{container}/{blob}?{sas}"


async def _container(azurite: AzuriteInfo, name: str) -> None:
    credential = {"account_name": azurite.account_name, "account_key": azurite.account_key}
    async with BlobServiceClient(
        azurite.account_url, credential=credential, connection_verify=azurite.connection_verify
    ) as service:
        await service.create_container(name)


async def test_append_blob_through_sas_url_reads_back_byte_identical(
    azurite: AzuriteInfo,
) -> None:
    assert azurite.account_url.startswith("https://127.0.0.1:")
    await _container(azurite, "outputs-roundtrip")
    url = _sas_url(
        azurite, "outputs-roundtrip", "run-1/vm-001/stdout",
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )  # fmt: skip
    payload = os.urandom(300_000) + "ünïcødé\r\n\x00".encode()
    cuts = [0, 1, 4096, 65_537, 200_000, len(payload)]  # uneven chunks, one of a single byte
    async with BlobClient.from_blob_url(url, connection_verify=azurite.connection_verify) as blob:
        await blob.create_append_blob()
        for start, end in itertools.pairwise(cuts):
            await blob.append_block(payload[start:end])
        props = await blob.get_blob_properties()
        data = await (await blob.download_blob()).readall()
    assert props.blob_type == "AppendBlob"
    assert props.size == len(payload)
    assert data == payload


@pytest.mark.parametrize("tamper", ["signature", "expired"])
async def test_write_with_a_bad_sas_is_refused(azurite: AzuriteInfo, tamper: str) -> None:
    container = f"outputs-bad-{tamper}"
    await _container(azurite, container)
    good = _sas_url(
        azurite, container, "run-1/vm-001/stdout", expiry=datetime.now(UTC) + timedelta(hours=1)
    )
    async with BlobClient.from_blob_url(good, connection_verify=azurite.connection_verify) as blob:
        await blob.create_append_blob()
    if tamper == "signature":
        bad = good.replace("sig=", "sig=AAAA")
    else:
        bad = _sas_url(
            azurite, container, "run-1/vm-001/stdout",
            expiry=datetime.now(UTC) - timedelta(minutes=5),
        )  # fmt: skip
    async with BlobClient.from_blob_url(bad, connection_verify=azurite.connection_verify) as blob:
        with pytest.raises((ClientAuthenticationError, HttpResponseError)) as refused:
            await blob.append_block(b"must not land")
    assert refused.value.status_code == 403
    async with BlobClient.from_blob_url(good, connection_verify=azurite.connection_verify) as blob:
        assert (await blob.get_blob_properties()).size == 0  # nothing was appended
