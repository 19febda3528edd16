"""The standalone HTML report: one file with inline CSS and SVG, no script and no external
reference, everything a VM printed escaped; its content (summary chart, batches, gates, groups,
failing outputs) and its limits on big fleets. In the browser: tests/report/test_html_browser.py."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from fleet.report.html_report import html_report
from fleet.report.outcome import outcome
from fleet.report.view import FAILING_SHOWN, GROUP_NAMES, duration_text, run_view
from tests.report.documents import XSS, sample_document


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def test_standalone_no_script_no_external_reference() -> None:
    html = html_report(sample_document())
    tags = _tags(html)
    names = {tag for tag, _ in tags}
    assert "script" not in names and "link" not in names and "iframe" not in names
    assert "style" in names and "svg" in names
    for tag, attrs in tags:
        for key in ("src", "href", "action", "srcset"):
            assert attrs.get(key) is None, (tag, key, attrs)
        assert not any(k.startswith("on") for k in attrs), (tag, attrs)  # no event handlers
    assert "url(" not in html  # no CSS fetches either
    csp = next(a for t, a in tags if t == "meta" and a.get("http-equiv"))
    assert "default-src 'none'" in (csp.get("content") or "")


def test_everything_a_vm_printed_is_escaped() -> None:
    html = html_report(sample_document())
    assert XSS not in html
    assert "&lt;script&gt;alert(&#39;owned&#39;)&lt;/script&gt;" in html
    assert "<img" not in html


def test_content_summary_batches_gates_groups_failing() -> None:
    doc = sample_document()
    html = html_report(doc)
    assert "<title>fleet: health-check r-20250301-abc — Run halted-by-gate" in html
    for section in ('id="summary"', 'id="batches"', 'id="gates"', 'id="groups"', 'id="failing"'):
        assert section in html
    assert html.count('class="card group"') == len(doc["groups"])
    assert "ERROR: / is 100% full (threshold 90%)" in html  # a group's summary line
    assert html.count('class="card failing-target"') == 7  # 4 Failed, TimedOut, denied, evil
    assert "took 3 min 07 s" in html
    assert re.search(r"batch 4 · zone 2</td><td class=\"num\">1</td><td>no</td>", html)
    assert "FAILED" in html and "web-905: disk full" in html  # the gate that tripped
    assert "error budget: 5 of 5 allowed failures spent" in html


def test_big_fleets_are_cut_with_a_count() -> None:
    doc = sample_document(n_ok=500)
    for i, target in enumerate(doc["targets"][:150]):
        target.update(status="Failed", exit_code=1, output=f"bad {i}")
        target["verdict"] = {"verdict": "fail", "reason": "exit code 1", "values": {}}
    view = run_view(doc)
    assert len(view["failing"]) == FAILING_SHOWN
    bad = sum(outcome(t) in ("failure", "error") for t in doc["targets"])
    assert bad > FAILING_SHOWN and view["failing_more"] == bad - FAILING_SHOWN
    biggest = view["groups"][0]
    assert (
        len(biggest["names"]) == GROUP_NAMES and biggest["more"] == biggest["count"] - GROUP_NAMES
    )
    html = html_report(doc)
    assert f"… and {biggest['more']} more" in html
    assert len(html) < 400_000


def test_a_plain_run_without_rollout_or_failures() -> None:
    doc = sample_document(n_ok=3)
    doc["targets"] = [t for t in doc["targets"] if t["status"] == "Succeeded"]
    doc.update(
        rollout=None, ended="completed", ended_detail=None, summary={"Succeeded": 4, "total": 4}
    )
    doc["groups"] = [g for g in doc["groups"] if g["status"] == "Succeeded"]
    html = html_report(doc)
    assert 'id="batches"' not in html
    assert "all 4 targets passed" in html and "No target failed." in html


def test_duration_text() -> None:
    assert [duration_text(s) for s in (None, 4.25, 187, 7500)] == [
        "-", "4.2 s", "3 min 07 s", "2 h 05 min",
    ]  # fmt: skip
