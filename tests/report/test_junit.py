"""The JUnit report: valid against fleet's own schema of the common JUnit XML format
(tests/fixtures/junit/junit.xsd, written from the format's documentation, sources in its README),
one test case per target, failures with the reason and the output tail, skipped for skipped,
XML-safe whatever a VM printed, secrets redacted."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from fleet.model import Secret
from fleet.report.junit import junit_xml, xml_safe
from fleet.report.outcome import kind_of, outcome, tail
from fleet.secrets import Secrets
from tests.report.documents import DISK_EXPECT, XSS, sample_document
from tests.report.junit_schema import junit_schema

_CASES = (
    "<testcase name='a' classname='j' time='1.5'/>"
    "<testcase name='b' classname='j' time='2'><failure message='no' type='Failed'>out</failure>"
    "</testcase>"
    "<testcase name='c' classname='j'><error type='AccessDenied'/></testcase>"
    "<testcase name='d' classname='j' time='0'><skipped message='deallocated'/></testcase>"
)
GOOD = (
    "<testsuites><testsuite name='j' tests='4' failures='1' errors='1' skipped='1' time='3.5' "
    "timestamp='2025-03-01T10:00:00' hostname='h' id='0' package='fleet'>"
    "<properties><property name='k' value='v'/></properties>"
    f"{_CASES}<system-out>o</system-out><system-err/></testsuite></testsuites>"
)
# Each is GOOD with one thing broken: (what, old, new, part of the schema's reason).
MISSING, ASSERTION, UNEXPECTED = "missing required attribute", "assertion", "Unexpected child"
BROKEN = [
    ("suite without a name", "<testsuite name='j' ", "<testsuite ", MISSING),
    ("suite with a blank name", "name='j' tests", "name='  ' tests", "pattern"),
    ("suite without tests", " tests='4'", "", MISSING),
    ("suite without failures", " failures='1'", "", MISSING),
    ("negative count", "errors='1'", "errors='-1'", "non negative"),
    ("count that is not a number", "tests='4'", "tests='four'", "invalid literal"),
    ("tests disagree with the cases", "tests='4'", "tests='5'", ASSERTION),
    ("failures disagree with the cases", "failures='1'", "failures='0'", ASSERTION),
    ("skipped disagree with the cases", "skipped='1'", "skipped='2'", ASSERTION),
    ("negative time", "time='1.5'", "time='-1.5'", "greater or equal"),
    ("timestamp with a zone", "T10:00:00'", "T10:00:00Z'", "pattern"),
    ("first suite id not 0", "id='0'", "id='1'", ASSERTION),
    ("case without a classname", "name='a' classname='j'", "name='a'", MISSING),
    ("failure without a type", " type='Failed'", "", MISSING),
    ("property without a value", " value='v'", "", MISSING),
    ("two results in one case", "<error type='AccessDenied'/>",
     "<error type='AccessDenied'/><failure type='x'/>", UNEXPECTED),
    ("properties after the cases", "</testcase><system-out>",
     "</testcase><properties/><system-out>", UNEXPECTED),
    ("test case outside a suite", "<testsuites>",
     "<testsuites><testcase name='x' classname='j'/>", UNEXPECTED),
    ("unknown element", "<system-err/>", "<system-err/><junk/>", UNEXPECTED),
    ("unknown attribute", "<testsuite ", "<testsuite colour='red' ", "not allowed"),
    ("system-out twice", "<system-err/>", "<system-out/><system-err/>", UNEXPECTED),
]  # fmt: skip


def test_the_schema_accepts_the_documented_format() -> None:
    """The control for the guard below: a document using every part of the format is valid, as
    is a lone <testsuite> root without the optional attributes."""
    schema = junit_schema()
    schema.validate(GOOD)
    schema.validate("<testsuite name='s' tests='1' failures='0' errors='0'>"
                    "<testcase name='a' classname='s'/></testsuite>")  # fmt: skip


@pytest.mark.parametrize(("what", "old", "new", "why"), BROKEN, ids=[b[0] for b in BROKEN])
def test_the_schema_rejects_broken_documents(what: str, old: str, new: str, why: str) -> None:
    """Guard the guard: the schema rejects what it should, for the right reason, so "valid"
    means something."""
    assert GOOD.count(old) == 1, what
    reasons = [str(e.reason) for e in junit_schema().iter_errors(GOOD.replace(old, new))]
    assert any(why in reason for reason in reasons), (what, reasons)


@pytest.mark.parametrize("n_ok", [0, 36, 400])
def test_valid_against_the_schema(n_ok: int) -> None:
    xml = junit_xml(sample_document(n_ok), hostname="ops-box")
    errors = list(junit_schema().iter_errors(xml.decode("utf-8")))
    assert not errors, errors[0]


def _cases(xml: bytes) -> dict[str, ET.Element]:
    root = ET.fromstring(xml)
    return {case.get("name"): case for case in root.iter("testcase")}  # type: ignore[misc]


def test_one_testcase_per_target_named_by_job_and_target() -> None:
    doc = sample_document()
    root = ET.fromstring(junit_xml(doc))
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name") == "health-check"
    cases = list(root.iter("testcase"))
    assert len(cases) == len(doc["targets"]) == int(suite.get("tests", "0"))
    assert {c.get("classname") for c in cases} == {"health-check"}
    names = [c.get("name") for c in cases]
    assert len(set(names)) == len(names)  # two web-001s are told apart by resource group
    assert {"web-001 (rg-prod)", "web-001 (rg-dr)"} <= set(names)
    assert suite.get("timestamp") == "2025-03-01T10:00:00"
    assert suite.get("time") == "187.000"
    assert (suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("6", "1", "2")


def test_failures_carry_the_reason_and_the_output_tail() -> None:
    cases = _cases(junit_xml(sample_document()))
    disk = cases["web-905"].find("failure")
    assert disk is not None
    assert disk.get("message") == "exit code 1 — ERROR: / is 100% full (threshold 90%)"
    assert disk.get("type") == "Failed"
    assert "exit code: 1" in (disk.text or "")
    assert "No space left on device" in (disk.text or "")
    timeout = cases["wedged-1"].find("failure")
    assert timeout is not None and timeout.get("type") == "TimedOut"
    assert timeout.get("message") == "TimedOut: Azure stopped the script at its timeout (300 s)"
    assert (timeout.text or "").endswith("step 1\nstep 2")
    denied = cases["locked-1"].find("error")
    assert denied is not None and denied.get("type") == "AccessDenied"
    assert cases["web-010"].find("*") is None  # passed: no child
    assert cases["web-010"].get("time") == "42.500"


def test_skipped_and_not_started_are_skipped_with_the_reason() -> None:
    cases = _cases(junit_xml(sample_document()))
    for name, reason in (
        ("off-1", "Skipped: VM is deallocated"),
        ("later-1", "NotStarted: halted by a health gate"),
    ):
        children = list(cases[name])
        assert [c.tag for c in children] == ["skipped"]
        assert children[0].get("message") == reason
        assert cases[name].get("time") == "0.000"


def test_hostile_output_stays_text_and_parses() -> None:
    xml = junit_xml(sample_document())
    case = _cases(xml)["evil-1"].find("failure")
    assert case is not None
    assert XSS in (case.text or "")  # escaped on the wire, text again when parsed
    assert b"<script>" not in xml
    assert "\ufffd" in (case.text or "") and "\x00" not in (case.text or "")
    assert "naïve ✓ 日本" in (case.text or "")


def test_the_jobs_verdict_decides_over_the_status() -> None:
    """expect: a disk check fails healthy-exiting targets; the reason and values say why."""
    doc = sample_document(expect=DISK_EXPECT)
    cases = _cases(junit_xml(doc))
    failure = cases["web-005"].find("failure")  # Succeeded, disk 75% used
    assert failure is not None and failure.get("type") == "Succeeded"
    assert failure.get("message") == "disk_used_pct = 75 > max 50"
    assert "value disk_used_pct: 75" in (failure.text or "")
    assert cases["web-010"].find("*") is None  # 46%: passes
    assert cases["off-1"].find("skipped") is not None
    assert cases["locked-1"].find("error") is not None
    allowed = dict(doc["targets"][0], status="Failed", verdict={"verdict": "pass"})
    assert outcome(allowed) == "passed"  # expect: exit_codes [0, 100] passes a Failed 100


def test_xml_safe_and_tail() -> None:
    assert xml_safe("a\x00b\x1bc\td\ne\U0001f600") == "a\ufffdb\ufffdc\td\ne\U0001f600"
    assert tail("a\nb\nc\n", lines=2) == "…\nb\nc"
    assert tail("a\nb\n", lines=2) == "a\nb"
    assert tail("x" * 10, chars=4) == "…\nxxxx"
    assert tail("") == ""
    statuses = ("Succeeded", "Wedged", "Skipped", "NotStarted", "Conflict", "AgentNotReady")
    assert [kind_of(s) for s in statuses] == [
        "passed", "failure", "skipped", "skipped", "error", "error",
    ]  # fmt: skip


def test_secrets_never_reach_the_junit_report() -> None:
    """A value the scripts echoed (here: a disk message standing in for a token)."""
    secret = Secret("No space left on device")
    xml = junit_xml(sample_document(secrets=Secrets.of([secret]))).decode()
    assert secret.reveal() not in xml and "df: write failed: /var/log/health.log: ***" in xml
