"""What a health check expects of each target, and the verdict it gives: ``Expectations`` (a
job's ``expect:`` section) judges one ``TargetResult`` into a ``Judgement`` — pass, fail or
skip, with the reason and the values it read from the output.

The rules, in order (every failed rule is named in the reason):

- a target the script did not run on (skipped before launch, not started, canceled) is
  **skip**: nothing was checked; any other outcome but Succeeded/Failed (timed out, wedged,
  access denied, platform error, ...) is **fail** with that status;
- exit code: with ``exit_codes`` given, the script's exit code must be one of them (so
  ``[0, 100]`` passes a "reboot required" 100 even though Azure reports it Failed); without,
  the run's own outcome decides (Succeeded passes, Failed fails);
- ``output``: a regular expression that must be found in stdout (``re.search``, multiline);
  ``output_absent``: one that must not be;
- ``values``: numbers read from stdout by a regular expression (its first group, or the whole
  match) and held to ``min``/``max``; a value that is not found fails.

Pure: no I/O; regular expressions are compiled once per pattern.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from fleet.model.status import Status

if TYPE_CHECKING:
    from fleet.model.results import TargetResult

#: Outcomes where the script never ran to a verdict of its own (or has not yet: Running, in a
#: report of a run in flight): nothing was checked.
NOT_CHECKED = frozenset({Status.SKIPPED, Status.NOT_STARTED, Status.CANCELED, Status.RUNNING})
#: Outcomes where the script ran and exited: its exit code and output are judged.
RAN = frozenset({Status.SUCCEEDED, Status.FAILED})


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"  # not checked: the script did not run there


@dataclass(frozen=True)
class ValueCheck:
    """A number read from the output: ``regex``'s first group (or whole match), held to
    ``min``/``max`` (inclusive; either may be absent)."""

    name: str
    regex: str
    min: float | None = None
    max: float | None = None

    def read(self, output: str) -> float | None:
        match = _compiled(self.regex).search(output)
        if match is None:
            return None
        text = match.group(1) if match.re.groups else match.group(0)
        try:
            return float(text)
        except (TypeError, ValueError):
            return None

    def problem(self, value: float | None) -> str | None:
        """Why ``value`` fails this check, or None when it passes."""
        if value is None:
            return f"{self.name}: not found in the output (/{self.regex}/)"
        if self.min is not None and value < self.min:
            return f"{self.name} = {value:g} < min {self.min:g}"
        if self.max is not None and value > self.max:
            return f"{self.name} = {value:g} > max {self.max:g}"
        return None


@dataclass(frozen=True)
class Judgement:
    """One target's verdict and why (``reason`` is empty for a plain pass)."""

    verdict: Verdict
    reason: str = ""
    values: tuple[tuple[str, float | None], ...] = ()  # (name, value read) per value check

    @property
    def passed(self) -> bool:
        return self.verdict is Verdict.PASS

    @property
    def failed(self) -> bool:
        return self.verdict is Verdict.FAIL


@dataclass(frozen=True)
class Expectations:
    """A job's ``expect:`` section; the default expects what the run itself calls success."""

    exit_codes: tuple[int, ...] | None = None
    output: str | None = None  # regex that must be found in stdout
    output_absent: str | None = None  # regex that must not be found
    values: tuple[ValueCheck, ...] = ()

    @property
    def is_default(self) -> bool:
        return self == Expectations()

    def judge(self, result: TargetResult) -> Judgement:
        """The verdict on one target (see the module docstring for the rules)."""
        status = result.status
        if status in NOT_CHECKED:
            return Judgement(Verdict.SKIP, _status_text(result))
        values = tuple((c.name, c.read(result.output)) for c in self.values)
        if status not in RAN:
            return Judgement(Verdict.FAIL, _status_text(result), values)
        problems = [p for p in self._problems(result, values) if p]
        if problems:
            return Judgement(Verdict.FAIL, "; ".join(problems), values)
        return Judgement(Verdict.PASS, "", values)

    def _problems(
        self, result: TargetResult, values: tuple[tuple[str, float | None], ...]
    ) -> list[str | None]:
        found = [self._exit_problem(result)]
        if self.output is not None and not _compiled(self.output).search(result.output):
            found.append(f"output does not match /{self.output}/")
        if self.output_absent is not None and _compiled(self.output_absent).search(result.output):
            found.append(f"output matches /{self.output_absent}/")
        pairs = zip(self.values, values, strict=True)
        found += [check.problem(value) for check, (_, value) in pairs]
        return found

    def _exit_problem(self, result: TargetResult) -> str | None:
        code = result.exit_code
        if code is None and result.status is Status.SUCCEEDED:
            code = 0
        if self.exit_codes is None:
            if result.status is Status.SUCCEEDED:
                return None
            return f"exit code {code}" if code is not None else "Failed"
        if code in self.exit_codes:
            return None
        allowed = ", ".join(str(c) for c in self.exit_codes)
        return f"exit code {code} (expected {allowed})"


def _status_text(result: TargetResult) -> str:
    return f"{result.status.value}: {result.reason}" if result.reason else result.status.value


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.MULTILINE)
