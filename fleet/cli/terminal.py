"""The run's events on the terminal: a ``RunObserver`` that announces the run once it is
journaled (its id is what ``fleet resume`` needs) and drives the live progress display."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console

from fleet.model import Progress, RunPlan
from fleet.ports import RunObserver
from fleet.report.progress import ProgressDisplay


class TerminalObserver(RunObserver):
    """``with TerminalObserver(console, title) as observer: run(..., observer=observer)``."""

    def __init__(self, console: Console, *, title: str, announce: bool = True) -> None:
        self.console = console
        self.announce = announce
        self.display = ProgressDisplay(console, title=title)

    def __enter__(self) -> TerminalObserver:
        self.display.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.display.__exit__(exc_type, exc, tb)

    def run_started(self, plan: RunPlan) -> None:
        if self.announce:
            self.console.print(
                f"run id: [bold]{plan.run_id}[/]  job: {plan.spec.name}  "
                f"batches: {len(plan.rollout.batches)}",
                highlight=False,
            )

    def progress(self, progress: Progress) -> None:
        self.display.update(progress)
