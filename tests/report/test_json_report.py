"""The JSON report: schema and types, secret redaction, atomic writes, exit codes."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import stat
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from fleet.errors import FleetError, ReportWriteError
from fleet.model import (
    ArmCounters,
    BatchRecord,
    Deleted,
    DeleteReason,
    FullOutput,
    GateRecord,
    Parameter,
    RolloutRecord,
    RunReport,
    ScriptSource,
    ScriptSpec,
    Secret,
    SourceKind,
    Status,
    StorageCounters,
    StreamCopy,
    TargetResult,
)
from fleet.report.json_report import (
    exit_code_for,
    report_to_dict,
    rollout_from_dict,
    script_from_dict,
    write_report,
)
from fleet.secrets import Secrets
from tests.report.test_groups import fleet_results, make_target

T0 = datetime(2025, 3, 1, 10, 0, 0, tzinfo=UTC)
TARGET_FIELDS = {
    "id": str,
    "name": str,
    "kind": str,
    "subscription": str,
    "resource_group": str,
    "location": str,
    "zone": (str, type(None)),
    "os": (str, type(None)),
    "status": str,
    "exit_code": (int, type(None)),
    "output": str,
    "error": str,
    "started_at": (str, type(None)),
    "ended_at": (str, type(None)),
    "attempts": int,
    "reason": (str, type(None)),
    "execution_state": (str, type(None)),
    "verdict": dict,
    "polls": int,
    "deleted": list,
    "full_output": (dict, type(None)),  # only for jobs with output storage
    "reboot": (dict, type(None)),
}


def make_report(results: list[TargetResult], *, ended: str = "completed") -> RunReport:
    timed = [
        TargetResult(
            **{
                **r.__dict__,
                "started_at": T0 + timedelta(seconds=i),
                "ended_at": T0 + timedelta(seconds=60),
            }
        )
        if r.status is not Status.SKIPPED
        else r
        for i, r in enumerate(results)
    ]
    arm = ArmCounters(
        requests={"reads": 300, "writes": 200}, throttled=4, throttle_wait_s=12.34567, retries=5
    )
    return RunReport(
        run_id="r-1",
        job="health",
        started_at=T0,
        finished_at=T0 + timedelta(minutes=2),
        results=tuple(reversed(timed)),
        arm=arm,
        ended=ended,
    )


def skipped(name: str) -> TargetResult:
    return TargetResult(make_target(name), Status.SKIPPED, reason="VM is deallocated")


def test_all_fields_with_types() -> None:
    results = [*fleet_results(n_ok=196), skipped("off-1")]
    doc = report_to_dict(make_report(results))
    assert list(doc) == [
        "schema_version", "run_id", "job", "simulated", "script", "started_at", "finished_at",
        "ended", "ended_detail", "summary", "verdicts", "targets", "groups", "arm", "storage",
        "rollout", "cleanup", "reboots",
    ]  # fmt: skip
    assert (doc["schema_version"], doc["simulated"], doc["script"]) == (3, False, {})
    assert doc["storage"] is None  # the job had no output storage
    assert (doc["run_id"], doc["job"], doc["ended"]) == ("r-1", "health", "completed")
    assert doc["summary"] == {"Succeeded": 196, "Failed": 4, "Skipped": 1, "total": 201}
    assert doc["verdicts"] == {"pass": 196, "fail": 4, "skip": 1}
    assert len(doc["targets"]) == doc["summary"]["total"]
    assert [t["id"] for t in doc["targets"]] == sorted(t["id"] for t in doc["targets"])
    for entry in doc["targets"]:
        assert set(entry) == set(TARGET_FIELDS)
        for field, kind in TARGET_FIELDS.items():
            assert isinstance(entry[field], kind), field
    assert {t["kind"] for t in doc["targets"]} == {"vm"}
    assert sum(g["count"] for g in doc["groups"]) == 201
    first = doc["groups"][0]
    assert set(first) >= {"count", "status", "exit_code", "summary", "targets", "sample_output"}
    assert first["status"] == "Succeeded" and isinstance(first["targets"], list)
    json.dumps(doc)  # plain JSON types only


def test_cleanup_section_says_what_fleet_deleted_and_why() -> None:
    reclaimed = Deleted("fleet-old-job", DeleteReason.RECLAIMED)
    cleaned = Deleted("fleet-health", DeleteReason.CLEANUP)
    refused = Deleted("fleet-health", DeleteReason.CLEANUP, error="Conflict: busy")
    ok = fleet_results(n_ok=3)
    results = [
        dataclasses.replace(ok[0], deleted=(reclaimed, cleaned)),
        dataclasses.replace(ok[1], deleted=(refused,)),
        ok[2],
    ]
    report = dataclasses.replace(make_report(results), cleanup="delete-on-success")
    doc = report_to_dict(report)
    assert doc["cleanup"] == {
        "policy": "delete-on-success", "deleted": 2, "reclaimed": 1, "failed": 1,
    }  # fmt: skip
    by_name = {t["name"]: t["deleted"] for t in doc["targets"]}
    assert by_name[ok[0].target.name] == [
        {"run_command": "fleet-old-job", "reason": "reclaimed", "error": None},
        {"run_command": "fleet-health", "reason": "cleanup", "error": None},
    ]
    assert by_name[ok[1].target.name][0]["error"] == "Conflict: busy"
    assert by_name[ok[2].target.name] == []


def test_timestamps_are_iso_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    report = make_report(fleet_results(n_ok=2))
    report = RunReport(
        **{**report.__dict__, "started_at": datetime(2025, 3, 1, 12, tzinfo=plus_two)}
    )
    doc = report_to_dict(report)
    assert doc["started_at"] == "2025-03-01T10:00:00.000Z"
    assert doc["finished_at"] == "2025-03-01T10:02:00.000Z"
    for entry in doc["targets"]:
        assert datetime.fromisoformat(entry["started_at"]).tzinfo is not None
        assert entry["ended_at"].endswith("Z")


def test_arm_section_and_per_target_costs() -> None:
    results = [*fleet_results(n_ok=146), skipped("off-1"), skipped("off-2")]
    arm = report_to_dict(make_report(results))["arm"]
    assert arm["requests"] == {"reads": 300, "writes": 200}
    assert (arm["throttled"], arm["retries"]) == (4, 5)
    assert arm["throttle_wait_s"] == pytest.approx(12.346)
    # 150 launched targets; skipped ones cost nothing and do not dilute the average.
    assert arm["launched_targets"] == 150
    assert arm["reads_per_target"] == pytest.approx(2.0)
    assert arm["writes_per_target"] == pytest.approx(1.333, abs=1e-3)


def test_per_target_costs_are_null_when_nothing_launched() -> None:
    arm = report_to_dict(make_report([skipped("off-1")]))["arm"]
    assert arm["reads_per_target"] is None and arm["launched_targets"] == 0


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (k, *_strings(v))]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    assert not isinstance(value, Secret)
    return [value] if isinstance(value, str) else []


def test_secret_parameters_never_reach_the_report(tmp_path: Path) -> None:
    token = Secret("s3cr3t-T0ken-value")
    spec = ScriptSpec(
        default=ScriptSource(SourceKind.INLINE, "echo $TOKEN"),
        protected_parameters=(Parameter("TOKEN", token),),
    )
    secrets = Secrets.of(p.value for p in spec.protected_parameters)
    # A careless script echoes the protected value; Azure hands it back in the output.
    leaky = TargetResult(
        make_target("web-1"),
        Status.FAILED,
        exit_code=1,
        output="token=s3cr3t-T0ken-value\n",
        error="curl: 401 for s3cr3t-T0ken-value\n",
        reason="script said s3cr3t-T0ken-value",
    )
    report = make_report([leaky, *fleet_results(n_ok=2)])
    doc = report_to_dict(report, secrets=secrets)
    assert not any(token.reveal() in s for s in _strings(doc))
    assert "token=***" in json.dumps(doc)
    path = tmp_path / "report.json"
    write_report(path, report, secrets=secrets)
    assert token.reveal() not in path.read_text()


def test_write_report_is_atomic_and_replaces(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text("old")
    write_report(path, make_report(fleet_results(n_ok=3)))
    assert json.loads(path.read_text())["summary"]["total"] == 7
    assert os.listdir(tmp_path) == ["report.json"]  # no temporary file left


def test_write_report_into_a_missing_directory_raises_and_leaves_nothing(tmp_path: Path) -> None:
    # works as root too (permission bits do not stop root; a path through a file does)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(FleetError, match=r"not-a-dir/report\.json"):
        write_report(blocker / "report.json", make_report(fleet_results(n_ok=1)))
    assert sorted(os.listdir(tmp_path)) == ["not-a-dir"]


def test_write_report_failure_mid_replace_cleans_up(tmp_path: Path) -> None:
    target = tmp_path / "is-a-dir"
    (target / "child").mkdir(parents=True)  # os.replace onto a non-empty directory fails
    with pytest.raises(FleetError, match="is-a-dir"):
        write_report(target, make_report(fleet_results(n_ok=1)))
    assert sorted(os.listdir(tmp_path)) == ["is-a-dir"]


def test_write_report_failure_while_writing_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "report.json"
    path.write_text("old")

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(FleetError, match=r"report\.json: No space left on device"):
        write_report(path, make_report(fleet_results(n_ok=1)))
    assert os.listdir(tmp_path) == ["report.json"]
    assert path.read_text() == "old"  # the previous report is untouched


def test_the_report_names_the_script_by_sha256_and_says_when_it_was_simulated() -> None:
    text = "#!/bin/sh\napt-get -y upgrade\n"
    script = ScriptSpec(
        default=None,
        linux=ScriptSource(SourceKind.INLINE, text),
        windows=ScriptSource(SourceKind.COMMAND_ID, "RunPowerShellScript"),
    )
    report = replace(make_report([]), simulated=True, script=script.identities())
    doc = report_to_dict(report)
    assert doc["simulated"] is True
    assert doc["script"] == {
        "linux": {"kind": "script", "sha256": hashlib.sha256(text.encode()).hexdigest()},
        "windows": {"kind": "commandId", "sha256": None, "command_id": "RunPowerShellScript"},
    }
    assert script_from_dict(doc["script"]) == script.identities()


def test_the_rollout_section_reads_back_as_the_record_it_was() -> None:
    record = RolloutRecord(
        order="zone-by-zone",
        batches=(BatchRecord(1, "zone 1", ("a",), True), BatchRecord(2, "zone 2", ("b",))),
        gates=(GateRecord("health", 1, False, "a: exit code 1 (expected 0)", ("a",)),),
        max_errors=2, script_failures=1, platform_failures=1, count_platform_failures=True,
    )  # fmt: skip
    doc = report_to_dict(replace(make_report([]), rollout=record))
    assert rollout_from_dict(doc["rollout"]) == record


def test_a_device_is_written_in_place_never_replaced(tmp_path: Path) -> None:
    """``--report /dev/full`` used to be replaced by a regular file (as root: the device node
    itself) and reported written. A device is written in place; one that refuses is an error.
    A private copy of /dev/full (char 1, 7) where mknod is allowed, else /dev/full itself."""
    full = tmp_path / "full"
    try:
        os.mknod(full, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    except OSError:
        full = Path("/dev/full")
    with pytest.raises(ReportWriteError, match="No space left on device") as caught:
        write_report(full, make_report(fleet_results(n_ok=1)))
    assert caught.value.exit_code == 5
    assert stat.S_ISCHR(full.stat().st_mode)  # still the device
    assert sorted(os.listdir(tmp_path)) == (["full"] if full.parent == tmp_path else [])


def test_write_report_missing_dir(tmp_path: Path) -> None:
    with pytest.raises(FleetError, match="No such file"):
        write_report(tmp_path / "nope" / "r.json", make_report([]))


@pytest.mark.parametrize(
    ("statuses", "ended", "strict", "code"),
    [
        ([Status.SUCCEEDED, Status.SUCCEEDED], "completed", False, 0),
        ([Status.SUCCEEDED, Status.SKIPPED], "completed", False, 0),
        ([Status.SUCCEEDED, Status.SKIPPED], "completed", True, 1),
        ([Status.SUCCEEDED, Status.FAILED], "completed", False, 1),
        ([Status.SUCCEEDED, Status.ACCESS_DENIED], "completed", False, 1),
        ([Status.SUCCEEDED, Status.SUCCEEDED], "deadline", False, 3),
        ([Status.SUCCEEDED, Status.FAILED], "canceled", False, 3),
        ([], "completed", False, 0),
    ],
)
def test_exit_codes(statuses: list[Status], ended: str, strict: bool, code: int) -> None:
    results = [TargetResult(make_target(f"vm{i}"), s) for i, s in enumerate(statuses)]
    assert exit_code_for(make_report(results, ended=ended), strict=strict) == code


def test_storage_section_and_full_output_reference() -> None:
    results = fleet_results(n_ok=3)
    copy = StreamCopy(
        "https://a.blob.core.windows.net/o/r-1/ok-0/stdout", 10, 10, "aa", "/k/stdout"
    )
    full = FullOutput(copy, StreamCopy("https://a.blob.core.windows.net/o/r-1/ok-0/stderr", 0))
    results[0] = dataclasses.replace(results[0], full_output=full)
    counters = StorageCounters({"list": 2, "read": 4}, errors=1, bytes_read=77)
    doc = report_to_dict(dataclasses.replace(make_report(results), storage=counters))
    assert doc["storage"] == {
        "storage_requests": 6, "requests": {"list": 2, "read": 4}, "errors": 1,
        "bytes_read": 77, "requests_per_target": round(6 / 7, 3),
    }  # fmt: skip
    entry = next(t for t in doc["targets"] if t["name"] == results[0].target.name)
    assert entry["full_output"]["stdout"] == {
        "blob": copy.blob, "size": 10, "saved": 10, "sha256": "aa", "path": "/k/stdout",
        "truncated": False,
    }  # fmt: skip
    assert FullOutput.from_json(entry["full_output"]) == full
