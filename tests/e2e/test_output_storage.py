"""End to end: full outputs through append blobs and completion seen in storage — fleet's
library against the emulator (real SDK, HTTPS) whose agents write to a real Azurite, fleet
reading them back with azure-storage-blob.

- On the demo profile, ``completion: storage`` reports every target exactly as ARM polling does
  (status, exit code, reason, output) with at most 0.1 ARM reads per launched target; the
  dead agents, the wedged command and the failures took the fallback path (ARM reads).
- Outputs read back from the blobs are grouped by their whole text, both streams: targets whose
  last 4 KB (what ARM shows) are the same but whose outputs begin differently are told apart.
- A bad SAS, an unreachable storage account and a missing container fail each target with the
  handler's -101 and a clear reason; the run itself completes, and no SAS leaks.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from pathlib import Path
from typing import Any

import anyio
import pytest
from azure.storage.blob.aio import BlobServiceClient

from fleet.api import prepare, run_async
from fleet.model import Completion, JobSpec, OutputSpec, OutputStorage, RunReport, Status
from fleet.report.json_report import report_to_dict
from fleet.sim.azurite import AzuriteInfo
from fleet.spec import load_job_spec
from fleet.storage.factory import output_store_factory
from tests import simkit, storagekit
from tests.e2e.harness import job, sim_backend

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]
K = 40.0


async def new_container(azurite: AzuriteInfo) -> str:
    name = f"out-{uuid.uuid4().hex[:12]}"
    key = {"account_name": azurite.account_name, "account_key": azurite.account_key}
    async with BlobServiceClient(
        azurite.account_url, credential=key, connection_verify=azurite.connection_verify
    ) as service:
        await service.create_container(name)
    return name


def with_output(spec: JobSpec, storage: OutputStorage, mode: Completion) -> JobSpec:
    return dataclasses.replace(spec, output=OutputSpec(storage, None, 8 * 2**20, mode))


async def run_with_storage(
    profile: Any,
    spec: JobSpec,
    azurite: AzuriteInfo,
    outputs_root: Path | None = None,
    credential: Any = None,
) -> RunReport:
    """``credential``: Azure AD for the storage account (user delegation SAS); else its key."""
    opener = lambda _cred: output_store_factory(credential, ca_cert=azurite.ca_cert)  # noqa: E731
    async with sim_backend(profile, K, azurite=azurite, outputs=opener) as (_emu, backend):
        plan = await prepare(spec, backend)
        return await run_async(plan, backend, outputs_root=outputs_root)


def per_target(report: RunReport) -> dict[str, tuple[Any, ...]]:
    """Each target's verdict and output; a command that never ended (wedged) only its verdict:
    its output is a snapshot of a stream still growing, taken when fleet gave up on it."""
    return {
        r.target.id.lower(): (r.status, r.exit_code, r.reason)
        + (() if _growing(r) else (r.output, r.error))
        for r in report.results
    }


def _growing(result: Any) -> bool:
    return result.full_output is not None and not result.full_output.complete


def assert_same_growing_outputs(first: RunReport, second: RunReport) -> None:
    """A never-ended command's two snapshots are of one stream: the shorter begins the other."""
    later = {r.target.id.lower(): r for r in second.results}
    growing = [(r, later[r.target.id.lower()]) for r in first.results if _growing(r)]
    assert growing  # the demo has a wedged command
    for a, b in growing:
        assert _growing(b), b
        short, long = sorted((a.output, b.output), key=len)
        assert long.startswith(short), (a.output, b.output)


async def test_demo_storage_completion_matches_arm_polling_with_few_arm_reads(
    azurite: AzuriteInfo, tmp_path: Path
) -> None:
    storage = OutputStorage(azurite.account_url, await new_container(azurite))
    health = load_job_spec(ROOT / "configs/jobs/health-check.yaml")
    demo = simkit.profile("demo")
    by_arm = await run_with_storage(demo, with_output(health, storage, Completion.ARM), azurite)
    by_storage = await run_with_storage(
        demo, with_output(health, storage, Completion.STORAGE), azurite, tmp_path
    )

    assert per_target(by_storage) == per_target(by_arm)
    assert_same_growing_outputs(by_arm, by_storage)
    statuses = {r.status for r in by_storage.results}
    assert {Status.SUCCEEDED, Status.FAILED, Status.AGENT_NOT_READY, Status.WEDGED} <= statuses
    doc = report_to_dict(by_storage)
    launched = doc["arm"]["launched_targets"]
    assert launched > 150 and doc["arm"]["reads_per_target"] <= 0.1
    assert report_to_dict(by_arm)["arm"]["reads_per_target"] >= 1.0
    # the fallback path: targets without a completion record were read in ARM, the rest not
    no_record = {r.target.name for r in by_storage.results if r.polls > 0}
    assert {"dev-042", "db-07", "web-017"} <= no_record
    assert all(
        r.polls == 0 for r in by_storage.results if r.status in (Status.SUCCEEDED, Status.FAILED)
    )
    storage_doc = doc["storage"]
    assert storage_doc["storage_requests"] > 0 and storage_doc["requests_per_target"] < 5
    # full outputs were kept, byte for byte, and the JSON says where
    ok = next(r for r in by_storage.results if r.status is Status.SUCCEEDED)
    assert ok.full_output is not None and ok.full_output.stdout.path is not None
    kept = await anyio.Path(ok.full_output.stdout.path).read_bytes()
    assert kept.decode().endswith(ok.output)
    assert json.dumps(doc).count("sig=") == 0


STDOUT_TAIL = "".join(f"checked package {i:04d}: up to date\n" for i in range(300))  # 11 KB
STDERR_TAIL = "".join(f"notice {i:04d}: mirror answered slowly\n" for i in range(300))
SAME_TAILS = simkit.profile(
    "small",
    script={
        "pending": simkit.fixed(2.0),
        "duration": simkit.fixed(4.0),
        "outcomes": [
            {"name": name, "weight": 1.0, "output": out + STDOUT_TAIL, "error": err + STDERR_TAIL}
            for name, out, err in (
                ("alpha", "repo: alpha\n", "cache: clean\n"),
                ("bravo", "repo: bravo\n", "cache: clean\n"),
                ("stale", "repo: alpha\n", "cache: STALE\n"),
            )
        ],
        "exec": {"enabled": False},
    },
    overrides=[
        {"names": ["app-0[12]"], "outcome": "alpha"},
        {"names": ["app-03"], "outcome": "bravo"},
        {"names": ["app-04"], "outcome": "stale"},
    ],
    throttling={"enabled": False},
)


async def test_outputs_are_grouped_by_their_whole_text_in_both_streams(
    azurite: AzuriteInfo,
) -> None:
    """ARM's instance views carry the same last 4 KB for all four targets; the blobs differ in
    their first line of stdout (app-03) or of stderr (app-04), and the report's groups say so."""
    storage = OutputStorage(azurite.account_url, await new_container(azurite))
    spec = with_output(job(names=("app-0[1-4]",)), storage, Completion.STORAGE)
    report = await run_with_storage(SAME_TAILS, spec, azurite)

    assert {r.status for r in report.results} == {Status.SUCCEEDED}
    assert len({(r.output, r.error) for r in report.results}) == 1  # the 4 KB tails agree
    groups = report_to_dict(report)["groups"]
    assert sorted(sorted(g["targets"]) for g in groups) == [
        ["app-01", "app-02"], ["app-03"], ["app-04"]
    ]  # fmt: skip
    assert all(r.full_output is not None and r.full_output.complete for r in report.results)


@pytest.mark.parametrize("fault", ["bad-sas", "unreachable", "missing-container"])
async def test_unwritable_blobs_fail_each_target_clearly_and_nothing_else(
    azurite: AzuriteInfo, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    container = await new_container(azurite)
    account = azurite.account_url
    if fault == "bad-sas":  # fleet signs every SAS with a key the account does not have
        monkeypatch.setenv("FLEET_STORAGE_KEY", "Zm9vYmFy" * 11)
    elif fault == "unreachable":
        account = "https://127.0.0.1:9/devstoreaccount1"
    else:
        container = "no-such-container"
    spec = with_output(
        job(names=("app-0[1-4]",), script="#!/bin/sh\nuptime\n"),
        OutputStorage(account, container),
        Completion.STORAGE,
    )
    report = await run_with_storage(simkit.profile("small"), spec, azurite)

    assert report.ended == "completed" and len(report.results) == 4
    cause = {
        "bad-sas": "ErrorCode=AuthorizationFailure",
        "unreachable": "connect: connection refused",
        "missing-container": "ErrorCode=ContainerNotFound",
    }[fault]
    for result in report.results:
        assert (result.status, result.exit_code) == (Status.FAILED, -101), result
        assert result.reason is not None and cause in result.reason
        assert "exit code -101: Execution failed: Error creating AppendBlob" in result.reason
    text = json.dumps(report_to_dict(report))
    assert "sig=" not in text
    if fault == "unreachable":  # the agent's error quoted the blob's URL with its SAS
        assert '/stdout?<redacted>\\": dial tcp' in text


async def test_user_delegation_sas_end_to_end() -> None:
    """The real-Azure path: fleet's Azure AD identity gets a user delegation key, every blob's
    SAS is signed with it, the agents write through it (Azurite checks it) and fleet reads
    with its identity."""
    credential = storagekit.FakeAadCredential()
    with storagekit.oauth_azurite() as info:
        async with BlobServiceClient(
            info.account_url, credential=credential, connection_verify=info.ca_cert
        ) as service:
            await service.create_container("udk-out")
        spec = with_output(
            job(names=("app-0[1-4]",), script="#!/bin/sh\nuptime\n"),
            OutputStorage(info.account_url, "udk-out"),
            Completion.STORAGE,
        )
        report = await run_with_storage(simkit.profile("small"), spec, info, None, credential)
    assert {r.target.name: r.status for r in report.results} == {
        "app-01": Status.SUCCEEDED, "app-02": Status.SUCCEEDED, "app-03": Status.FAILED,
        "app-04": Status.SUCCEEDED,
    }  # fmt: skip
    assert all(r.polls == 0 for r in report.results)  # each end seen in storage
    assert report.storage is not None and report.storage.requests.get("key") == 1


async def test_managed_identity_mode_sends_no_sas(azurite: AzuriteInfo) -> None:
    """``identity: system``: the PUT names the VMs' identity (outputBlobManagedIdentity: {}) and
    carries no SAS; the emulator trusts that identity for its own Azurite (not real: no token,
    no role check) and fleet reads with its own credential."""
    container = await new_container(azurite)
    spec = with_output(
        job(names=("app-0[12]",), script="#!/bin/sh\nuptime\n"),
        OutputStorage(azurite.account_url, container, identity="system"),
        Completion.STORAGE,
    )
    opener = lambda _cred: output_store_factory(ca_cert=azurite.ca_cert)  # noqa: E731
    small = simkit.profile("small")
    async with sim_backend(small, K, azurite=azurite, outputs=opener) as (emu, backend):
        report = await run_async(await prepare(spec, backend), backend)
        sent = [rc for rc in emu.world.runcommands.all() if rc.name == "fleet-e2e"]
    assert [r.status for r in report.results] == [Status.SUCCEEDED, Status.SUCCEEDED]
    assert all(r.polls == 0 for r in report.results)
    assert len(sent) == 2
    for rc in sent:
        assert rc.spec.output_blob_identity == {} and "?" not in (rc.spec.output_blob_uri or "?")
