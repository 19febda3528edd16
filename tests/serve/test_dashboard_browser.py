"""The dashboard in the real browser (Debian's chromium through Playwright), served by uvicorn on
127.0.0.1 over the journal of tests/serve/service.py: the overview lists the jobs, a run page
shows its groups and filters its targets, a target page shows the regression, a running run's
page refreshes itself, no script ever runs, and a token-protected dashboard lets in only a
browser that presents the token. Screenshots: test-artifacts/test_dashboard_browser/."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Error as PlaywrightError
from starlette.applications import Starlette

from fleet.serve.app import create_app
from tests.serve.service import XSS, StaticService, running_service

TOKEN = "dashboard-token-for-the-browser-test-42"


@contextmanager
def serving(app: Starlette) -> Iterator[str]:
    """``app`` on 127.0.0.1 (a free port) in a thread; its base URL while the block runs."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="dashboard", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:  # a condition, polled: the server says when it listens
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[StaticService]:
    with running_service(tmp_path / "state") as service:
        yield service


@pytest.fixture
def site(service: StaticService) -> Iterator[str]:
    with serving(create_app(service)) as url:
        yield url


def _watch(page: Any) -> list[str]:
    """Dialogs (an XSS that ran would open one) and requests that left the dashboard."""
    seen: list[str] = []
    page.on("dialog", lambda dialog: (seen.append(f"dialog {dialog.message}"), dialog.dismiss()))
    page.on(
        "console", lambda msg: seen.append(f"console {msg.text}") if msg.type == "error" else None
    )
    return seen


def test_overview_job_run_and_target_pages(page: Any, site: str, artifacts: Path) -> None:
    seen = _watch(page)
    page.goto(site + "/")
    jobs = page.locator("#jobs tr.job")
    assert jobs.count() == 3
    assert page.locator("#jobs tr.job", has_text="disk-check").locator(".regressions").count() == 0
    assert "5 pass · 1 fail" in page.locator("#jobs tr.job", has_text="disk-check").inner_text()
    assert page.locator("#jobs svg.sparkline").count() == 3
    assert page.locator("#jobs", has_text=f"<b>{XSS}</b>").count() == 1  # shown as text
    page.screenshot(path=str(artifacts / "overview.png"), full_page=True)

    page.click("#jobs a[href='/jobs/disk-check']")
    page.wait_for_url("**/jobs/disk-check")
    assert page.locator("#runs tbody tr").count() == 4
    page.click("#runs a[href='/runs/run-2']")
    page.wait_for_url("**/runs/run-2")
    assert page.locator("#groups .card").count() >= 4
    assert "Newly failing: web-002, web-003, evil-1" in page.locator("#changes").inner_text()
    page.select_option("select[name=verdict]", "fail")
    page.fill("input[name=name]", "web-*")
    page.click("form.filters button")
    page.wait_for_url("**/runs/run-2?*verdict=fail*")
    rows = page.locator("#target-table tbody tr")
    assert rows.count() == 2 and "web-003" in rows.nth(1).inner_text()
    page.screenshot(path=str(artifacts / "run.png"), full_page=True)

    page.click("#target-table a[href$='/targets/web-003']")
    page.wait_for_url("**/jobs/disk-check/targets/web-003")
    banner = page.locator("#regression")
    assert banner.is_visible()
    assert "failing since run run-2" in banner.inner_text()
    assert "disk_used_pct = 95 > max 90" in banner.inner_text()
    assert page.locator("#history tr.newly-failing").count() == 1
    page.screenshot(path=str(artifacts / "target.png"), full_page=True)
    assert seen == []


def test_a_running_run_page_refreshes_itself(page: Any, site: str, artifacts: Path) -> None:
    page.goto(site + "/runs/run-4")
    assert "1/6 done · 3 running" in page.locator("#live").inner_text()
    page.screenshot(path=str(artifacts / "running.png"), full_page=True)
    with page.expect_navigation(url="**/runs/run-4", timeout=20_000):
        pass  # the meta refresh reloads the page by itself
    assert page.locator("#live").is_visible()


def test_a_token_protected_dashboard_in_the_browser(
    browser: Any, service: StaticService, artifacts: Path
) -> None:
    with serving(create_app(service, token=TOKEN)) as url:
        anonymous = browser.new_context()
        try:
            assert anonymous.request.get(url + "/").status == 401
            with pytest.raises(PlaywrightError, match="ERR_INVALID_AUTH_CREDENTIALS"):
                anonymous.new_page().goto(url + "/")  # the browser has nothing to answer with
        finally:
            anonymous.close()
        logged_in = browser.new_context(http_credentials={"username": "ops", "password": TOKEN})
        try:
            page = logged_in.new_page()
            reply = page.goto(url + "/schedules")
            assert reply.status == 200
            assert page.locator(".schedule").count() == 2
            page.screenshot(path=str(artifacts / "schedules.png"), full_page=True)
        finally:
            logged_in.close()
