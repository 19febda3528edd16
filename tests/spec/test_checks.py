"""The scheduled-check sections of a job file (schedule, expect, alerts): what they build, and
errors as precise as the rest of the spec (file, line, field, how to fix; never a webhook URL)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from fleet.errors import SpecError
from fleet.journal.spec_record import spec_hash, spec_to_dict
from fleet.model import AlertKind, Blackout, BodyFormat, Missed, Schedule, ValueCheck
from fleet.secrets import Secrets
from fleet.spec import load_job_spec
from tests.spec.test_spec import write

HEAD = """\
name: health
targets: {tags: {env: prod}}
script: {inline: "df -h /"}
"""
HOOK = "https://hooks.slack.com/services/T000/B000/s3cretPath"


def load(tmp_path: Path, body: str, env: dict[str, str] | None = None) -> object:
    return load_job_spec(write(tmp_path, HEAD + body), env=env or {})


def error(tmp_path: Path, body: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(SpecError) as info:
        load(tmp_path, body, env)
    assert info.value.exit_code == 2
    return str(info.value)


FULL = """\
schedule:
  cron: "*/15  * * * *"
  timezone: Europe/Paris
  jitter: 30s
  blackout:
    - {cron: "0 22 * * FRI", duration: 56h}
    - {start: 2025-12-24T00:00:00, end: "2025-12-27T00:00"}
  missed: skip
expect:
  exit_codes: [0, 100, 0]
  output: 'status:\\s+OK'
  output_absent: ERROR
  values:
    disk_used_pct: {regex: 'used=(\\d+)%', max: 90}
    load: {regex: 'load=[\\d.]+', min: 0}
alerts:
  webhooks:
    - {url: {env: SLACK_HOOK}, format: slack}
    - url: {env: MY_HOOK}
  on: [regression, recovery]
"""


def test_every_section_builds(tmp_path: Path) -> None:
    env = {"SLACK_HOOK": HOOK, "MY_HOOK": "http://127.0.0.1:9/hook"}
    spec = load(tmp_path, FULL, env)
    paris = ZoneInfo("Europe/Paris")
    assert spec.schedule == Schedule(  # type: ignore[attr-defined]
        cron="*/15 * * * *",
        timezone="Europe/Paris",
        jitter_s=30,
        blackouts=(
            Blackout(cron="0 22 * * FRI", duration_s=56 * 3600),
            Blackout(
                start=datetime(2025, 12, 24, tzinfo=paris), end=datetime(2025, 12, 27, tzinfo=paris)
            ),
        ),
        missed=Missed.SKIP,
    )
    expect = spec.expect  # type: ignore[attr-defined]
    assert expect.exit_codes == (0, 100)
    assert (expect.output, expect.output_absent) == (r"status:\s+OK", "ERROR")
    assert expect.values == (
        ValueCheck("disk_used_pct", r"used=(\d+)%", None, 90.0),
        ValueCheck("load", r"load=[\d.]+", 0.0, None),
    )
    alerts = spec.alerts  # type: ignore[attr-defined]
    assert [(h.url.reveal(), h.format, h.env) for h in alerts.webhooks] == [
        (HOOK, BodyFormat.SLACK, "SLACK_HOOK"),
        ("http://127.0.0.1:9/hook", BodyFormat.GENERIC, "MY_HOOK"),
    ]
    assert alerts.on == {AlertKind.REGRESSION, AlertKind.RECOVERY}  # `on:` is no YAML boolean here


def test_defaults_and_every(tmp_path: Path) -> None:
    spec = load(
        tmp_path, "schedule: {every: 5s}\nalerts: {webhooks: [{url: {env: H}}]}\n", {"H": HOOK}
    )
    assert spec.schedule == Schedule(every_s=5)  # type: ignore[attr-defined]
    assert spec.alerts.on == set(AlertKind)  # type: ignore[attr-defined]
    assert spec.expect.is_default  # type: ignore[attr-defined]
    plain = load(tmp_path, "")
    assert plain.schedule is None and not plain.alerts.webhooks  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "schedule: {cron: '61 * * * *'}\n",
            "job.yaml:4: schedule.cron: '61 * * * *' is not a cron expression — use 5 fields",
        ),
        (
            "schedule: {cron: '* * * * * *'}\n",
            "schedule.cron: '* * * * * *' is not a cron expression",
        ),
        (
            "schedule: {every: 1m, cron: '* * * * *'}\n",
            "job.yaml:4: schedule: give exactly one of cron and every",
        ),
        ("schedule: {timezone: UTC}\n", "schedule: give exactly one of cron and every"),
        (
            "schedule: {every: 10s, jitter: 10s}\n",
            "schedule: jitter must be shorter than the interval",
        ),
        ("schedule: {every: 8d}\n", "schedule.every: '8d' is out of range — an interval is 1s"),
        ("schedule: {every: 0}\n", "schedule.every: 0 is out of range — an interval is 1s to"),
        (
            "schedule: {every: 1m, timezone: Mars/Olympus}\n",
            "schedule.timezone: 'Mars/Olympus' is not a time zone — use an IANA name",
        ),
        ("schedule: {every: 1m, missed: twice}\n", "schedule.missed: "),
        (
            "schedule: {every: 1m, blackout: [{cron: '0 1 * * *'}]}\n",
            "schedule.blackout[0]: a recurring blackout needs both cron and duration",
        ),
        (
            "schedule: {every: 1m, blackout: [{start: 2025-01-02, end: 2025-01-01T00:00:00}]}\n",
            "schedule.blackout[0]: a blackout's end must come after its start",
        ),
        (
            "schedule: {every: 1m, blackout: [{start: tomorrow, end: 2025-01-01T00:00:00}]}\n",
            "schedule.blackout[0].start: 'tomorrow' is not a date and time",
        ),
        ("schedule: {evry: 1m}\n", "schedule.evry: unknown field 'evry' — did you mean 'every'?"),
        ("expect: {output: '('}\n", "expect.output: '(' is not a regular expression"),
        ("expect: {exit_codes: []}\n", "expect.exit_codes: "),
        (
            "expect: {values: {disk: {regex: '(a)(b)'}}}\n",
            "expect.values.disk: the regex may have one group",
        ),
        (
            "expect: {values: {disk: {regex: 'x', min: 5, max: 1}}}\n",
            "expect.values.disk: min is above max",
        ),
        ("expect: {values: {'bad name': {regex: 'x'}}}\n", "is not a value name"),
        (
            "expect: {values: {disk: {regex: 'x', maximum: 1}}}\n",
            "expect.values.disk.maximum: unknown field 'maximum' — did you mean 'max'?",
        ),
        ("alerts: {webhooks: []}\n", "alerts.webhooks: "),
        (
            "alerts: {webhooks: [{url: 'https://hooks.example/T0/s3cret'}]}\n",
            "alerts.webhooks[0].url: a secret is never written in a job file",
        ),
        (
            "alerts: {webhooks: [{url: {env: NOPE}}]}\n",
            "alerts.webhooks[0].url.env: environment variable NOPE is not set",
        ),
        ("alerts: {webhooks: [{url: {env: H}, format: discord}]}\n", "alerts.webhooks[0].format: "),
        ("alerts: {webhooks: [{url: {env: H}}], on: [regresion]}\n", "alerts.on[0]: "),
    ],
)
def test_errors_name_the_line_and_the_field(tmp_path: Path, body: str, expected: str) -> None:
    message = error(tmp_path, body, {"H": HOOK})
    assert expected in message
    assert "s3cret" not in message


def test_a_webhook_variable_that_holds_no_url_is_refused_without_showing_it(tmp_path: Path) -> None:
    message = error(tmp_path, "alerts: {webhooks: [{url: {env: H}}]}\n", {"H": "s3cret-not-a-url"})
    assert (
        "alerts.webhooks[0].url.env: environment variable H does not hold an http(s) URL" in message
    )
    assert "s3cret" not in message


def test_webhook_urls_are_secrets_and_expectations_are_stored_but_not_hashed(
    tmp_path: Path,
) -> None:
    env = {"SLACK_HOOK": HOOK, "MY_HOOK": "http://127.0.0.1:9/hook"}
    spec = load(tmp_path, FULL, env)
    assert Secrets.from_spec(spec).redact(f"posting to {HOOK}") == "posting to ***"  # type: ignore[arg-type]
    stored = spec_to_dict(spec)  # type: ignore[arg-type]
    assert stored["expect"]["exit_codes"] == [0, 100]
    assert "alerts" not in stored and "s3cret" not in str(stored)
    plain = load(tmp_path, "")
    assert spec_hash(spec) == spec_hash(plain)  # type: ignore[arg-type]
