"""The user's fleet config file and the environment, as az users expect them: defaults for the
flags they would otherwise type every time.

``$FLEET_CONFIG``, else ``config.toml`` in the user config directory (platformdirs:
``~/.config/fleet/config.toml`` on Linux, ``~/Library/Application Support/fleet/config.toml``
on macOS)::

    subscriptions = ["11111111-1111-1111-1111-111111111111"]  # default --subscription (Azure)
    state_dir = "~/fleet-state"    # default --state-dir (FLEET_STATE_DIR wins over it)
    output = "table"               # default -o/--output: table, json or tsv

Precedence, highest first: the flag, the environment (``AZURE_SUBSCRIPTION_ID``,
``FLEET_STATE_DIR``), the config file, fleet's default. Subscriptions from the environment or
the file are for Azure: ``--sim`` searches the simulated fleet's own. A missing file is no
config; a bad one is a ``SpecError`` (exit code 2) naming the file, the line and the fix.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from fleet.errors import SpecError
from fleet.journal.paths import ENV_VAR as STATE_DIR_VAR

CONFIG_VAR = "FLEET_CONFIG"
SUBSCRIPTION_VAR = "AZURE_SUBSCRIPTION_ID"
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


class UserConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    subscriptions: tuple[str, ...] = ()
    state_dir: str | None = None
    output: Literal["table", "json", "tsv"] = "table"

    @field_validator("subscriptions")
    @classmethod
    def _guids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for sub in value:
            if not _GUID.match(sub):
                raise ValueError(f"{sub!r} is not a subscription id (a GUID)")
        return value


def config_path() -> Path:
    """Where the config file is (it need not exist)."""
    given = os.environ.get(CONFIG_VAR, "")
    if given:
        return Path(given).expanduser()
    return platformdirs.user_config_path("fleet", appauthor=False) / "config.toml"


def _line_of(text: str, key: str) -> int | None:
    pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
    return next((n for n, line in enumerate(text.splitlines(), 1) if pattern.match(line)), None)


def _problem(path: Path, text: str, err: Any) -> str:
    key = str(err["loc"][0]) if err["loc"] else ""
    line = _line_of(text, key) if key else None
    head = f"{path}:{line}" if line else str(path)
    if err["type"] == "extra_forbidden":
        return f"{head}: {key}: unknown setting — use subscriptions, state_dir or output"
    if err["type"] == "literal_error":
        return f"{head}: {key}: must be table, json or tsv"
    message = str(err["msg"]).removeprefix("Value error, ")
    return f"{head}: {key}: {message}"


def load_config(path: Path | None = None) -> UserConfig:
    """The user's config (defaults when there is no file)."""
    path = path or config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return UserConfig()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise SpecError(f"{path}: cannot read the fleet config file: {reason}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        line = found.group(1) if found else str(max(1, len(text.splitlines())))  # at the end
        head = f"{path}:{line}"
        what = re.sub(r"\s*\(at (line|end).*\)$", "", str(exc))
        message = f"{head}: not valid TOML: {what} (see README: the config file)"
        raise SpecError(message) from None
    try:
        return UserConfig.model_validate(raw)
    except ValidationError as exc:
        raise SpecError("\n".join(_problem(path, text, e) for e in exc.errors())) from None


def apply_defaults(kw: dict[str, Any], *, subscriptions: bool = True) -> UserConfig:
    """Fill ``--subscription`` (unless ``subscriptions`` is off: a recorded run keeps its own)
    and ``--state-dir`` in a command's parameters from the environment and the config file
    where the flags were not given; the config in force."""
    config = load_config()
    wants_subs = subscriptions and "subscription" in kw and not kw.get("sim")
    if wants_subs and not kw.get("subscription"):
        from_env = os.environ.get(SUBSCRIPTION_VAR, "").strip()
        kw["subscription"] = [from_env] if from_env else list(config.subscriptions)
    if "state_dir" in kw and kw.get("state_dir") is None and not os.environ.get(STATE_DIR_VAR):
        kw["state_dir"] = Path(config.state_dir).expanduser() if config.state_dir else None
    return config
