"""The CLI with output storage: ``fleet run --sim --output-container ... --completion storage``
(an Azurite started for the run), ``fleet show RUN --target NAME`` printing a megabyte back
byte for byte, secrets (a protected parameter, every SAS) absent from logs, journal, report and
kept outputs; and ``fleet sim serve --azurite`` driven with ``--arm-endpoint``."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient

from tests.simkit import ROOT

pytestmark = pytest.mark.e2e

FLEET = [sys.executable, "-m", "fleet.cli.main"]
SECRET = "s3cr3t-Hunter2-value"
LINES = 160_000  # seq 1 160000: 1,028,895 bytes


def fleet(
    *args: str, env: dict[str, str], timeout: float = 240
) -> subprocess.CompletedProcess[bytes]:
    base = {k: v for k, v in os.environ.items() if k != "FLEET_ACCESS_TOKEN"}
    return subprocess.run(
        [*FLEET, *args], cwd=ROOT, capture_output=True, timeout=timeout,
        env={**base, "COLUMNS": "160", **env},
    )  # fmt: skip


def exec_profile(tmp_path: Path) -> Path:
    """The small profile with exec mode on: scripts really run in bash."""
    profile = tmp_path / "exec.yaml"
    text = (ROOT / "fleet/sim/profiles/small.yaml").read_text()
    profile.write_text(text + "  exec: {enabled: true, max_processes: 4}\n")
    return profile


def test_a_megabyte_comes_back_byte_identical_and_no_secret_leaks(tmp_path: Path) -> None:
    script = tmp_path / "big.sh"
    script.write_text(
        "#!/bin/sh\necho \"token=$API_TOKEN\"\nseq 1 160000\nprintf '\\377\\376 tail'\n"
        'echo "warn: $API_TOKEN" >&2\n'
    )
    spec = tmp_path / "big.yaml"
    spec.write_text(
        f"name: big\ntargets: {{names: ['app-0[12]']}}\nscript:\n  file: {script}\n"
        "  protected_parameters: {API_TOKEN: {env: LEAK_TOKEN}}\n  timeout: 300\n"
    )
    state, report = tmp_path / "state", tmp_path / "r.json"
    env = {"FLEET_STATE_DIR": str(state), "LEAK_TOKEN": SECRET}
    proc = fleet(
        "run", str(spec), "--sim", "--profile", str(exec_profile(tmp_path)), "--time-scale", "20",
        "--output-container", "https://acct.blob.core.windows.net/fleet-out",
        "--completion", "storage", "--report", str(report), "--yes",
        "--log-format", "json", "--log-level", "debug", env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    doc = json.loads(report.read_text())
    assert doc["storage"]["storage_requests"] > 0
    assert all(t["full_output"]["complete"] for t in doc["targets"])

    shown = fleet("show", doc["run_id"], "--target", "app-01", env=env)
    assert shown.returncode == 0, shown.stderr.decode()
    numbers = "".join(f"{i}\n" for i in range(1, LINES + 1)).encode()
    assert shown.stdout == b"token=***\n" + numbers + b"\xff\xfe tail"  # record cut, secret out
    assert shown.stderr.startswith(b"warn: ***\n")

    artifacts = [proc.stdout, proc.stderr, report.read_bytes(), shown.stderr]
    artifacts += [p.read_bytes() for p in state.rglob("*") if p.is_file()]  # journal + outputs
    assert len(artifacts) > 6
    for blob in artifacts:
        assert SECRET.encode() not in blob
        assert b"sig=" not in blob  # no SAS fleet issued, anywhere


@pytest.fixture
def served() -> Iterator[dict[str, Any]]:
    """``fleet sim serve --azurite``: its ready line, then SIGTERM."""
    cmd = [*FLEET, "sim", "serve", "--profile", "small", "--time-scale", "40", "--azurite"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 90)
        assert ready, "fleet sim serve --azurite printed no ready line"
        yield json.loads(proc.stdout.readline())
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def test_sim_serve_with_azurite_drives_a_run_over_arm_endpoint(
    served: dict[str, Any], tmp_path: Path
) -> None:
    storage = served["storage"]
    assert storage["account_name"] == "devstoreaccount1" and storage["ca_cert"]
    service = BlobServiceClient(
        storage["account_url"],
        credential={"account_name": storage["account_name"], "account_key": storage["account_key"]},
        connection_verify=storage["ca_cert"],
    )
    service.create_container("served-out")
    report = tmp_path / "r.json"
    proc = fleet(
        "run", "-n", "app-0[1-3]", "--script", "uptime", "--yes", "--no-journal",
        "--arm-endpoint", served["endpoint"], "--ca-cert", served["ca_cert"],
        "--subscription", served["subscriptions"][0],
        "--output-container", f"{storage['account_url']}/served-out", "--completion", "storage",
        "--report", str(report),
        env={"FLEET_ACCESS_TOKEN": "fleet-sim-token", "FLEET_STORAGE_CA_CERT": storage["ca_cert"]},
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr.decode()  # app-03's disk is full
    doc = json.loads(report.read_text())
    assert [t["polls"] for t in doc["targets"]] == [0, 0, 0]  # every end was seen in storage
    names = sorted(b.name for b in service.get_container_client("served-out").list_blobs())
    assert names == sorted(
        f"{doc['run_id']}/app-0{i}/{s}" for i in (1, 2, 3) for s in ("stdout", "stderr")
    )
    kept = Path(str(report) + ".outputs") / doc["run_id"] / "app-01" / "stdout"
    assert (
        kept.read_bytes() == Path(doc["targets"][0]["full_output"]["stdout"]["path"]).read_bytes()
    )
