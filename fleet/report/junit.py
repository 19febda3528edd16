"""The JUnit XML report: one ``<testcase>`` per target, for CI systems and test dashboards.

Rendered from the JSON report's document (``report_to_dict``), so ``fleet run`` and ``fleet
show`` give the same file. It is the common JUnit XML format (the Apache Ant JUnit task's, read
by Jenkins' JUnit and xUnit plugins), valid against fleet's own strict schema of it,
tests/fixtures/junit/junit.xsd (written from the format's documentation; sources there):

- root ``<testsuites>`` without attributes, holding one ``<testsuite>`` named after the job,
  with ``id`` 0 and ``package`` (a suite's attributes in an aggregate), ``timestamp``
  to the second without a zone (the Ant form; it is UTC, and the ``started_at`` property says
  so), ``hostname``, counts (equal to the cases written) and ``time``; then ``<properties>``
  (run id, how the run ended, ARM cost), the test cases, ``<system-out>`` (how the run ended,
  the output groups) and ``<system-err>``, in the Ant format's order.
- a test case per target: ``classname`` = the job, ``name`` = the target (with its resource
  group when two targets share a name), ``time`` = its run time. At most one child (the format
  allows one), by ``fleet.report.outcome``: ``<failure>`` when the check failed (the job's
  verdict, else the script did not succeed: Failed, TimedOut, Wedged; or its VM did not come
  back from its reboot: RebootTimedOut), ``<error>`` when the platform kept it from being
  checked (AccessDenied, NotFound, Conflict, ThrottledOut, Error),
  ``<skipped>`` when it was not checked (Skipped, NotStarted); the message is the verdict's or
  the run's reason, the text the status, exit code, values read and the tail of stdout and
  stderr.

Characters XML 1.0 cannot carry (NUL and most control characters a script may print) are
replaced with U+FFFD, so the document always parses.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fleet.report.outcome import outcome, tail, verdict_of

_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    """``text`` with the characters XML 1.0 forbids replaced by U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)


def _seconds(start: str | None, end: str | None) -> float:
    if not start or not end:
        return 0.0
    delta = _parse(end) - _parse(start)
    return max(delta.total_seconds(), 0.0)


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _detail(target: Mapping[str, Any]) -> str:
    parts = [f"status: {target['status']}"]
    if target.get("exit_code") is not None:
        parts.append(f"exit code: {target['exit_code']}")
    verdict = verdict_of(target)
    if verdict.get("reason"):
        parts.append(f"verdict: {verdict.get('verdict')}: {verdict['reason']}")
    for name, value in (verdict.get("values") or {}).items():
        parts.append(f"value {name}: {'not found' if value is None else f'{value:g}'}")
    if target.get("reason"):
        parts.append(f"reason: {target['reason']}")
    for key, label in (("output", "stdout"), ("error", "stderr")):
        text = tail(target.get(key) or "")
        if text:
            parts.append(f"--- {label} ---\n{text}")
    return "\n".join(parts)


def _last_line(text: str) -> str:
    return next((line.strip() for line in reversed(text.splitlines()) if line.strip()), "")


def _message(target: Mapping[str, Any]) -> str:
    """The verdict's reason, then the run's reason or else (when the script did not succeed)
    its last words, stderr first; the status if there is nothing else."""
    said = target.get("reason")
    if not said and target["status"] != "Succeeded":
        said = _last_line(target.get("error") or "") or _last_line(target.get("output") or "")
    parts: list[str] = []
    for part in (verdict_of(target).get("reason"), said):
        text = " ".join(str(part or "").split())
        if text and not any(text in seen for seen in parts):
            parts.append(text)
    return " — ".join(parts)[:300] or str(target["status"])


def _case_names(targets: list[Mapping[str, Any]]) -> list[str]:
    seen = Counter(t["name"].lower() for t in targets)
    return [
        f"{t['name']} ({t['resource_group']})" if seen[t["name"].lower()] > 1 else t["name"]
        for t in targets
    ]


def _testcase(parent: ET.Element, job: str, name: str, target: Mapping[str, Any]) -> str:
    kind = outcome(target)
    time = _seconds(target.get("started_at"), target.get("ended_at"))
    case = ET.SubElement(
        parent, "testcase", {"name": xml_safe(name), "classname": job, "time": f"{time:.3f}"}
    )
    if kind != "passed":
        message = _message(target)
        attrs = {"message": xml_safe(message)}
        if kind != "skipped":  # <skipped> takes a message only
            attrs["type"] = target["status"]
        child = ET.SubElement(case, kind, attrs)
        child.text = xml_safe(_detail(target))
    return kind


def _properties(parent: ET.Element, document: Mapping[str, Any]) -> None:
    props = ET.SubElement(parent, "properties")
    arm = document.get("arm") or {}
    values = {
        "fleet.run_id": document["run_id"],
        "fleet.job": document["job"],
        "fleet.started_at": document.get("started_at") or "",
        "fleet.finished_at": document.get("finished_at") or "",
        "fleet.ended": document.get("ended") or "",
        "fleet.ended_detail": document.get("ended_detail") or "",
        "fleet.arm.throttled": str(arm.get("throttled", 0)),
        **{f"fleet.arm.{k}": str(v) for k, v in (arm.get("requests") or {}).items()},
    }
    for name, value in values.items():
        ET.SubElement(props, "property", {"name": name, "value": xml_safe(str(value))})


def _suite_text(document: Mapping[str, Any]) -> str:
    lines = [f"run {document['run_id']} of {document['job']}: {document.get('ended')}"]
    if document.get("ended_detail"):
        lines.append(str(document["ended_detail"]))
    for group in document.get("groups") or []:
        lines.append(f"{group['count']:>6} x {group['status']}: {group['summary']}")
    return "\n".join(lines)


def junit_xml(document: Mapping[str, Any], *, hostname: str = "localhost") -> bytes:
    """The JUnit XML of a JSON report document, UTF-8 with an XML declaration."""
    job = xml_safe(document["job"]) or "fleet"
    targets = sorted(document.get("targets") or [], key=lambda t: (t["name"].lower(), t["id"]))
    root = ET.Element("testsuites")
    suite = ET.SubElement(root, "testsuite")
    _properties(suite, document)
    kinds = Counter(
        _testcase(suite, job, name, t)
        for name, t in zip(_case_names(targets), targets, strict=True)
    )
    ET.SubElement(suite, "system-out").text = xml_safe(_suite_text(document))
    ET.SubElement(suite, "system-err").text = ""
    started = document.get("started_at")
    suite.attrib.update(
        name=job,
        package="fleet",
        id="0",
        timestamp=_parse(started).strftime("%Y-%m-%dT%H:%M:%S") if started else "",
        hostname=xml_safe(hostname) or "localhost",
        tests=str(len(targets)),
        failures=str(kinds["failure"]),
        errors=str(kinds["error"]),
        skipped=str(kinds["skipped"]),
        time=f"{_seconds(started, document.get('finished_at')):.3f}",
    )
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data + b"\n"
