"""One ARM call's vocabulary: what a run-command PUT (or action POST) carries (``Invocation``),
what Azure says when it accepts one (``Launched``), what a read returns (``RunView``) and how a
call fails (``CallError``), plus ``RUN_ID_PARAMETER``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fleet.model.output import OutputBlobs
from fleet.model.script import Parameter, ScriptSource
from fleet.model.secret import Secret

#: The parameter every PUT carries with the run id: Azure does not re-run a PUT whose body is
#: identical to the current one, and a read tells this run's command from an earlier run's.
RUN_ID_PARAMETER = "FLEET_RUN_ID"


@dataclass(frozen=True)
class Invocation:
    """What one managed run command PUT carries for one target (built per target OS)."""

    run_command: str  # resource name, stable per job so reruns update instead of piling up
    run_id: str  # passed as parameter FLEET_RUN_ID so a rerun really re-executes
    source: ScriptSource
    parameters: tuple[Parameter, ...] = ()
    protected_parameters: tuple[Parameter, ...] = ()
    run_as_user: str | None = None
    run_as_password: Secret | None = None
    timeout_s: int = 600  # 0 = no handler timeout (see ``script.run_limit_s``)
    job: str = ""  # the job (or gate) it runs, for the fleet-job tag of fleet's marker
    output_blobs: OutputBlobs | None = None  # outputBlobUri / errorBlobUri


@dataclass(frozen=True)
class Launched:
    """Azure accepted a launch. ``handle`` is where its outcome is read when that is not the
    run command's name: an action run command's operation (its ``Azure-AsyncOperation`` URL).
    A managed run command needs none (``RunCommands.put`` may return None instead)."""

    handle: str | None = None


@dataclass(frozen=True)
class RunView:
    """A run command's state as Azure reports it (instance view)."""

    execution_state: str  # Unknown | Pending | Running | Failed | Succeeded | TimedOut | Canceled
    provisioning_state: str | None = None
    exit_code: int | None = None
    output: str = ""
    error: str = ""
    message: str = ""
    start_time: datetime | None = None
    end_time: datetime | None = None
    run_id: str | None = None  # the FLEET_RUN_ID parameter found on the resource
    # True when the answer cannot say which run it belongs to (run_id None then proves
    # nothing): an action run command's extension status while a command is in progress, or
    # one that finished without fleet's exit-code marker. Managed run commands never set it.
    owner_unknown: bool = False

    @property
    def terminal(self) -> bool:
        return self.execution_state in ("Succeeded", "Failed", "TimedOut", "Canceled")


@dataclass(frozen=True)
class CallError:
    """An ARM (or storage) call that did not succeed: HTTP status (0 = no response) and the
    service's error code. ``busy``: the target refused it because another command is running
    there (an action run command's 409): nothing ran, so it may be sent again once the target
    is free."""

    status: int
    code: str
    message: str
    busy: bool = False

    @property
    def transient(self) -> bool:
        return self.status in (0, 408, 500, 502, 503, 504)
