"""What runs on a target: ``ScriptSpec`` (per-OS sources, parameters, run-as, timeout)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from fleet.model.secret import Secret

#: How long fleet lets a script with ``timeoutInSeconds: 0`` run before calling it wedged. The
#: Linux handler then sets no timeout at all (run-command-handler-linux exec.go); the docs
#: ("run-command-managed") speak of a 90-minute default without saying which layer applies it.
NO_TIMEOUT_LIMIT_S = 5400


def run_limit_s(timeout_s: int) -> int:
    """The longest a script may run: its timeout, or 90 minutes for ``timeout: 0``."""
    return timeout_s if timeout_s > 0 else NO_TIMEOUT_LIMIT_S


class SourceKind(StrEnum):
    INLINE = "script"
    URI = "scriptUri"
    COMMAND_ID = "commandId"


@dataclass(frozen=True)
class ScriptSource:
    kind: SourceKind
    value: str  # the script text, the URI or the command id

    def __repr__(self) -> str:
        # a script URI may carry a SAS token and a script may embed credentials: never print them
        shown = self.value if self.kind is SourceKind.COMMAND_ID else f"<{len(self.value)} chars>"
        return f"ScriptSource({self.kind.value}={shown})"


@dataclass(frozen=True)
class Parameter:
    name: str
    value: str | Secret


@dataclass(frozen=True)
class ScriptSpec:
    default: ScriptSource | None  # used when there is no per-OS variant for a target
    linux: ScriptSource | None = None
    windows: ScriptSource | None = None
    parameters: tuple[Parameter, ...] = ()
    protected_parameters: tuple[Parameter, ...] = ()
    run_as_user: str | None = None
    run_as_password: Secret | None = None
    timeout_s: int = 600  # 0 = no handler timeout (``run_limit_s``)

    def source_for(self, os: str | None) -> ScriptSource | None:
        if os == "linux" and self.linux is not None:
            return self.linux
        if os == "windows" and self.windows is not None:
            return self.windows
        return self.default

    @property
    def sources(self) -> tuple[ScriptSource, ...]:
        """Every source the script has (default, linux, windows: those that are set)."""
        return tuple(s for s in (self.default, self.linux, self.windows) if s is not None)
