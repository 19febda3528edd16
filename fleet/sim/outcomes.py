"""What a run command's script does on a simulated VM: when it starts, how long, what it prints.

The VM's outcome *class* (ok, disk-full, ...) depends only on (seed, VM), so the same odd VMs
fail on every run, whatever the script. *Which* script runs decides what the class means: a
profile's ``script.behaviours`` recognise scripts by run-command name, marker text or SHA-256
and say what each class does for them (a patch prints package updates and exits 100 "reboot
required" on a share of the healthy VMs; a remediation prints its fix); a script none matches
gets ``script.unknown``: the profile's outcome classes, or a generic, clearly simulated output
echoing what was asked (never a protected parameter's value). Timings depend on (seed, VM,
execution sequence number). Output comes from templates filled with facts that are stable per
VM (hostname, kernel, uptime, disk use, ...). Pure: no I/O, no clock; the run-command layer
turns a ``PlannedRun`` into states.
"""

from __future__ import annotations

import fnmatch
import hashlib
import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from fleet.sim.inventory import name_matches, seeded_rng
from fleet.sim.job_outputs import SHIPPED, package_facts
from fleet.sim.model import SimVm
from fleet.sim.profile import Profile
from fleet.sim.profile_sections import Behaviour, Distribution, Outcome

GENERIC = "generic"
_GENERIC_OUTPUT = """\
[simulated] {hostname}: run command '{run_command}' accepted by the fleet emulator
[simulated] script: {script_first_line}
[simulated] parameters: {parameters}
[simulated] nothing was executed on a real machine; this output is generated
"""


@dataclass(frozen=True)
class PlannedRun:
    """The fate of one run-command execution, decided when it is created."""

    pending_s: float  # Azure-seconds from PUT until the agent starts the script
    duration_s: float  # Azure-seconds the script runs
    exit_code: int
    output: str  # full stdout (the run-command layer truncates to the last 4,096 bytes)
    error: str  # full stderr
    outcome: str = "ok"  # "<behaviour>/<outcome>" (or the class name), for ground truth


class OutcomeModel:
    """Plans script runs for a profile's ``script`` section and ``overrides`` (``outcome:``)."""

    def __init__(self, profile: Profile, seed: int) -> None:
        self._script = profile.script
        self._seed = seed
        self._outcomes = {o.name: o for o in profile.script.outcomes}
        self._forced = [(o.names, o.outcome) for o in profile.overrides if o.outcome is not None]
        given = profile.script.behaviours
        self._behaviours = list(SHIPPED) if given is None else list(given)
        self._classes: dict[str, str] = {}
        self._facts: dict[str, dict[str, str]] = {}
        self._runtime: list[tuple[tuple[str, ...], str | None]] = []  # PUT /_sim/outcomes

    def force(self, names: tuple[str, ...], outcome: str | None) -> None:
        """From now on, VMs matching the ``names`` globs get class ``outcome`` (None: their
        profile class again) — a VM that starts failing, or recovers, between two runs."""
        if outcome is not None and outcome not in self._outcomes:
            known = ", ".join(self._outcomes)
            raise ValueError(f"no outcome class {outcome!r} in this profile (known: {known})")
        self._runtime.append((names, outcome))

    def forced(self) -> list[dict[str, object]]:
        return [{"names": list(names), "outcome": outcome} for names, outcome in self._runtime]

    def outcome_class(self, vm: SimVm) -> str:
        """The VM's outcome class: set at run time (``force``), else forced by the last
        matching override, else drawn by weight."""
        for names, outcome in reversed(self._runtime):
            if name_matches(vm.name, names):
                if outcome is not None:
                    return outcome
                break
        cached = self._classes.get(vm.key)
        if cached is not None:
            return cached
        chosen = None
        for globs, forced in self._forced:
            if name_matches(vm.name, globs):
                chosen = forced
        if chosen is None:
            rng = seeded_rng(self._seed, "outcome", vm.key)
            names_ = list(self._outcomes)
            weights = [self._outcomes[n].weight for n in names_]
            chosen = rng.choices(names_, weights=weights)[0]
        self._classes[vm.key] = chosen
        return chosen

    def plan(
        self,
        vm: SimVm,
        script: str,
        execution_seq: int,
        *,
        name: str = "",
        parameters: tuple[str, ...] = (),
        protected: tuple[str, ...] = (),
    ) -> PlannedRun:
        behaviour = self.behaviour_for(name, script)
        outcome, label = self._outcome(vm, behaviour)
        rng = seeded_rng(self._seed, "run", vm.key, execution_seq)
        pending = draw(rng, self._script.pending)
        duration = draw(rng, outcome.duration or self._script.duration)
        shown = [*parameters, *(f"{p} (protected)" for p in protected)]
        facts = {
            **self.facts(vm),
            "script_first_line": first_line(script),
            "exit_code": str(outcome.exit_code),
            "run_command": name,
            "parameters": ", ".join(shown) or "(none)",
        }
        output, error = _templates(outcome, vm.os)
        return PlannedRun(
            pending_s=pending,
            duration_s=duration,
            exit_code=outcome.exit_code,
            output=output.format_map(facts),
            error=error.format_map(facts),
            outcome=label,
        )

    def behaviour_for(self, name: str, script: str) -> Behaviour | str | None:
        """The first behaviour that recognises the script, else ``GENERIC`` or None (the
        profile's outcome classes), as ``script.unknown`` says."""
        digest = hashlib.sha256(script.encode("utf-8")).hexdigest()
        for behaviour in self._behaviours:
            match = behaviour.match
            if (
                any(fnmatch.fnmatchcase(name.lower(), g.lower()) for g in match.run_commands)
                or any(marker in script for marker in match.contains)
                or digest in {h.lower() for h in match.sha256}
            ):
                return behaviour
        return GENERIC if self._script.unknown == GENERIC else None

    def _outcome(self, vm: SimVm, behaviour: Behaviour | str | None) -> tuple[Outcome, str]:
        vm_class = self.outcome_class(vm)
        base = self._outcomes[vm_class]
        if behaviour is None:
            return base, vm_class
        if isinstance(behaviour, Behaviour) and not behaviour.outcomes:
            return base, f"{behaviour.name}/{vm_class}"
        if behaviour == GENERIC:
            update: dict[str, object] = {"output": _GENERIC_OUTPUT, "windows_output": None}
            if base.exit_code != 0:  # say what failed, then the class's own error text
                note = f"[simulated] the script fails on this VM (class '{vm_class}'):\n"
                update["error"] = note + base.error
                update["windows_error"] = note + (base.windows_error or base.error)
            generic = base.model_copy(update=update)
            return generic, f"{GENERIC}/{vm_class}"
        assert isinstance(behaviour, Behaviour)
        mine = [o for o in behaviour.outcomes if behaviour.class_of(o) == vm_class]
        if not mine:
            first = behaviour.class_of(behaviour.outcomes[0])
            mine = [o for o in behaviour.outcomes if behaviour.class_of(o) == first]
        weights = [o.weight for o in mine]
        chosen = mine[0]
        if len(mine) > 1 and sum(weights) > 0:
            rng = seeded_rng(self._seed, "behaviour", behaviour.name, vm.key)
            chosen = rng.choices(mine, weights=weights)[0]
        return chosen, f"{behaviour.name}/{chosen.name}"

    def facts(self, vm: SimVm) -> dict[str, str]:
        """Template values for a VM, stable across runs (see ``PLACEHOLDERS``)."""
        cached = self._facts.get(vm.key)
        if cached is None:
            cached = vm_facts(seeded_rng(self._seed, "facts", vm.key), vm)
            self._facts[vm.key] = cached
        return cached


def _templates(outcome: Outcome, os: str) -> tuple[str, str]:
    if os == "windows":
        output = outcome.output if outcome.windows_output is None else outcome.windows_output
        error = outcome.error if outcome.windows_error is None else outcome.windows_error
        return output, error
    return outcome.output, outcome.error


def draw(rng: random.Random, dist: Distribution) -> float:
    """A log-normal sample around ``median`` with log-sd ``sigma``, clamped to [min, max]."""
    value = dist.median * math.exp(dist.sigma * rng.gauss(0.0, 1.0))
    return min(max(value, dist.min), dist.max)


def first_line(script: str) -> str:
    """The first non-blank line that is not a ``#!`` line, trimmed to 120 characters."""
    for line in script.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#!"):
            return stripped[:120]
    return ""


# (OS name, draws a plausible kernel / build release for it)
_OsRelease = tuple[str, Callable[[random.Random], str]]

_LINUX: tuple[_OsRelease, ...] = (
    ("Ubuntu 22.04.4 LTS", lambda r: f"5.15.0-{r.randint(1050, 1075)}-azure"),
    ("Ubuntu 24.04.1 LTS", lambda r: f"6.8.0-{r.randint(1010, 1021)}-azure"),
    ("Ubuntu 20.04.6 LTS", lambda r: f"5.15.0-{r.randint(1040, 1068)}-azure"),
    (
        "Red Hat Enterprise Linux 9.4 (Plow)",
        lambda r: f"5.14.0-427.{r.randint(13, 42)}.1.el9_4.x86_64",
    ),
    ("Debian GNU/Linux 12 (bookworm)", lambda r: f"6.1.0-{r.randint(18, 28)}-cloud-amd64"),
)
_WINDOWS: tuple[_OsRelease, ...] = (
    ("Windows Server 2022 Datacenter", lambda r: f"10.0.20348.{r.randint(2340, 2966)}"),
    ("Windows Server 2019 Datacenter", lambda r: f"10.0.17763.{r.randint(5458, 6414)}"),
    ("Windows Server 2025 Datacenter", lambda r: f"10.0.26100.{r.randint(1742, 2894)}"),
)


def vm_facts(rng: random.Random, vm: SimVm) -> dict[str, str]:
    """Plausible, VM-specific values for output templates."""
    os_name, kernel = rng.choice(_WINDOWS if vm.os == "windows" else _LINUX)
    size = rng.choice((127, 128) if vm.os == "windows" else (30, 64, 128, 256))
    disk_pct = rng.randint(8, 88)
    used = round(size * disk_pct / 100)
    load = sorted((round(rng.uniform(0.0, 1.8), 2) for _ in range(3)), reverse=True)
    release = kernel(rng)
    return {
        "hostname": vm.computer_name,
        "vm_name": vm.name,
        "resource_group": vm.resource_group,
        "location": vm.location,
        "zone": vm.zone or "-",
        "vm_size": vm.vm_size,
        "os": os_name,
        "kernel": release,
        "uptime": _uptime(rng),
        "load": ", ".join(f"{x:.2f}" for x in load),
        "cpu_pct": str(rng.randint(1, 85)),
        "mem_pct": str(rng.randint(15, 90)),
        "disk_pct": str(disk_pct),
        "disk_size_gb": str(size),
        "disk_used_gb": str(used),
        "disk_free_gb": str(size - used),
        "ip": f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(4, 254)}",
        **package_facts(os_name, release),
    }


def _uptime(rng: random.Random) -> str:
    days, hours, minutes = rng.randint(0, 180), rng.randint(0, 23), rng.randint(0, 59)
    clock = f"{hours}:{minutes:02d}"
    if days == 0:
        return f"up {clock}"
    return f"up {days} day{'s' if days != 1 else ''}, {clock}"
