"""What a job's ``mode`` allows (pure): the action run command (``POST .../runCommand``) takes a
``RunCommandInput`` — ``commandId``, ``script`` lines and ``parameters`` — and nothing else
(spec ``RunCommandInput``), and Azure stops it after 90 minutes (docs "run-command",
"Restrictions"). So in ``mode: action`` a script URI, protected parameters, a run-as user and
a timeout over 90 minutes are refused before anything is sent, for the job's script and every
health gate's; so is a ``cleanup`` policy, as an action run command leaves no run command
resource to delete, and so is ``output:`` (full outputs through append blobs): the input has
no ``outputBlobUri``/``errorBlobUri`` — those are properties of a managed run command (spec
``VirtualMachineRunCommandProperties``) — and the action's output is only the last 4 KB its
operation returns. Managed mode allows everything the schema does.
"""

from __future__ import annotations

from fleet.model import Cleanup, Mode
from fleet.spec.problems import Loc, Problem
from fleet.spec.schema import Job, Script, Source

ACTION_MAX_S = 5400  # Azure stops an action run command after 90 minutes
_WHY = "an action run command (mode: action) takes only commandId, script and parameters"


def mode_problems(job: Job) -> list[Problem]:
    """Everything ``job`` asks for that its mode cannot do, with where it is."""
    if job.mode is not Mode.ACTION:
        return []
    problems = _script_problems(job.script, ("script",))
    if job.rollout.cleanup is not Cleanup.KEEP_LAST:
        message = (
            "an action run command (mode: action) leaves no run command on the VM, so there "
            "is nothing to clean up — remove cleanup, or use mode: managed"
        )
        problems.append((("rollout", "cleanup"), message))
    if job.output is not None:
        message = (
            f"{_WHY}: no output blobs (outputBlobUri/errorBlobUri belong to managed run "
            "commands), so full outputs cannot be kept — remove output (or "
            "--output-container/--completion), or use mode: managed"
        )
        problems.append((("output",), message))
    for index, gate in enumerate(job.rollout.gates()):
        listed = isinstance(job.rollout.health_gate, list)
        at: Loc = ("rollout", "health_gate", index) if listed else ("rollout", "health_gate")
        problems += _script_problems(gate.script, (*at, "script"))
    return problems


def _script_problems(script: Script, loc: Loc) -> list[Problem]:
    problems: list[Problem] = []
    sources: list[tuple[Loc, Source]] = [(loc, script)]
    sources += [
        ((*loc, os), v)
        for os, v in (("linux", script.linux), ("windows", script.windows))
        if v is not None
    ]
    for where, source in sources:
        if source.uri:
            message = f"{_WHY}: no script URI — use inline or file, or mode: managed"
            problems.append(((*where, "uri"), message))
    if script.protected_parameters:
        message = (
            f"{_WHY}: no protected parameters (they would travel as plain ones) — use mode: managed"
        )
        problems.append(((*loc, "protected_parameters"), message))
    if script.run_as is not None:
        message = f"{_WHY}: no run-as user (it runs as root / SYSTEM) — use mode: managed"
        problems.append(((*loc, "run_as"), message))
    if script.timeout > ACTION_MAX_S:
        message = (
            f"{script.timeout} s is longer than an action run command may run (Azure stops it "
            f"after 90 minutes, {ACTION_MAX_S} s) — shorten it or use mode: managed"
        )
        problems.append(((*loc, "timeout"), message))
    return problems
