"""What runs on a target: ``ScriptSpec`` (per-OS sources, parameters, run-as, timeout)."""

from __future__ import annotations

import hashlib
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
    # exit codes that count as Succeeded (the report keeps the code), e.g. (0, 100) for a
    # patch that exits 100 "reboot required"
    success_exit_codes: tuple[int, ...] = (0,)

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

    def identities(self) -> tuple[ScriptIdentity, ...]:
        """What each variant sends, for the report: its kind and the SHA-256 of its text."""
        variants = (("default", self.default), ("linux", self.linux), ("windows", self.windows))
        return tuple(ScriptIdentity.of(name, src) for name, src in variants if src is not None)


@dataclass(frozen=True)
class ScriptIdentity:
    """One script variant as the report names it: ``sha256`` of an inline script's text (UTF-8),
    the command id of a built-in command; a URI is neither hashed nor shown (it may carry a
    SAS token, and what it serves can change)."""

    variant: str  # default | linux | windows
    kind: SourceKind
    sha256: str | None = None
    command_id: str | None = None

    @classmethod
    def of(cls, variant: str, source: ScriptSource) -> ScriptIdentity:
        if source.kind is SourceKind.INLINE:
            digest = hashlib.sha256(source.value.encode("utf-8")).hexdigest()
            return cls(variant, source.kind, sha256=digest)
        if source.kind is SourceKind.COMMAND_ID:
            return cls(variant, source.kind, command_id=source.value)
        return cls(variant, source.kind)
