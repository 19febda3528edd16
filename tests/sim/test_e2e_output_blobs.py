"""End to end: the emulator as the VM agent writes run-command output into append blobs on a
real Azurite, through the real SDK clients (ARM over HTTPS; blobs read back with
azure-storage-blob), as Azure/run-command-handler-linux does (internal/cmds/cmds.go: create or
replace both blobs before the script, append on each 15-second tick and once after the end,
fail the run with -101 when a blob cannot be created: bad or expired SAS, missing container,
unreachable account).

Waits are on observed states (``_until``), never sleep-then-count.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.storage.blob import BlobSasPermissions, generate_blob_sas
from azure.storage.blob.aio import BlobClient, BlobServiceClient

from fleet.sim.azurite import AzuriteInfo
from fleet.sim.emulator import Emulator
from fleet.util import completion
from tests import simkit

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

RG = "rg-small"
LONG_S = 60.0  # Azure-seconds a "chatty" script runs: four handler ticks
CHATTY = "".join(f"line {i:04d}: still working on it ......................\n" for i in range(600))


PROFILE = simkit.profile(
    "small",
    script={
        "pending": simkit.fixed(2.0),
        "duration": simkit.fixed(4.0),
        "outcomes": [
            {"name": "ok", "weight": 1.0, "output": "hello from {vm_name}\n"},
            {
                "name": "failing",
                "weight": 0.0,
                "exit_code": 3,
                "output": "checking\n",
                "error": "ERROR: service down\n",
            },
            {"name": "chatty", "weight": 0.0, "output": CHATTY, "duration": simkit.fixed(LONG_S)},
        ],
        "exec": {"enabled": False},
    },
    overrides=[
        {"names": ["app-03"], "outcome": "failing"},
        {"names": ["app-04"], "outcome": "chatty"},
    ],
    throttling={"enabled": False},
)


@pytest.fixture
async def emu(azurite: AzuriteInfo) -> AsyncIterator[Emulator]:
    async with Emulator(PROFILE, time_scale=50, azurite=azurite) as emulator:
        yield emulator


@pytest.fixture
async def container(azurite: AzuriteInfo) -> str:
    name = f"out-{uuid.uuid4().hex[:12]}"
    async with _service(azurite) as service:
        await service.create_container(name)
    return name


def _service(azurite: AzuriteInfo) -> BlobServiceClient:
    key = {"account_name": azurite.account_name, "account_key": azurite.account_key}
    return BlobServiceClient(
        azurite.account_url, credential=key, connection_verify=azurite.connection_verify
    )


def sas_url(
    azurite: AzuriteInfo, container: str, blob: str, *, key: str | None = None, hours: float = 1
) -> str:
    sas = generate_blob_sas(
        azurite.account_name, container, blob, account_key=key or azurite.account_key,
        permission=BlobSasPermissions(read=True, add=True, create=True, write=True),
        expiry=datetime.now(UTC) + timedelta(hours=hours),
    )  # fmt: skip
    return f"{azurite.account_url}/{container}/{blob}?{sas}"


async def read_blob(azurite: AzuriteInfo, container: str, blob: str) -> bytes | None:
    async with _service(azurite) as service:
        client = service.get_blob_client(container, blob)
        if not await client.exists():
            return None
        return await (await client.download_blob()).readall()


def _body(script: str = "uptime", **props: Any) -> dict[str, Any]:
    return {"location": "eastus", "properties": {"source": {"script": script}, **props}}


async def _run(emu: Emulator, vm: str, name: str, body: dict[str, Any] | None) -> Any:
    """PUT a run command on ``vm`` (unless ``body`` is None) and return it once terminal."""
    sub = emu.info.subscriptions[0]
    async with simkit.clients(emu) as arm:
        ops = arm.compute(sub).virtual_machine_run_commands
        if body is not None:
            await ops.begin_create_or_update(RG, vm, name, body, polling=False)

        async def read() -> Any:
            return await ops.get_by_virtual_machine(RG, vm, name, expand="instanceView")

        return await simkit.until(read, lambda rc: rc.instance_view.execution_state not in (
            "Pending", "Running"))  # fmt: skip


async def test_output_and_error_land_in_blobs_and_arm_echoes_uris_without_sas(
    emu: Emulator, azurite: AzuriteInfo, container: str
) -> None:
    out, err = (
        sas_url(azurite, container, "r1/app-03/stdout"),
        sas_url(azurite, container, "r1/app-03/stderr"),
    )
    rc = await _run(emu, "app-03", "blobs", _body(outputBlobUri=out, errorBlobUri=err))
    assert rc.instance_view.execution_state == "Failed" and rc.instance_view.exit_code == 3
    assert await read_blob(azurite, container, "r1/app-03/stdout") == b"checking\n"
    assert await read_blob(azurite, container, "r1/app-03/stderr") == b"ERROR: service down\n"
    # ARM echoes the blob URIs without their SAS (azure-cli#26322 shows a real response)
    assert rc.output_blob_uri == out.split("?")[0] and rc.error_blob_uri == err.split("?")[0]
    assert "sig=" not in repr(rc.as_dict())


async def test_output_is_appended_in_chunks_while_the_script_runs(
    emu: Emulator, azurite: AzuriteInfo, container: str
) -> None:
    """app-04 writes for 60 Azure-seconds: the blob grows on the handler's ticks, before the
    instance view says the script ended, and ends byte-identical to what it printed."""
    sub = emu.info.subscriptions[0]
    url = sas_url(azurite, container, "r2/app-04/stdout")
    async with simkit.clients(emu) as arm:
        ops = arm.compute(sub).virtual_machine_run_commands
        await ops.begin_create_or_update(RG, "app-04", "chunks", _body(outputBlobUri=url))
        partial = await simkit.until(
            lambda: read_blob(azurite, container, "r2/app-04/stdout"),
            lambda data: data is not None and 0 < len(data) < len(CHATTY),
        )
        rc = await ops.get_by_virtual_machine(RG, "app-04", "chunks", expand="instanceView")
        assert rc.instance_view.execution_state == "Running"
        assert CHATTY.encode().startswith(partial)
    final = await _run(emu, "app-04", "chunks", None)
    assert final.instance_view.execution_state == "Succeeded"
    assert await read_blob(azurite, container, "r2/app-04/stdout") == CHATTY.encode()
    async with BlobClient.from_blob_url(url, connection_verify=azurite.connection_verify) as blob:
        props = await blob.get_blob_properties()
    assert props.blob_type == "AppendBlob" and props.append_blob_committed_block_count >= 3


async def test_a_second_run_replaces_the_blob(
    emu: Emulator, azurite: AzuriteInfo, container: str
) -> None:
    url = sas_url(azurite, container, "r3/app-01/stdout")
    async with BlobClient.from_blob_url(url, connection_verify=azurite.connection_verify) as blob:
        await blob.upload_blob(b"stale output of an earlier run\n", blob_type="AppendBlob")
    await _run(emu, "app-01", "replace", _body(outputBlobUri=url))
    assert await read_blob(azurite, container, "r3/app-01/stdout") == b"hello from app-01\n"


async def test_wrapped_script_ends_its_blob_with_the_completion_record(
    emu: Emulator, azurite: AzuriteInfo, container: str
) -> None:
    out, err = (sas_url(azurite, container, f"r4/app-03/{s}") for s in ("stdout", "stderr"))
    script = completion.wrap_linux("#!/bin/sh\ncheck-things\n", "run-4")
    body = _body(script, outputBlobUri=out, errorBlobUri=err)
    rc = await _run(emu, "app-03", "wrapped", body)
    data = await read_blob(azurite, container, "r4/app-03/stdout")
    errors = await read_blob(azurite, container, "r4/app-03/stderr")
    assert data is not None and errors is not None
    assert completion.split_record(data, "run-4") == (b"checking\n", 3)
    assert completion.split_record(errors, "run-4") == (b"ERROR: service down\n", 3)
    assert rc.instance_view.output.endswith(completion.record("run-4", 3))


@pytest.mark.parametrize("fault", ["bad-sas", "expired-sas", "missing-container", "unreachable"])
async def test_an_unwritable_blob_fails_the_run_with_minus_101_before_the_script(
    emu: Emulator, azurite: AzuriteInfo, container: str, fault: str
) -> None:
    if fault == "bad-sas":
        url = sas_url(azurite, container, "r5/stdout", key="Zm9vYmFy" * 11)
    elif fault == "expired-sas":  # signed with the right key, but its expiry has passed
        url = sas_url(azurite, container, "r5/stdout", hours=-1)
    elif fault == "missing-container":
        url = sas_url(azurite, "no-such-container", "r5/stdout")
    else:
        url = "https://127.0.0.1:9/devstoreaccount1/c/r5/stdout?sv=2024-08-04&sig=SECRETSIG"
    rc = await _run(emu, "app-01", f"bad-{fault}", _body(outputBlobUri=url))
    view = rc.instance_view
    assert view.execution_state == "Failed" and view.exit_code == -101
    assert view.execution_message.startswith(
        f"Execution failed: Error creating AppendBlob '{url.split('?')[0]}'"
    )
    expected = {
        "bad-sas": "StatusCode=403, ErrorCode=AuthorizationFailure",
        "expired-sas": "StatusCode=403, ErrorCode=AuthorizationFailure",  # Azurite's code for it
        "missing-container": "StatusCode=404, ErrorCode=ContainerNotFound",
        "unreachable": "connect: connection refused",
    }[fault]
    assert expected in view.execution_message
    truth = await simkit.ground_truth(emu, "executions")
    mine = [e for e in truth["executions"] if e["run_command"] == f"bad-{fault}"]
    assert [e["started"] for e in mine] == [False]  # the script never ran


async def test_managed_identity_is_trusted_for_the_emulators_azurite_and_object_id_refused(
    emu: Emulator, azurite: AzuriteInfo, container: str
) -> None:
    plain = f"{azurite.account_url}/{container}/r6/app-01/stdout"
    rc = await _run(emu, "app-01", "mi", _body(outputBlobUri=plain, outputBlobManagedIdentity={}))
    assert rc.instance_view.execution_state == "Succeeded"
    assert await read_blob(azurite, container, "r6/app-01/stdout") == b"hello from app-01\n"
    by_object = {"objectId": str(uuid.uuid4())}
    rc = await _run(
        emu, "app-02", "mi-obj", _body(outputBlobUri=plain, outputBlobManagedIdentity=by_object)
    )
    assert rc.instance_view.exit_code == -101
    assert "ObjectId is not supported" in rc.instance_view.execution_message
    rc = await _run(emu, "app-02", "no-identity", _body(outputBlobUri=plain))
    assert rc.instance_view.exit_code == -101  # no SAS and the VM has no identity of its own


async def test_exec_mode_writes_a_megabyte_byte_identical_with_the_real_trap(
    azurite: AzuriteInfo, container: str
) -> None:
    """A real bash script prints ~1 MB (text plus a few bytes that are not UTF-8) under fleet's
    wrapper: the blob holds exactly those bytes, then the record the real EXIT trap printed."""
    expected = "".join(f"{i}\n" for i in range(1, 160_001)).encode() + b"\xff\xfe tail"
    script = completion.wrap_linux("seq 1 160000\nprintf '\\377\\376 tail'\nexit 7\n", "run-7")
    exec_profile = simkit.profile(
        "small", script={**PROFILE.script.model_dump(), "exec": {"enabled": True}},
        overrides=[], throttling={"enabled": False},
    )  # fmt: skip
    async with Emulator(exec_profile, time_scale=50, azurite=azurite) as emu:
        url = sas_url(azurite, container, "r7/app-01/stdout")
        rc = await _run(emu, "app-01", "mega", _body(script, outputBlobUri=url))
    assert rc.instance_view.execution_state == "Failed" and rc.instance_view.exit_code == 7
    data = await read_blob(azurite, container, "r7/app-01/stdout")
    assert data is not None and len(data) > 1_000_000
    assert completion.split_record(data, "run-7") == (expected, 7)
