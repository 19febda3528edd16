"""The JUnit report: valid against the Ant and the Jenkins xUnit JUnit schemas (vendored in
tests/fixtures/junit with their sources), one test case per target, failures with the reason and
the output tail, skipped for skipped, XML-safe whatever a VM printed, secrets redacted."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from fleet.model import Secret
from fleet.report.junit import junit_xml, xml_safe
from fleet.report.outcome import kind_of, outcome, tail
from fleet.secrets import Secrets
from tests.report.documents import DISK_EXPECT, XSS, sample_document

SCHEMAS = Path(__file__).resolve().parents[1] / "fixtures" / "junit"


@pytest.fixture(scope="module")
def schemas() -> dict[str, xmlschema.XMLSchema]:
    return {p.name: xmlschema.XMLSchema(p) for p in sorted(SCHEMAS.glob("*.xsd"))}


def test_the_schemas_are_the_strict_ones_they_claim(
    schemas: dict[str, xmlschema.XMLSchema],
) -> None:
    """Guard the guard: the schemas reject what they should, so "valid" means something."""
    assert set(schemas) == {"ant-junit.xsd", "jenkins-junit-10.xsd"}
    no_name = b"<testsuites><testsuite tests='1' failures='0' errors='0'/></testsuites>"
    for schema in schemas.values():
        assert not schema.is_valid(no_name)  # a test suite needs a name in both
    two_children = (
        b"<testsuite name='j' timestamp='2025-03-01T10:00:00' hostname='h' tests='1' "
        b"failures='1' errors='0' time='1'><properties/><testcase name='a' classname='j' "
        b"time='1'><failure type='x'/><skipped/></testcase><system-out/><system-err/></testsuite>"
    )
    assert not schemas["ant-junit.xsd"].is_valid(two_children)  # Ant: one child per case


@pytest.mark.parametrize("n_ok", [0, 36, 400])
def test_valid_against_both_schemas(schemas: dict[str, xmlschema.XMLSchema], n_ok: int) -> None:
    xml = junit_xml(sample_document(n_ok), hostname="ops-box")
    for name, schema in schemas.items():
        errors = list(schema.iter_errors(xml.decode("utf-8")))
        assert not errors, f"{name}: {errors[0]}"


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
