"""The scheduled-check sections of a job file — ``schedule:``, ``expect:`` and ``alerts:`` —
their schema (pydantic, ``extra="forbid"``) and how they are built into ``fleet.model``'s
``Schedule``, ``Expectations`` and ``AlertPolicy``. Kept apart from ``schema``/``build`` so each
module stays small; ``fleet.spec.build`` calls ``build_checks``. Shape::

    schedule:
      cron: "*/15 * * * *"            # 5 fields, in `timezone` (croniter); or every:
      every: 15m                      # 1s .. 7 days, aligned to the Unix epoch
      timezone: Europe/Paris          # IANA name (default UTC)
      jitter: 30s                     # each fire starts 0..jitter later (less than every)
      blackout:                       # no run is launched inside these windows
        - {cron: "0 22 * * FRI", duration: 56h}        # opens at each cron fire
        - {start: 2025-12-24T00:00, end: 2025-12-27T00:00}   # once (naive = timezone)
      missed: run-once                # after downtime: run once (default) or skip
    expect:
      exit_codes: [0, 100]            # default: what the run calls success (Succeeded)
      output: 'status:\\s+OK'         # a regex that must be found in stdout
      output_absent: 'ERROR'          # one that must not
      values:                         # numbers read from stdout, held to bounds
        disk_used_pct: {regex: 'used=(\\d+)%', max: 90}
    alerts:
      webhooks:
        - {url: {env: SLACK_WEBHOOK_URL}, format: slack}   # or teams, or generic (default)
      on: [regression, recovery, run-failure]              # default: all three

Webhook URLs are secrets (Slack and Teams keep the credential in the path): only ``{env:
VAR}``, and messages name the variable, never the URL.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal, Protocol
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import Field, PlainValidator, StrictInt, model_validator

from fleet.model import (
    AlertKind,
    AlertPolicy,
    Blackout,
    BodyFormat,
    Expectations,
    Missed,
    Schedule,
    Secret,
    ValueCheck,
    Webhook,
)
from fleet.spec.fields import EnvRef, StrictModel
from fleet.spec.values import Regex, parse_span

Loc = tuple[str | int, ...]
_VALUE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_WEEK_S = 7 * 86_400


def _cron(value: Any) -> str:
    if not isinstance(value, str) or len(value.split()) != 5 or not croniter.is_valid(value):
        message = (
            f"{value!r} is not a cron expression — use 5 fields: minute hour day-of-month "
            'month day-of-week, e.g. "*/15 * * * *" or "0 6 * * MON-FRI"'
        )
        raise ValueError(message)
    return " ".join(value.split())


def _timezone(value: Any) -> str:
    try:
        if not isinstance(value, str) or not value:
            raise ValueError(value)
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        message = f"{value!r} is not a time zone — use an IANA name, e.g. UTC or Europe/Paris"
        raise ValueError(message) from None
    return value


def _every(value: Any) -> int:
    return parse_span(value, minimum=1, maximum=_WEEK_S, what="an interval")


def _jitter(value: Any) -> int:
    return parse_span(value, minimum=0, maximum=86_400, what="a jitter")


def _window(value: Any) -> int:
    return parse_span(value, minimum=1, maximum=_WEEK_S, what="a blackout window")


def _moment(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):  # YAML reads 2025-12-24 as a date: its midnight
        return datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    message = f"{value!r} is not a date and time — use ISO 8601, e.g. 2025-12-24T18:00"
    raise ValueError(message)


def _value_name(value: Any) -> str:
    if not isinstance(value, str) or not _VALUE_NAME.match(value):
        message = f"{value!r} is not a value name — use letters, digits and _, e.g. disk_used_pct"
        raise ValueError(message)
    return value


Cron = Annotated[str, PlainValidator(_cron)]
TimeZone = Annotated[str, PlainValidator(_timezone)]
Every = Annotated[int, PlainValidator(_every)]
Jitter = Annotated[int, PlainValidator(_jitter)]
Window = Annotated[int, PlainValidator(_window)]
Moment = Annotated[datetime, PlainValidator(_moment)]
ValueName = Annotated[str, PlainValidator(_value_name)]


class BlackoutWindow(StrictModel):
    """Recurring (``cron`` + ``duration``) or once (``start`` + ``end``)."""

    cron: Cron | None = None
    duration: Window | None = None
    start: Moment | None = None
    end: Moment | None = None

    @model_validator(mode="after")
    def _one_form(self) -> BlackoutWindow:
        recurring = self.cron is not None or self.duration is not None
        once = self.start is not None or self.end is not None
        if recurring == once:
            raise ValueError("a blackout is {cron, duration} or {start, end}")
        if recurring and (self.cron is None or self.duration is None):
            raise ValueError("a recurring blackout needs both cron and duration")
        if once and (self.start is None or self.end is None):
            raise ValueError("a one-off blackout needs both start and end")
        if not _ordered(self.start, self.end):
            raise ValueError("a blackout's end must come after its start")
        return self


class ScheduleSection(StrictModel):
    cron: Cron | None = None
    every: Every | None = None
    timezone: TimeZone = "UTC"
    jitter: Jitter = 0
    blackout: list[BlackoutWindow] = []
    missed: Literal["run-once", "skip"] = "run-once"

    @model_validator(mode="after")
    def _one_rhythm(self) -> ScheduleSection:
        if (self.cron is None) == (self.every is None):
            raise ValueError("give exactly one of cron and every")
        if self.every is not None and self.jitter >= self.every:
            raise ValueError("jitter must be shorter than the interval (every)")
        return self


class ValueRule(StrictModel):
    regex: Regex
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounds(self) -> ValueRule:
        if re.compile(self.regex).groups > 1:
            raise ValueError("the regex may have one group (the number); use (?:...) for others")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min is above max")
        return self


class ExpectSection(StrictModel):
    exit_codes: Annotated[list[StrictInt], Field(min_length=1)] | None = None
    output: Regex | None = None
    output_absent: Regex | None = None
    values: dict[ValueName, ValueRule] = {}


class WebhookEntry(StrictModel):
    url: EnvRef
    format: Literal["generic", "slack", "teams"] = "generic"


class AlertsSection(StrictModel):
    webhooks: Annotated[list[WebhookEntry], Field(min_length=1)]
    on: list[Literal["regression", "recovery", "run-failure"]] = [k.value for k in AlertKind]


def yaml_keys(data: Any) -> Any:
    """``alerts.on`` as written: YAML 1.1 (PyYAML) reads a bare ``on:`` key as the boolean
    true. Applied to the job's data before validation, so errors name ``alerts.on``."""
    alerts = data.get("alerts") if isinstance(data, dict) else None
    if isinstance(alerts, dict) and True in alerts:
        fixed = {("on" if k is True else k): v for k, v in alerts.items()}
        return {**data, "alerts": fixed}
    return data


class Problems(Protocol):
    """Where build problems go (``fleet.spec.build.BuildContext``)."""

    def problem(self, loc: Loc, message: str) -> None: ...

    def env_value(self, var: str, loc: Loc) -> str | None: ...


def build_schedule(section: ScheduleSection | None) -> Schedule | None:
    if section is None:
        return None
    tz = ZoneInfo(section.timezone)
    windows = tuple(
        Blackout(cron=w.cron, duration_s=w.duration)
        if w.cron is not None
        else Blackout(start=_aware(w.start, tz), end=_aware(w.end, tz))
        for w in section.blackout
    )
    return Schedule(
        cron=section.cron,
        every_s=section.every,
        timezone=section.timezone,
        jitter_s=section.jitter,
        blackouts=windows,
        missed=Missed(section.missed),
    )


def build_expect(section: ExpectSection | None) -> Expectations:
    if section is None:
        return Expectations()
    return Expectations(
        exit_codes=None if section.exit_codes is None else tuple(dict.fromkeys(section.exit_codes)),
        output=section.output,
        output_absent=section.output_absent,
        values=tuple(
            ValueCheck(name, rule.regex, rule.min, rule.max)
            for name, rule in section.values.items()
        ),
    )


def build_alerts(section: AlertsSection | None, ctx: Problems) -> AlertPolicy:
    if section is None:
        return AlertPolicy()
    hooks = []
    for index, entry in enumerate(section.webhooks):
        loc: Loc = ("alerts", "webhooks", index, "url", "env")
        url = ctx.env_value(entry.url.env, loc)
        if url is None:
            continue
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            ctx.problem(loc, f"environment variable {entry.url.env} does not hold an http(s) URL")
            continue
        hooks.append(Webhook(Secret(url), BodyFormat(entry.format), entry.url.env))
    return AlertPolicy(tuple(hooks), frozenset(AlertKind(k) for k in section.on))


def _ordered(start: datetime | None, end: datetime | None) -> bool:
    """False only when both are given, comparable (both naive or both aware) and out of order."""
    if start is None or end is None or (start.tzinfo is None) != (end.tzinfo is None):
        return True
    return start < end


def _aware(moment: datetime | None, tz: ZoneInfo) -> datetime:
    assert moment is not None
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment
