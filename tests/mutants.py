"""Deliberate small bugs, each of which some test must catch (issues #18 and #12).

    python -m tests.mutants            # list the mutants
    python -m tests.mutants NAME...    # apply each in turn, run its tests, expect a failure
    python -m tests.mutants all

A mutant is a text replacement in one source file. It is applied in place, all the tests named
for it run — it is caught when at least one fails — and the file is restored from memory
whatever happens — so run it on a clean
checkout, never while another process reads the sources. Exit code 0 when every mutant applied
made its tests fail, 1 when one survived, 2 on a bad name or a replacement that no longer
matches the source (the mutant must then be updated with the code).
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KILL_AFTER_PUT = "tests/e2e/test_kill_resume.py::test_kill_at_a_failpoint_then_resume[after-put:3]"
AT_THE_LIMIT = (
    "tests/e2e/test_at_the_limit.py::"
    "test_at_the_write_limit_fleet_gets_no_429_where_no_limiter_gets_many"
)


@dataclass(frozen=True)
class Mutant:
    path: str
    old: str
    new: str
    tests: tuple[str, ...]
    what: str


MUTANTS: dict[str, Mutant] = {
    "blind-re-put-on-resume": Mutant(
        "fleet/engine/execute.py",
        "        if ask_first:\n"
        "            arrived = await self.launcher.arrived(target, invocation)\n",
        "        if ask_first:\n            arrived = False\n",
        (
            "tests/engine/test_resume_once.py",
            "tests/e2e/test_kill_resume.py::test_kill_at_a_failpoint_then_resume[after-put:3]",
            "tests/temporal/test_activities.py",
        ),
        "resume (or a retried launch activity) re-PUTs without asking Azure whether it arrived",
    ),
    "blind-re-put-live": Mutant(
        "fleet/engine/launch.py",
        "        arrived = await self.arrived(target, inv)\n        if arrived is None:",
        "        arrived = False\n        if arrived is None:",
        ("tests/engine/test_runner.py", "tests/e2e/test_run_faults.py"),
        "a PUT whose answer was lost is sent again without reading the run command",
    ),
    "retried-launch-sends-blind": Mutant(
        "fleet/temporal/activities.py",
        "retried=activity.info().attempt > 1)",
        "retried=False)",
        (
            "tests/temporal/test_e2e_processes.py::"
            "test_a_worker_killed_right_after_a_put_never_runs_a_script_twice",
        ),
        "a launch activity retried after its worker died sends its PUTs without asking Azure",
    ),
    "sdk-re-sends-puts": Mutant(
        "fleet/azure/run_commands.py",
        "polling=False, fleet_region=target.location, **SEND_ONCE,",
        "polling=False, fleet_region=target.location,",
        ("tests/azure/test_send_once.py", "tests/e2e/test_run_faults.py"),
        "azure-core's RetryPolicy may re-send the run-command PUT (client retry_total=6)",
    ),
    "aiohttp-re-sends-puts": Mutant(
        "fleet/azure/clients.py",
        "middlewares=(send_writes_once,)",
        "middlewares=()",
        ("tests/azure/test_send_once.py", "tests/e2e/test_run_faults.py"),
        "aiohttp silently re-sends a PUT whose connection dropped",
    ),
    "limiter-disabled": Mutant(
        "fleet/azure/throttle_policy.py",
        "        buckets = self.state.buckets.buckets_for(request_class, options.region)\n",
        "        buckets = []  # type: ignore[var-annotated]\n",
        (
            "tests/e2e/test_at_the_limit.py::"
            "test_at_the_write_limit_fleet_gets_no_429_where_no_limiter_gets_many",
        ),
        "no client-side token bucket: requests go as fast as fleet can send them",
    ),
    "headers-ignored": Mutant(
        "fleet/azure/limiter.py",
        "        self.model.answered(self._clock(), count, charged=charged)\n",
        "        self.model.answered(self._clock(), None, charged=charged)\n",
        ("tests/e2e/test_at_the_limit.py::test_a_drained_budget_is_learned_from_the_headers",),
        "the x-ms-ratelimit-remaining-* headers never re-sync the buckets",
    ),
    "stderr-dropped-from-group-key": Mutant(
        "fleet/report/groups.py",
        "        said = (normalize(result.output, result.target), normalize(result.error, "
        "result.target))\n",
        "        said = (normalize(result.output, result.target),)\n",
        ("tests/report/test_groups.py",),
        "output groups ignore stderr",
    ),
    "execution-state-upper-case": Mutant(
        "fleet/sim/runcommands.py",
        '"executionState": str(v.state),',
        '"executionState": str(v.state).upper(),',
        ("tests/sim/test_reference_examples.py",),
        "the emulator sends executionState in upper case",
    ),
    "exit-code-as-string": Mutant(
        "fleet/sim/runcommands.py",
        'iv["exitCode"] = v.exit_code',
        'iv["exitCode"] = str(v.exit_code)',
        ("tests/sim/test_reference_examples.py",),
        "the emulator sends exitCode as a string",
    ),
    "sdk-re-sends-action-posts": Mutant(
        "fleet/azure/action_commands.py",
        "fleet_region=target.location, **SEND_ONCE,",
        "fleet_region=target.location,",
        ("tests/azure/test_action_send_once.py",),
        "azure-core's RetryPolicy re-sends the action run command's POST after a 500, 503 or 504",
    ),
    "action-failure-reported-succeeded": Mutant(
        "fleet/azure/action_commands.py",
        '    state = "Succeeded" if out.exit_code == 0 else "Failed"\n',
        '    state = "Succeeded"\n',
        ("tests/azure/test_action_views.py", "tests/e2e/test_action_mode.py"),
        "an action run command is reported as Azure says it went (succeeded), whatever its "
        "exit code",
    ),
    "busy-re-post-unchecked": Mutant(
        "fleet/engine/execute.py",
        "attempts, unsure = attempts + launch.attempts, launch.unsure or doubt",
        "attempts, unsure = attempts + launch.attempts, doubt",
        ("tests/engine/test_action_engine.py",),
        "after a busy VM, a POST of unknown fate is sent again without asking Azure first",
    ),
    "gate-skipped-on-resume": Mutant(
        "fleet/engine/runner.py",
        "            if batch is not batches[-1] and not self._gated_before(batch):\n",
        "            if batch is not batches[-1] and not self._finished_before(batch):\n",
        ("tests/engine/test_resume_once.py",),
        "a run resumed between two batches skips the gate of the batch it finished",
    ),
}


def survives(name: str, mutant: Mutant) -> bool:
    """Apply ``mutant``, run its tests, restore; True if every test still passed."""
    path = ROOT / mutant.path
    original = path.read_text()
    if original.count(mutant.old) != 1:
        message = f"{name}: the text to replace is not in {mutant.path} exactly once"
        raise SystemExit(message)
    try:
        path.write_text(original.replace(mutant.old, mutant.new))
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        done = subprocess.run([*command, *mutant.tests], cwd=ROOT, check=False)
    finally:
        path.write_text(original)
    return done.returncode == 0


def main(names: list[str]) -> int:
    if not names:
        for name, mutant in MUTANTS.items():
            print(f"{name:32} {mutant.what}\n{'':32} caught by: {', '.join(mutant.tests)}")
        return 0
    chosen = list(MUTANTS) if names == ["all"] else names
    unknown = [n for n in chosen if n not in MUTANTS]
    if unknown:
        print(f"unknown mutant(s): {', '.join(unknown)}; see python -m tests.mutants")
        return 2
    survivors = [name for name in chosen if survives(name, MUTANTS[name])]
    for name in chosen:
        print(f"{'SURVIVED' if name in survivors else 'caught  '} {name}")
    return 1 if survivors else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
