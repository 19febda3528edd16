"""Reboots in the report: each target's ``reboot`` record as JSON, the run's ``reboots`` section
(how many were required, requested, done, timed out, ... and how long VMs took to be back) and
the terminal summary's line about them. Reads only ``fleet.model`` objects.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
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
    left = [
        r.target.name
        for r in report.results
        if r.reboot is not None and r.reboot.outcome is RebootOutcome.NOT_REQUESTED
    ]
    return reboots_sentence(reboots_summary(report), left)


def reboots_sentence(summary: Mapping[str, Any], left: Iterable[str]) -> str | None:
    """The line about a run's reboots from its ``reboots`` section (``left``: the names of the
    VMs whose reboot was not requested); None when no reboot was asked for."""
    if not summary.get("required"):
        return None
    done, secs = summary.get("done", 0), summary.get("seconds_to_ready") or {}
    parts = [f"fleet rebooted {done} VM{'s' if done != 1 else ''}"]
    if done and secs.get("median") is not None:
        parts[0] += f" (back after {secs['median']:g} s median, {secs['max']:g} s at most)"
    notes = {
        "timed_out": "not back in time (RebootTimedOut)",
        "not_requested": f"still need a reboot fleet did not request ({_named(left)})",
        "refused": "could not be restarted (Azure refused)",
        "unknown": "may or may not have restarted (fleet could not tell; not sent again)",
        "abandoned": "were restarting when the run stopped waiting",
    }
    for key, text in notes.items():
        if summary.get(key):
            parts.append(f"{summary[key]} {text}")
    return "; ".join(parts) + "."


def _named(names: Iterable[str], at_most: int = 5) -> str:
    """The VMs that asked for a reboot fleet did not request (the run stopped): the operator's
    to restart, so named (the first few, sorted)."""
    ordered = sorted(names)
    more = len(ordered) - at_most
    return ", ".join(ordered[:at_most]) + (f" and {more} more" if more > 0 else "")
