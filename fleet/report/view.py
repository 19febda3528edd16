"""The view of one run: what the HTML report and the dashboard's run page show, computed from
the JSON report's document (``report_to_dict``) — the summary and its chart (with the line about
reboots), the batches and gates, the output groups and the failing targets' outputs.

Pure: a document in, plain dicts out (plus ``Markup`` charts, already escaped). Templates only
lay them out. Long lists are cut (``GROUP_NAMES``, ``FAILING_SHOWN``) with a count of the rest,
so a report on 10,000 targets stays a file one can paste into an incident channel.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from fleet.model import RebootOutcome
from fleet.report.charts import batch_bars, colour, status_bar
from fleet.report.outcome import BAD, outcome, tail, verdict_of
from fleet.report.reboots import reboots_sentence

GROUP_NAMES = 60  # target names listed per output group
FAILING_SHOWN = 100  # failing targets whose outputs are shown
SAMPLE_LINES = 12


def duration_text(seconds: float | None) -> str:
    """``"2 h 05 min"``, ``"3 min 07 s"``, ``"12.3 s"``; ``"-"`` when unknown."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def when_text(stamp: str | None) -> str:
    """``"2025-03-01 10:00:00 UTC"`` from the report's ISO 8601 UTC time; ``"-"`` if none."""
    if not stamp:
        return "-"
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    parse = datetime.fromisoformat
    return (parse(end.replace("Z", "+00:00")) - parse(start.replace("Z", "+00:00"))).total_seconds()


def _counts(summary: Mapping[str, int]) -> list[dict[str, Any]]:
    return [
        {"status": name, "count": n, "colour": colour(name)}
        for name, n in summary.items()
        if name != "total" and n
    ]


def _verdict(document: Mapping[str, Any]) -> dict[str, str]:
    """One line and a tone (ok, warn, bad) for the top of the page."""
    targets = document.get("targets") or []
    kinds = Counter(outcome(t) for t in targets)
    bad = kinds["failure"] + kinds["error"]
    ended = document.get("ended") or "completed"
    if ended == "running":
        done = sum(1 for t in targets if t["status"] != "NotStarted")
        return {"tone": "warn", "text": f"Running: {done} of {len(targets)} targets done"}
    if ended != "completed":
        detail = f": {document['ended_detail']}" if document.get("ended_detail") else ""
        return {"tone": "bad", "text": f"Run {ended}{detail}"}
    if bad:
        return {"tone": "bad", "text": f"{bad} of {len(targets)} targets failed"}
    if kinds["skipped"]:
        n = kinds["skipped"]
        return {"tone": "warn", "text": f"every checked target passed; {n} not checked"}
    return {"tone": "ok", "text": f"all {len(targets)} targets passed"}


def _batches(document: Mapping[str, Any]) -> dict[str, Any] | None:
    rollout = document.get("rollout")
    if not rollout:
        return None
    status_of = {t["id"]: t["status"] for t in document.get("targets") or []}
    rows, labels, bars = [], [], []
    for batch in rollout.get("batches") or []:
        counts = Counter(status_of.get(i, "NotStarted") for i in batch["targets"])
        label = f"batch {batch['index']}" + (f" · {batch['group']}" if batch.get("group") else "")
        rows.append({**batch, "size": len(batch["targets"]), "counts": _counts(counts)})
        labels.append(f"batch {batch['index']}")
        bars.append(counts)
        rows[-1]["label"] = label
    return {
        "order": rollout.get("order"),
        "rows": rows,
        "chart": batch_bars(bars, labels=labels) if bars else None,
        "gates": rollout.get("gates") or [],
        "budget": rollout.get("error_budget") or {},
    }


def _groups(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The output groups, each with the names (cut) and which of them fail the job's checks:
    targets that said the same thing can still be judged apart (a value over its maximum)."""
    bad = {t["name"] for t in document.get("targets") or [] if outcome(t) in BAD}
    out = []
    for g in document.get("groups") or []:
        names = list(g.get("targets") or [])
        out.append(
            {
                **g,
                "failing": sorted(bad.intersection(names)),
                "colour": colour(g["status"]),
                "names": names[:GROUP_NAMES],
                "more": max(len(names) - GROUP_NAMES, 0),
                "output_tail": tail(g.get("sample_output") or "", SAMPLE_LINES),
                "error_tail": tail(g.get("sample_error") or "", SAMPLE_LINES),
            }
        )
    return out


def _failing(document: Mapping[str, Any]) -> tuple[list[dict[str, Any]], int]:
    bad = [t for t in document.get("targets") or [] if outcome(t) in BAD]
    bad.sort(key=lambda t: (t["status"], t["name"].lower(), t["id"]))
    shown = [
        {
            **t,
            "colour": colour(t["status"]),
            "verdict_reason": verdict_of(t).get("reason"),
            "output_tail": tail(t.get("output") or ""),
            "error_tail": tail(t.get("error") or ""),
        }
        for t in bad[:FAILING_SHOWN]
    ]
    return shown, max(len(bad) - FAILING_SHOWN, 0)


def run_view(document: Mapping[str, Any]) -> dict[str, Any]:
    """Everything a page about this run shows, ready for a template."""
    summary = dict(document.get("summary") or {})
    failing, failing_more = _failing(document)
    arm = document.get("arm") or {}
    return {
        "run_id": document["run_id"],
        "job": document["job"],
        "started_at": when_text(document.get("started_at")),
        "finished_at": when_text(document.get("finished_at")),
        "duration": duration_text(
            None
            if document.get("ended") == "running"
            else _seconds(document.get("started_at"), document.get("finished_at"))
        ),
        "ended": document.get("ended"),
        "ended_detail": document.get("ended_detail"),
        "verdict": _verdict(document),
        "total": summary.get("total", len(document.get("targets") or [])),
        "counts": _counts(summary),
        "verdicts": dict(document.get("verdicts") or {}),
        "chart": status_bar(summary),
        "arm": arm,
        "batches": _batches(document),
        "groups": _groups(document),
        "failing": failing,
        "failing_more": failing_more,
        "reboots": _reboots(document),
    }


def _reboots(document: Mapping[str, Any]) -> str | None:
    """The summary's line about reboots (None: the run asked for none)."""
    left = [
        t["name"]
        for t in document.get("targets") or []
        if (t.get("reboot") or {}).get("outcome") == RebootOutcome.NOT_REQUESTED.value
    ]
    return reboots_sentence(document.get("reboots") or {}, left)
