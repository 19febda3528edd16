"""What the CLI says about a job before it runs: plain parameters whose names look secret (a
warning that points to ``--protected-param``), and a shell script given with flags that would
reach no target but Windows ones (refused) or leaves Windows targets out (a warning)."""

from __future__ import annotations

from fleet.cli.exits import err_console
from fleet.errors import SpecError
from fleet.model import RunPlan
from fleet.secrets import secret_looking_parameters
from fleet.spec import ParsedJob


def _warn(text: str) -> None:
    err_console.print(f"[bold yellow]warning:[/] {text}", highlight=False, soft_wrap=True)


def warn_plain_secrets(job: ParsedJob) -> None:
    """One warning per plain parameter whose name says PASSWORD, SECRET, TOKEN or KEY."""
    for name in secret_looking_parameters(job.spec):
        where = f"{job.spec.source}: script.parameters" if job.document.from_file else "--param"
        fix = (
            f"script.protected_parameters: {{{name}: {{env: VAR}}}}"
            if job.document.from_file
            else f"--protected-param {name}=env:VAR"
        )
        _warn(
            f"{where} {name} looks like a secret, but its value is sent, journaled and shown in "
            f"clear; use {fix} (the value is then read from the environment and never stored)."
        )


def _no_script_for(plan: RunPlan, os: str) -> int:
    return sum(
        1 for r in plan.skipped if r.target.os == os and (r.reason or "").startswith("the job has")
    )


def check_os_fit(plan: RunPlan, job: ParsedJob) -> None:
    """A shell script from flags goes to Linux targets only: say how many Windows targets are
    left out and how to include them; refuse when that leaves nothing to run."""
    if job.document.from_file:
        return  # a job file says per OS what runs (configs/jobs/patch.yaml: Linux only)
    windows, linux = _no_script_for(plan, "windows"), _no_script_for(plan, "linux")
    if not plan.targets and (windows or linux):
        missing = "--windows-script (PowerShell)" if windows else "--script (a shell script)"
        message = (
            f"nothing to run: the {windows + linux} selected running targets run "
            f"{'Windows' if windows else 'Linux'} and no script was given for them — pass "
            f"{missing}, or select other targets."
        )
        raise SpecError(message)
    if windows:
        _warn(
            f"{windows} selected targets run Windows: --script is a shell script and is not "
            "sent to them (reported Skipped). Add --windows-script '...' (PowerShell) to run "
            "there too, or leave them out with --exclude-tag / --exclude-name."
        )
