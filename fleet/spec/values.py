"""Scalar values of a job spec: durations, concurrency, names, tag and parameter values.

Pure parsers used as pydantic validators by ``fleet.spec.schema``. Each raises ``ValueError``
with a message saying what is wrong and how to fix it; none of them is ever given a secret.
``parse_duration`` is the one for library callers: it raises ``SpecError`` instead.
"""

from __future__ import annotations

import difflib
import re
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from pydantic import PlainValidator

from fleet.errors import SpecError
from fleet.model import Amount, Cleanup, Concurrency, Mode, Order, Reboot

MAX_TIMEOUT_S = 86_400
DURATION_HINT = 'use 600, "90s", "10m", "1h" or "7d"'
_DURATION = re.compile(r"^(?:(\d{1,6})d)?(?:(\d{1,6})h)?(?:(\d{1,6})m)?(?:(\d{1,6})s)?$")
_JOB_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
_PARAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_RG_NAME = re.compile(r"^[-\w.()]{0,89}[-\w()]$")

#: The documented built-in run command ids (docs "run-command", the 2025-04-01 catalog
#: example) and the OS each exists on: a per-OS variant naming one of the other OS is refused
#: while the spec is read. Whether an id exists is decided by Azure's catalog of the targets'
#: locations at plan time (``fleet.api.command_check``): Azure adds commands.
COMMAND_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
BUILTIN_COMMANDS: dict[str, str] = {
    "RunShellScript": "linux",
    "ifconfig": "linux",
    "RunPowerShellScript": "windows",
    "IPConfig": "windows",
    "EnableRemotePS": "windows",
    "EnableAdminAccount": "windows",
    "DisableNLA": "windows",
    "DisableWindowsUpdate": "windows",
    "EnableWindowsUpdate": "windows",
    "IMDSCertCheck": "windows",
    "RDPSettings": "windows",
    "ResetAccountPassword": "windows",
    "ResetRDPCert": "windows",
    "SetRDPPort": "windows",
    "EnableEMS": "windows",
    "Windows_WindowsActivation_Validation": "windows",
    "RemoveRunCommandLinuxExtension": "linux",
    "RemoveRunCommandWindowsExtension": "windows",
}


def _seconds(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{value!r} is not a duration — {DURATION_HINT}")
    if isinstance(value, int):
        return value
    text = value.strip()
    match = _DURATION.match(text) if text else None
    if text.isdigit() and len(text) <= 12:
        return int(text)
    if match is not None and any(match.groups()):
        days, hours, minutes, secs = (int(part or 0) for part in match.groups())
        return days * 86400 + hours * 3600 + minutes * 60 + secs
    raise ValueError(f"{value!r} is not a duration — {DURATION_HINT}")


def parse_duration(value: str | int) -> int:
    """A script timeout in seconds from ``600``, ``"90s"``, ``"10m"``, ``"1h"``, ``"1h30m"``
    (``0``: no timeout); ``SpecError`` if not."""
    try:
        return _timeout(value)
    except ValueError as exc:
        raise SpecError(str(exc)) from None


def parse_age(value: str | int, flag: str) -> int:
    """An age in seconds (``"7d"``, ``"12h"``, ``3600``) for ``flag``; ``SpecError`` if not."""
    try:
        return parse_span(value, minimum=0, maximum=3650 * 86400, what=f"{flag}")
    except ValueError as exc:
        raise SpecError(f"{flag}: {exc}") from None


def _timeout(value: Any) -> int:
    """Seconds from ``600``, ``"600"``, ``"90s"``, ``"10m"``, ``"1h"`` or ``"1h30m"``; 0..86400.
    0 sends ``timeoutInSeconds: 0``: Azure's handler sets no timeout (fleet still reports the
    script Wedged once it has run 90 minutes plus the grace)."""
    seconds = _seconds(value)
    if not 0 <= seconds <= MAX_TIMEOUT_S:
        message = (
            f"{value!r} is out of range — a timeout is 1 second to 24h ({MAX_TIMEOUT_S}), or 0 "
            "for none"
        )
        raise ValueError(message)
    return seconds


def parse_span(value: Any, *, minimum: int, maximum: int, what: str) -> int:
    """Like :func:`_timeout` for rollout times: ``what`` names the range's meaning."""
    seconds = _seconds(value)
    if not minimum <= seconds <= maximum:
        shown = f"{format_duration(minimum)} to {format_duration(maximum)}"
        raise ValueError(f"{value!r} is out of range — {what} is {shown}")
    return seconds


def _pause(value: Any) -> int:
    return parse_span(value, minimum=0, maximum=MAX_TIMEOUT_S, what="a pause or grace period")


def _pending_timeout(value: Any) -> int:
    return parse_span(value, minimum=1, maximum=MAX_TIMEOUT_S, what="a pending timeout")


def _deadline(value: Any) -> int:
    return parse_span(value, minimum=1, maximum=7 * MAX_TIMEOUT_S, what="a deadline")


def _amount(value: Any, hint: str, *, minimum: int, noun: str | None = None) -> Amount:
    """A count >= ``minimum`` or a percentage; ``noun`` names the value in messages."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{value!r} is not {noun or 'a number or percentage'} — {hint}")
    text = str(value).strip()
    if text.endswith("%"):
        try:
            percent = float(text[:-1])
        except ValueError:
            raise ValueError(f"{value!r} is not a percentage — {hint}") from None
        if not (minimum == 0 and percent == 0) and not 0 < percent <= 100:
            raise ValueError(f"{value!r} is out of range — a percentage is above 0 and <= 100")
        return Amount(percent=percent)
    if not (text.isdigit() and len(text) <= 9) or int(text) < minimum:
        raise ValueError(f"{value!r} is not {noun or 'valid here'} — {hint}")
    return Amount(count=int(text))


def parse_batch_size(value: Any) -> Amount:
    """``5`` → 5 targets; ``"10%"`` → 10 % of the targets, rounded up (at least 1)."""
    hint = 'use a whole number >= 1 (e.g. 5) or a percentage in quotes (e.g. "10%")'
    return _amount(value, hint, minimum=1)


def parse_max_errors(value: Any) -> Amount:
    """``0``..``N`` failures, or ``"5%"`` of the targets, rounded down."""
    hint = 'use a whole number >= 0 (e.g. 2) or a percentage in quotes (e.g. "5%")'
    return _amount(value, hint, minimum=0)


E = TypeVar("E", bound=StrEnum)


def _choice(value: Any, choices: type[E], noun: str) -> E:
    """One of ``choices``' values (any case); else a message with the closest one."""
    known = [c.value for c in choices]
    if isinstance(value, str) and value.strip().lower() in known:
        return choices(value.strip().lower())
    close = difflib.get_close_matches(str(value), known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise ValueError(f"{value!r} is not {noun} — {hint}(one of: {', '.join(known)})")


def parse_order(value: Any) -> Order:
    return _choice(value, Order, "an order")


def parse_cleanup(value: Any) -> Cleanup:
    return _choice(value, Cleanup, "a cleanup policy")


def parse_mode(value: Any) -> Mode:
    return _choice(value, Mode, "a mode")


def parse_reboot(value: Any) -> Reboot:
    return _choice(value, Reboot, "a reboot policy")


def _reboot_timeout(value: Any) -> int:
    # a VM takes about a minute to come back; a day is past anything Azure keeps trying
    return parse_span(value, minimum=60, maximum=MAX_TIMEOUT_S, what="a reboot timeout")


def _regex(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("must be a non-empty regular expression")
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"{value!r} is not a regular expression: {exc}") from None
    return value


def format_duration(seconds: int) -> str:
    """The shortest text :func:`parse_duration` reads back as ``seconds``: 5400 → ``"1h30m"``."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(hours, "h"), (minutes, "m"), (secs, "s")]
    return "".join(f"{n}{unit}" for n, unit in parts if n) or "0s"


def parse_concurrency(value: Any) -> Concurrency:
    """``50`` / ``"50"`` → 50 targets at once; ``"10%"`` → 10 % of the selected targets."""
    hint = 'use a whole number >= 1 (e.g. 50) or a percentage in quotes (e.g. "10%")'
    amount = _amount(value, hint, minimum=1, noun="a concurrency")
    return Concurrency(count=amount.count, percent=amount.percent)


def _text(value: Any, what: str) -> str:
    # YAML reads yes/no/true/1.5 as non-strings; tag and parameter values are text in Azure.
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"{what} must be text (got {value!r}) — put it in quotes")


def _tag_values(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list):
        return tuple(_text(item, "a tag value") for item in value)
    return (_text(value, "a tag value"),)


def _job_name(value: Any) -> str:
    if not isinstance(value, str) or not _JOB_NAME.match(value):
        message = (
            f"{value!r} is not a job name — use 1 to 40 lowercase letters, digits and "
            "hyphens, starting and ending with a letter or digit (e.g. health-check)"
        )
        raise ValueError(message)
    return value


def _guid(value: Any) -> str:
    if not isinstance(value, str) or not _GUID.match(value):
        raise ValueError(f"{value!r} is not a subscription id (a GUID)")
    return value.lower()


def _rg_name(value: Any) -> str:
    if not isinstance(value, str) or not _RG_NAME.match(value):
        raise ValueError(f"{value!r} is not a resource group name")
    return value


def _glob(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        raise ValueError(f"{value!r} is not a name pattern (e.g. web-*, db-0?)")
    return value


def _param_name(value: Any) -> str:
    if not isinstance(value, str) or not _PARAM_NAME.match(value):
        message = f"{value!r} is not a parameter name — use letters, digits and _, e.g. LOG_DIR"
        raise ValueError(message)
    return value


def _list_param_name(value: Any) -> str:
    # In list form an empty name is allowed: Linux passes it as a positional argument.
    return "" if value == "" else _param_name(value)


def _exit_code(value: Any) -> int:
    # Linux exit codes are 0-255; Windows' are 32-bit (signed in PowerShell, unsigned in Win32).
    if isinstance(value, bool) or not isinstance(value, int) or not -(2**31) <= value < 2**32:
        raise ValueError(f"{value!r} is not an exit code (a whole number, e.g. 0 or 100)")
    return value


def _nonblank(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be non-empty text")
    return value


Duration = Annotated[int, PlainValidator(_timeout)]
TagValues = Annotated[tuple[str, ...], PlainValidator(_tag_values)]
TagFilter = dict[Annotated[str, PlainValidator(_nonblank)], TagValues]
ParamName = Annotated[str, PlainValidator(_param_name)]
ParamValue = Annotated[str, PlainValidator(lambda v: _text(v, "a parameter value"))]
Glob = Annotated[str, PlainValidator(_glob)]
NonBlank = Annotated[str, PlainValidator(_nonblank)]
JobName = Annotated[str, PlainValidator(_job_name)]
SubscriptionId = Annotated[str, PlainValidator(_guid)]
ResourceGroupName = Annotated[str, PlainValidator(_rg_name)]
ListParamName = Annotated[str, PlainValidator(_list_param_name)]
ConcurrencyValue = Annotated[Concurrency, PlainValidator(parse_concurrency)]
Pause = Annotated[int, PlainValidator(_pause)]
Deadline = Annotated[int, PlainValidator(_deadline)]
PendingTimeout = Annotated[int, PlainValidator(_pending_timeout)]
RebootValue = Annotated[Reboot, PlainValidator(parse_reboot)]
RebootTimeout = Annotated[int, PlainValidator(_reboot_timeout)]
CleanupValue = Annotated[Cleanup, PlainValidator(parse_cleanup)]
BatchSize = Annotated[Amount, PlainValidator(parse_batch_size)]
MaxErrors = Annotated[Amount, PlainValidator(parse_max_errors)]
OrderValue = Annotated[Order, PlainValidator(parse_order)]
ModeValue = Annotated[Mode, PlainValidator(parse_mode)]
Regex = Annotated[str, PlainValidator(_regex)]
ExitCode = Annotated[int, PlainValidator(_exit_code)]
