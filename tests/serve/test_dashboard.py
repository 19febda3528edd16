"""The dashboard's pages and JSON API over a real journal (tests/serve/service.py): the overview,
a job, a run with its groups, changes, live progress and per-target filters, one target across
runs with its regression, the schedules, report downloads; everything escaped, read-only,
404s without tracebacks. The browser tests are in test_dashboard_browser.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from fleet.report.csv_report import read_csv
from fleet.serve.app import create_app
from tests.report.junit_schema import junit_schema
from tests.serve.service import XSS, running_service


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with running_service(tmp_path / "state") as service:
        yield TestClient(create_app(service), raise_server_exceptions=False)


def _json(client: TestClient, path: str) -> Any:
    reply = client.get(path)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "application/json"
    return reply.json()


def test_overview_lists_jobs_with_last_result_trend_and_next_run(client: TestClient) -> None:
    data = _json(client, "/api/overview")
    jobs = {j["name"]: j for j in data["jobs"]}
    assert set(jobs) == {"disk-check", "patch", f"<b>{XSS}</b>"}
    disk = jobs["disk-check"]
    assert disk["schedule"] == "every 60 s" and disk["next_due"] == "2026-03-01T08:04:00.000Z"
    assert disk["last_run"]["run_id"] == "run-3"  # run-4 is still running
    assert disk["last_counts"] == {"passed": 5, "failed": 1, "skipped": 0, "share_passing": 5 / 6}
    assert [p["run_id"] for p in disk["trend"]] == ["run-1", "run-2", "run-3"]  # not run-4 yet
    assert disk["running"] == ["run-4"]
    assert jobs["patch"]["scheduled"] is False  # in the journal, not in the jobs dir
    assert [r["run_id"] for r in data["live"]] == ["run-4"]
    assert data["alerts"][0]["summary"] == "1 target newly failing: web-003"
    assert data["arm"] == {"requests": {"reads": 120, "writes": 40}, "throttled": 3,
                           "throttle_wait_s": 2.5}  # fmt: skip
    html = client.get("/").text
    assert html.count('<tr class="job">') == 3
    assert "<svg" in html and 'class="chart sparkline"' in html
    assert '<meta http-equiv="refresh" content="3">' in html  # a run is in flight


def test_same_routes_answer_json_when_asked(client: TestClient) -> None:
    as_json = client.get("/runs/run-2", headers={"Accept": "application/json"})
    assert as_json.headers["content-type"] == "application/json"
    assert as_json.json() == _json(client, "/api/runs/run-2")
    as_html = client.get("/runs/run-2", headers={"Accept": "text/html,application/json;q=0.9"})
    assert as_html.headers["content-type"].startswith("text/html")


def test_run_page_groups_changes_and_filters(client: TestClient) -> None:
    data = _json(client, "/api/runs/run-2")
    assert data["previous"]["run_id"] == "run-1"
    assert data["regressions"] == ["web-002", "web-003", "evil-1"]  # evil-1: new and failing
    assert data["changes"]["newly-failing"] == 2 and data["changes"]["new"] == 1
    assert data["matching"] == 7 and data["statuses"] == ["Failed", "Skipped", "Succeeded"]
    assert {g["summary"] for g in data["report"]["groups"]} >= {"status: OK"}
    names = lambda q: [t["name"] for t in _json(client, f"/api/runs/run-2?{q}")["targets"]]  # noqa: E731
    assert names("verdict=fail") == ["web-002", "web-003", "evil-1"]
    assert names("change=newly-failing") == ["web-002", "web-003"]
    assert names("status=Skipped") == ["web-006"]
    assert names("name=web-00*&verdict=pass") == ["web-001", "web-004", "web-005"]
    assert names("name=EVIL") == ["evil-1"]
    html = client.get("/runs/run-2?verdict=fail").text
    assert 'id="groups"' in html and 'id="changes"' in html
    assert html.count('<tr>\n  <td><a class="mono" href="/jobs/disk-check/targets/') == 3
    assert "<option selected>fail</option>" in html


def test_a_running_run_shows_live_progress_and_refreshes(client: TestClient) -> None:
    data = _json(client, "/api/runs/run-4")
    assert data["run"]["ended"] == "running"
    assert data["live"]["progress"]["done"] == 1 and data["live"]["progress"]["running"] == 3
    html = client.get("/runs/run-4").text
    assert '<meta http-equiv="refresh" content="3">' in html
    assert "1/6 done · 3 running" in html
    finished = client.get("/runs/run-3").text
    assert 'http-equiv="refresh"' not in finished


def test_target_page_shows_the_regression(client: TestClient) -> None:
    data = _json(client, "/api/jobs/disk-check/targets/web-003")
    assert [r["change"] for r in data["runs"]] == ["new", "newly-failing", "still-failing", None]
    assert data["regression"] == {
        "run_id": "run-2", "started_at": data["runs"][1]["started_at"],
        "reason": "disk_used_pct = 95 > max 90", "before": "run-1", "failing_runs": 2,
    }  # fmt: skip
    assert data["latest"]["values"] == {"disk_used_pct": 96.0}
    html = client.get("/jobs/disk-check/targets/web-003").text
    assert 'id="regression"' in html and "failing since run" in html
    assert "disk_used_pct = 95 &gt; max 90" in html
    by_id = _json(client, f"/api/jobs/disk-check/targets/{data['target']['id'].upper()}")
    assert by_id["regression"] == data["regression"]
    recovered = _json(client, "/api/jobs/disk-check/targets/web-002")
    assert recovered["regression"] is None and recovered["runs"][2]["change"] == "recovered"


def test_job_and_schedules(client: TestClient) -> None:
    job = _json(client, "/api/jobs/disk-check")
    assert [r["run_id"] for r in job["runs"]] == ["run-4", "run-3", "run-2", "run-1"]
    assert job["runs"][2]["regressions"] == 3 and job["runs"][0]["passed"] is None
    assert job["webhooks"] == ["webhook $ALERT_URL"]
    schedules = _json(client, "/api/schedules")["schedules"]
    disk = schedules[0]
    assert disk["last"]["run_id"] == "run-4"
    assert [f["outcome"] for f in disk["recent"]] == ["launched", "skipped-overlap"]
    assert "skipped-overlap" in client.get("/schedules").text


def test_everything_is_escaped(client: TestClient) -> None:
    for path in ("/", "/runs/run-2", "/jobs/disk-check/targets/evil-1", "/schedules"):
        html = client.get(path).text
        assert "<script" not in html and "<img" not in html, path
        assert "&lt;script&gt;alert(&#39;owned&#39;)&lt;/script&gt;" in html, path


def test_reports_download_in_every_format(client: TestClient) -> None:
    junit = client.get("/runs/run-2/report/junit")
    assert junit.headers["content-type"] == "application/xml"
    assert 'filename="fleet-run-2.xml"' in junit.headers["content-disposition"]
    junit_schema().validate(junit.content)
    rows = read_csv(client.get("/runs/run-2/report/csv").text)
    assert [r["name"] for r in rows if r["verdict"] == "fail"] == ["web-002", "web-003", "evil-1"]
    page = client.get("/runs/run-2/report/html")
    assert page.text.startswith("<!doctype html>") and "web-003" in page.text
    assert client.get("/runs/run-2/report/pdf").status_code == 404


def test_missing_things_are_404_and_nothing_can_be_changed(client: TestClient) -> None:
    for path in ("/runs/nope", "/jobs/nope", "/jobs/disk-check/targets/nope"):
        page = client.get(path)
        assert page.status_code == 404 and "Traceback" not in page.text
        assert client.get(f"/api{path}").json()["error"].startswith("no ")
    for method in ("post", "put", "delete", "patch"):
        assert getattr(client, method)("/runs/run-2").status_code == 405
    assert client.head("/").status_code == 200
