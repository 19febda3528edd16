"""The HTML report opened in the real browser (Debian's chromium through Playwright): it renders
offline with no request but its own file, no script runs (the XSS attempt in a VM's output stays
text), and the summary chart, batches, gates, groups and failing outputs are on screen.
Screenshots are kept in test-artifacts/ (test_html_browser/...)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fleet.report.formats import ReportFormat, write_document
from tests.report.documents import XSS, sample_document


def test_html_report_opens_offline_in_the_browser(
    page: Any, tmp_path: Path, artifacts: Path
) -> None:
    path = tmp_path / "report.html"
    write_document(path, sample_document(), ReportFormat.HTML)
    requests: list[str] = []
    dialogs: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(path.as_uri())
    page.screenshot(path=str(artifacts / "report.png"), full_page=True)
    assert requests == [path.as_uri()]  # nothing else: no font, image, style or script fetched
    assert page.title().startswith("fleet: health-check r-20250301-abc")
    assert (
        page.locator("#verdict").inner_text()
        == "Run halted-by-gate: gate health failed after batch 3"
    )
    chart = page.locator("#summary svg.status-bar")
    assert chart.is_visible() and chart.bounding_box()["width"] > 300
    assert page.locator("#summary svg rect").count() == 6  # one per status present
    assert page.locator("#batch-table tbody tr").count() == 4
    assert page.locator("#gates td.fail").inner_text() == "FAILED"
    assert page.locator("#groups .card").count() >= 4
    evil = page.locator(".failing-target", has_text="evil-1")
    assert XSS in evil.locator("pre").first.inner_text()  # shown as text, never run
    assert dialogs == [] and page.locator("img").count() == 0
    page.set_viewport_size({"width": 420, "height": 900})  # a phone in an incident channel
    page.screenshot(path=str(artifacts / "report-narrow.png"), full_page=False)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 440  # no sideways scrolling: long outputs wrap
