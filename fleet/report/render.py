"""The end-of-run terminal summary: a status table and the output groups, clush -b style.

Renders ``fleet.model`` objects with rich; reads nothing from Azure or the engine. Script output
is printed as plain ``Text`` so a "[red]" in a VM's output is shown, not interpreted.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

from rich.console import Console
from rich.table import Table
from rich.text import Text

from fleet.model import DeleteReason, RunReport, Status
from fleet.report.groups import OutputGroup, bounded, group_results
from fleet.report.reboots import reboots_line
from fleet.secrets import NO_SECRETS, Secrets

STATUS_STYLES: dict[Status, str] = {
    Status.SUCCEEDED: "green",
    Status.SKIPPED: "yellow",
    Status.CANCELED: "yellow",
    Status.NOT_STARTED: "dim",
    Status.RUNNING: "cyan",
    Status.THROTTLED_OUT: "magenta",
    Status.AGENT_NOT_READY: "magenta",
    Status.LIMIT_REACHED: "magenta",
}
_FAILURE_STYLE = "red"
_SAMPLE_LINES = 8


def status_style(status: Status) -> str:
    return STATUS_STYLES.get(status, _FAILURE_STYLE)


def plural(count: int, word: str = "target") -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


@dataclass(frozen=True)
class _Line:
    """One printed group: usually one ``OutputGroup``; successes with the same verdict folded."""

    status: Status
    exit_code: int | None
    count: int
    names: tuple[str, ...]
    summary: str
    hostless: str
    variants: int
    sample: str


def _verdict(summary: str) -> str:
    # "status:  OK" (Linux) and "Status   : OK" (Windows) are the same verdict.
    return re.sub(r"\s+", "", summary).lower()


def _sample(group: OutputGroup) -> str:
    return "\n".join(p.rstrip("\n") for p in (group.sample_output, group.sample_error) if p)


def fold(groups: Sequence[OutputGroup], *, whole: bool = False) -> list[_Line]:
    """Successful groups that end in the same verdict (e.g. "status: OK", "<host>: patched")
    and exit code become one line: their outputs differ only in detail like the distribution,
    which is noise for a health check or a patch. ``whole``: labels not cut (off a terminal)."""
    lines: list[_Line] = []
    folded: dict[tuple[str, int | None], int] = {}
    cut = (lambda label: label) if whole else bounded
    for g in groups:
        hostless = cut(g.hostless or g.summary)
        key = (_verdict(hostless), g.exit_code)
        index = folded.get(key) if g.status is Status.SUCCEEDED else None
        if index is None:
            if g.status is Status.SUCCEEDED:
                folded[key] = len(lines)
            lines.append(
                _Line(g.status, g.exit_code, g.count, g.targets,
                      cut(g.whole or g.summary) if g.count == 1 else hostless, hostless, 1,
                      _sample(g))
            )  # fmt: skip
            continue
        first = lines[index]
        names = tuple(sorted(first.names + g.targets))
        lines[index] = replace(
            first, count=first.count + g.count, names=names, variants=first.variants + 1,
            summary=first.hostless,  # the largest group's words, naming none of the hosts
        )  # fmt: skip
    return sorted(lines, key=lambda line: -line.count)  # stable: ties keep the groups' order


def _names(line: _Line, max_names: int) -> str:
    if line.status is Status.SUCCEEDED and line.count > max_names:
        return ""  # the healthy majority: the count says enough
    shown = ", ".join(line.names[:max_names])
    more = len(line.names) - max_names
    return f" ({shown}{f', +{more:,} more' if more > 0 else ''})"


def _outcome(line: _Line) -> str:
    if line.exit_code in (None, 0):
        return line.status.value
    return f"{line.status.value}, exit {line.exit_code}"


def _indented_sample(sample: str) -> Text:
    lines = [line for line in sample.splitlines() if line.strip()]
    if len(lines) > _SAMPLE_LINES:
        hidden = len(lines) - _SAMPLE_LINES
        lines = [f"… {hidden} more line{'s' if hidden > 1 else ''}", *lines[-_SAMPLE_LINES:]]
    return Text("\n".join(f"    {line}" for line in lines), style="dim")


def render_groups(console: Console, groups: Sequence[OutputGroup], *, max_names: int = 10) -> None:
    """``4,997 targets: status: OK`` / ``3 targets (a, b, c): ERROR: / is 100% full``."""
    for line in fold(groups, whole=not console.is_terminal):  # a pipe gets every word
        head = Text()
        head.append(plural(line.count), style=f"bold {status_style(line.status)}")
        head.append(_names(line, max_names))
        head.append(": ")
        head.append(line.summary)
        if line.variants > 1:
            head.append(f" ({line.variants} output variants)", style="dim")
        if line.status is not Status.SUCCEEDED or line.exit_code not in (None, 0):
            head.append(f"  [{_outcome(line)}]", style=status_style(line.status))
        console.print(head, highlight=False, soft_wrap=True)  # keep one greppable line
        if line.status is not Status.SUCCEEDED and line.sample:
            console.print(_indented_sample(line.sample), highlight=False)


def status_table(report: RunReport) -> Table:
    counts = Counter(r.status for r in report.results)
    # The title never wraps: a narrow table must not split the run id over two lines.
    title = Text(f"{report.job} — run {report.run_id}", no_wrap=True, overflow="ignore")
    table = Table(title=title, title_justify="left")
    table.add_column("Status")
    table.add_column("Targets", justify="right")
    for status in Status:
        if counts[status]:
            style = status_style(status)
            table.add_row(Text(status.value, style=style), Text(f"{counts[status]:,}", style=style))
    table.add_section()
    table.add_row(Text("total", style="bold"), Text(f"{len(report.results):,}", style="bold"))
    return table


#: How ``fleet show`` says a run that has no end yet: in flight, or its process died.
_UNENDED = frozenset({"running", "interrupted"})


def _footer(report: RunReport) -> Text:
    if report.ended in _UNENDED:  # no end time, no request counts: say so, not "in 0.0s"
        started = report.started_at.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
        state = "in flight" if report.ended == "running" else report.ended
        return Text(f"Run {state}, started {started} (no duration or ARM counts yet).")
    seconds = (report.finished_at - report.started_at).total_seconds()
    arm = report.arm
    requests = ", ".join(f"{n:,} {kind}" for kind, n in sorted(arm.requests.items())) or "none"
    text = Text(f"Run {report.ended} in {seconds:,.1f}s. ARM requests: {requests}; ")
    text.append(f"{arm.throttled:,} throttled (429), {arm.throttle_wait_s:,.1f}s waiting.")
    deleted = [d for r in report.results for d in r.deleted]
    if deleted:
        done = [d for d in deleted if d.error is None]
        freed = sum(d.reason is DeleteReason.RECLAIMED for d in done)
        text.append(
            f"\nfleet deleted {plural(len(done), 'run command')} of its own ({freed} to free a "
            f"slot at Azure's limit of 25 per VM; cleanup: {report.cleanup})"
        )
        if len(done) < len(deleted):
            text.append(f"; {len(deleted) - len(done):,} could not be deleted (see the report)")
        text.append(".")
    if report.storage is not None:
        kept = sum(r.full_output is not None for r in report.results)
        text.append(
            f"\nOutput storage: {report.storage.total:,} requests; whole outputs of "
            f"{plural(kept)} (each target's full_output in the report)."
        )
    rebooted = reboots_line(report)
    if rebooted is not None:
        text.append(f"\n{rebooted}")
    return text


def render_summary(
    console: Console,
    report: RunReport,
    *,
    secrets: Secrets = NO_SECRETS,
    max_names: int = 10,
    groups: Sequence[OutputGroup] | None = None,
) -> None:
    """Print the status table, the output groups and one line of ARM cost. ``groups``: the
    report's output groups if the caller has them already (grouping 10,000 outputs costs)."""
    report = secrets.redact_report(report)
    console.print(status_table(report))
    console.print()
    if groups is None or secrets:
        groups = group_results(report.results)
    render_groups(console, groups, max_names=max_names)
    console.print()
    console.print(_footer(report), highlight=False)
