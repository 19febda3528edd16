"""The live progress display of a run in flight.

On a terminal: a ``rich.live.Live`` panel (bar, launched / running — and how many of those are
rebooting — / done / failed / skipped, throttle waits, elapsed time) refreshed about four times
a second. Elsewhere (CI logs, pipes):
one plain status line at most every ``plain_interval_s`` seconds, plus the final state. Renders
``fleet.model.Progress`` snapshots; knows nothing about the engine that produces them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType

from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from fleet.model import Progress


def _clock(seconds: float) -> str:
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def _percent(p: Progress) -> int:
    return int(100 * p.done / p.total) if p.total else 100


def _not_started(p: Progress) -> str:
    return f", not started {p.not_started:,}" if p.not_started else ""


def _rebooting(p: Progress) -> str:
    return f" ({p.rebooting:,} rebooting)" if p.rebooting else ""


def plain_line(p: Progress) -> str:
    """One line for logs, e.g. ``[01:02] 80/200 done (40%): launched 120, running 40, ...``."""
    return (
        f"[{_clock(p.elapsed_s)}] {p.done:,}/{p.total:,} done ({_percent(p)}%): "
        f"launched {p.launched:,}, running {p.running:,}{_rebooting(p)}, "
        f"succeeded {p.succeeded:,}, "
        f"failed {p.failed:,}, skipped {p.skipped:,}{_not_started(p)}; "
        f"throttled {p.throttled:,} ({p.throttle_wait_s:,.1f}s waited)"
    )


def progress_renderable(p: Progress, title: str) -> Group:
    # One flowing line rather than a grid: it wraps cleanly on narrow terminals.
    parts = [
        (f"launched {p.launched:,}", ""),
        (f"running {p.running:,}{_rebooting(p)}", "cyan"),
        (f"done {p.done:,}/{p.total:,}", "bold"),
        (f"succeeded {p.succeeded:,}", "green"),
        (f"failed {p.failed:,}", "red" if p.failed else ""),
        (f"skipped {p.skipped:,}", "yellow" if p.skipped else ""),
        *([(f"not started {p.not_started:,}", "dim")] if p.not_started else []),
        (f"429s {p.throttled:,} ({p.throttle_wait_s:,.1f}s waited)", "magenta"),
    ]
    counts = Text("  ·  ").join(Text(label, style=style) for label, style in parts)
    bar = Table.grid(padding=(0, 1))
    bar.add_column()
    bar.add_column(width=40)
    bar.add_column(justify="right")
    bar.add_row(
        Text(title, style="bold"),
        ProgressBar(total=max(p.total, 1), completed=p.done, width=40),
        Text(f"{_percent(p)}%  {_clock(p.elapsed_s)}"),
    )
    return Group(bar, counts)


class ProgressDisplay:
    """``with ProgressDisplay(console) as display: display.update(progress)``."""

    def __init__(
        self,
        console: Console,
        *,
        title: str = "fleet",
        plain_interval_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._console = console
        self._title = title
        self._interval = plain_interval_s
        self._clock = clock
        self._live: Live | None = None
        self._latest: Progress | None = None
        self._printed: Progress | None = None
        self._printed_at: float | None = None

    def __enter__(self) -> ProgressDisplay:
        if self._console.is_terminal:
            self._live = Live(
                Text(""), console=self._console, refresh_per_second=4, transient=False
            )
            self._live.__enter__()
        return self

    def update(self, progress: Progress) -> None:
        self._latest = progress
        if self._live is not None:
            self._live.update(progress_renderable(progress, self._title))
            return
        now = self._clock()
        # Plain mode throttles itself: CI logs want a heartbeat, not thousands of lines.
        if self._printed_at is None or now - self._printed_at >= self._interval:
            self._print_plain(progress, now)

    def _print_plain(self, progress: Progress, now: float) -> None:
        # soft_wrap: one line in a log whatever the console's width (80 off a terminal)
        self._console.print(plain_line(progress), markup=False, highlight=False, soft_wrap=True)
        self._printed, self._printed_at = progress, now

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live is not None:
            if self._latest is not None:
                self._live.update(progress_renderable(self._latest, self._title), refresh=True)
            self._live.__exit__(exc_type, exc, tb)
            self._live = None
        elif self._latest is not None and self._latest != self._printed:
            self._print_plain(self._latest, self._clock())  # the final state always reaches the log
