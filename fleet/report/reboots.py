"""Reboots in the report: each target's ``reboot`` record as JSON, the run's ``reboots`` section
(how many were required, requested, done, timed out, ... and how long VMs took to be back) and
the terminal summary's line about them. Reads only ``fleet.model`` objects.
"""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from fleet.model import RebootOutcome, RebootRecord, RunReport


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return aware.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def reboot_dict(record: RebootRecord | None) -> dict[str, Any] | None:
    """One target's reboot: why, whether it was requested and done, and how long it took."""
    if record is None:
        return None
    return {
        "required": record.required,
        "outcome": record.outcome.value,
        "requested": record.requested,
        "done": record.done,
        "requested_at": _iso(record.requested_at),
        "ready_at": _iso(record.ready_at),
        "seconds_to_ready": record.seconds_to_ready,
        "detail": record.detail,
        "restarts": record.restarts,
        "reads": record.reads,
    }


def reboots_summary(report: RunReport) -> dict[str, Any]:
    """The run's reboots: the policy, counts per outcome, and seconds until ready."""
    records = [r.reboot for r in report.results if r.reboot is not None]
    outcomes = Counter(rec.outcome for rec in records)
    seconds = [rec.seconds_to_ready for rec in records if rec.seconds_to_ready is not None]
    return {
        "policy": report.reboot,
        "required": len(records),
        "requested": sum(1 for rec in records if rec.requested),
        **{outcome.value.replace("-", "_"): outcomes[outcome] for outcome in RebootOutcome},
        "seconds_to_ready": {
            "median": round(statistics.median(seconds), 1) if seconds else None,
            "max": max(seconds) if seconds else None,
        },
    }


def reboots_line(report: RunReport) -> str | None:
    """``fleet rebooted 12 VMs (back after 75 s median, 240 s at most); 1 not back in time
    (RebootTimedOut); 2 still need a reboot fleet did not request (web-004, web-009).``"""
    summary = reboots_summary(report)
    if not summary["required"]:
        return None
    done, secs = summary["done"], summary["seconds_to_ready"]
    parts = [f"fleet rebooted {done} VM{'s' if done != 1 else ''}"]
    if done:
        parts[0] += f" (back after {secs['median']:g} s median, {secs['max']:g} s at most)"
    notes = {
        "timed_out": "not back in time (RebootTimedOut)",
        "not_requested": f"still need a reboot fleet did not request ({_left(report)})",
        "refused": "could not be restarted (Azure refused)",
        "unknown": "may or may not have restarted (fleet could not tell; not sent again)",
        "abandoned": "were restarting when the run stopped waiting",
    }
    for key, text in notes.items():
        if summary[key]:
            parts.append(f"{summary[key]} {text}")
    return "; ".join(parts) + "."


def _left(report: RunReport, at_most: int = 5) -> str:
    """The VMs that asked for a reboot fleet did not request (the run stopped): the operator's
    to restart, so named (the first few)."""
    names = sorted(
        r.target.name
        for r in report.results
        if r.reboot is not None and r.reboot.outcome is RebootOutcome.NOT_REQUESTED
    )
    more = len(names) - at_most
    return ", ".join(names[:at_most]) + (f" and {more} more" if more > 0 else "")
