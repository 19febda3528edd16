"""``/metrics`` parsed by prometheus-client's own text parser: per job the last run's targets by
status and verdict, its time and duration, regressions, ARM requests and 429s; the service's
ARM counters. Read from the service at every scrape."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from fleet.model import ArmCounters
from fleet.serve.app import create_app
from tests.serve.service import StaticService, running_service


@pytest.fixture
def service(tmp_path: Path) -> Iterator[StaticService]:
    with running_service(tmp_path / "state") as service:
        yield service


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    reply = client.get("/metrics")
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(reply.text):
        assert family.name.startswith("fleet_"), family.name
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def test_metrics_per_job_and_for_the_service(service: StaticService) -> None:
    samples = scrape(TestClient(create_app(service)))

    def job(name: str, job: str = "disk-check", **labels: str) -> float:
        return samples[(name, tuple(sorted({"job": job, **labels}.items())))]

    # The last finished run of disk-check is run-3 (run-4 is in flight).
    assert job("fleet_job_last_run_targets", status="Succeeded") == 6
    assert job("fleet_job_last_run_verdict_targets", verdict="fail") == 1  # web-003: disk full
    assert job("fleet_job_last_run_verdict_targets", verdict="pass") == 5
    assert job("fleet_job_last_run_share_passing") == pytest.approx(5 / 6)
    assert job("fleet_job_last_run_regressions") == 0  # web-003 regressed in run-2, not run-3
    assert job("fleet_job_last_run_recovered") == 1  # web-002
    run = service.history.run("run-3")
    assert job("fleet_job_last_run_start_timestamp_seconds") == run.started_at.timestamp()
    assert job("fleet_job_last_run_duration_seconds") == run.duration_s
    assert job("fleet_job_last_run_completed") == 1
    assert job("fleet_job_last_run_arm_requests", kind="reads") == 22
    assert job("fleet_job_last_run_arm_throttled") == 2
    assert job("fleet_job_runs") == 4 and job("fleet_job_running") == 1
    assert job("fleet_job_next_run_timestamp_seconds") > run.started_at.timestamp()
    assert job("fleet_job_runs", job="patch") == 1 and job("fleet_job_running", job="patch") == 0
    assert samples[("fleet_arm_requests_total", (("kind", "writes"),))] == 40
    assert samples[("fleet_arm_throttled_total", ())] == 3
    assert samples[("fleet_arm_throttle_wait_seconds_total", ())] == 2.5
    # A hostile job name is a label value, escaped by the exposition format, parsed back intact.
    hostile = next(j.name for j in service.jobs() if j.name.startswith("<b>"))
    assert job("fleet_job_runs", job=hostile) == 0


def test_metrics_are_read_at_scrape_time(service: StaticService) -> None:
    client = TestClient(create_app(service))
    assert scrape(client)[("fleet_arm_throttled_total", ())] == 3
    service.arm = ArmCounters(requests={"reads": 500}, throttled=9)
    assert scrape(client)[("fleet_arm_throttled_total", ())] == 9
    service.live_runs.clear()
    assert scrape(client)[("fleet_job_running", (("job", "disk-check"),))] == 0
