"""What the guest-side run-command handler reports in the instance view, per OS.

Owns the handler's wording and exit codes: the in-flight view, the final messages, a timeout, a
``runAsUser`` that does not exist, and the dead-agent error Compute reports instead. Pure.

Linux follows the handler's source (Azure/run-command-handler-linux @ f95dc24, 1.3.28):

- In flight (``ProcessHandlerCommandWithDetails`` in
  ``internal/commandProcessor/commandProcessor.go``): ``executionState: Running``,
  ``executionMessage: "Execution in progress"``, ``exitCode: 0`` (``ExitCode`` is a plain
  ``int`` without ``omitempty`` in ``internal/types/instanceview.go``, so it is always on the
  wire), output and error empty.
- The output tail is refreshed by a 15-second ticker (``updateStatusInSeconds = 15`` in
  ``internal/cmds/cmds.go``), not continuously; the final view carries the whole tail.
- Success: ``Succeeded``, ``"Execution completed"``, exit code 0. A non-zero exit: ``Failed``,
  ``"Execution failed: " + err`` where ``err`` is ``runCmd``'s ``"failed to execute command: "``
  wrapped around ``Exec``'s ``"command terminated with exit status=N"`` (``internal/exec/exec.go``).
- Timeout: ``exec.CommandContext`` with ``timeoutInSeconds`` kills the script; Go reports a
  signalled process as exit status -1, so the view is ``Failed`` / ``-1``. ``TimedOut`` is
  declared in ``types/instanceview.go`` but never set. ``timeoutInSeconds: 0`` uses plain
  ``exec.Command``: no timeout at all.
- ``runAsUser`` that does not exist: ``user.Lookup`` fails and ``Exec`` returns
  ``ExitCode_RunAsLookupUserFailed`` (-102, ``internal/constants/exitcodes.go``) with the message
  built below, before the script runs (the view already carries a ``startTime``).
- An output or error blob it cannot create or replace (``createOrReplaceAppendBlob`` in
  ``internal/cmds/cmds.go``, before the script runs): ``ExitCode_BlobCreateOrReplaceFailed``
  (-101) and the message :func:`blob_create_failed` builds — the handler's advice, the blob URI
  (the handler gets the SAS apart, in protected settings, ``handlersettings/types.go``), its own
  wrap ("Creating or Replacing append blob failed.") and the storage client's error: the legacy
  Go SDK's ``AzureStorageServiceError`` text for an HTTP error, Go's ``*url.Error`` for a
  connection that failed — which quotes the request URL *with* its SAS query (Go strips only
  user:password), so the instance view of such a run carries the SAS and a client must redact it.

Windows: the handler is not public. The project's notes (``real-behaviour.md``) say a timeout is
reported ``TimedOut``; everything else here is an emulator convention, said where it is used:
no exit code and no message while running, exit code -1 on a timeout, an empty message at the
end, and a failed logon (Win32 ``ERROR_LOGON_FAILURE``, 1326) for an unknown ``runAsUser``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

LINUX_IN_PROGRESS = "Execution in progress"
LINUX_COMPLETED = "Execution completed"
SIGNALLED_EXIT_CODE = -1  # Go's WaitStatus.ExitStatus() for a killed process
BLOB_CREATE_FAILED = -101  # ExitCode_BlobCreateOrReplaceFailed
RUN_AS_LOOKUP_FAILED = -102  # ExitCode_RunAsLookupUserFailed
WINDOWS_LOGON_FAILURE = 1326  # ERROR_LOGON_FAILURE (emulator convention, see module docstring)
REFRESH_S = 15.0  # updateStatusInSeconds


def linux_failed(exit_code: int) -> str:
    """The Linux handler's message for a script that ended with a non-zero status."""
    return (
        "Execution failed: failed to execute command: "
        f"command terminated with exit status={exit_code}"
    )


def windows_timed_out(timeout_s: float) -> str:
    return f"The script did not finish within {timeout_s:g} seconds and was stopped."


@dataclass(frozen=True)
class StartFailure:
    """The handler refused to run the script (e.g. an unknown ``runAsUser``)."""

    exit_code: int
    message: str


def unknown_user(os_name: str, user: str) -> StartFailure:
    """The failure an unknown ``runAsUser`` causes on ``os_name``."""
    if os_name == "windows":
        message = (
            f"Execution failed: Failed to start the script as user '{user}': The user name or "
            "password is incorrect."
        )
        return StartFailure(WINDOWS_LOGON_FAILURE, message)
    lookup = (
        f"Failed to lookup RunAs user '{user}'. Looks like user does not exist. For RunAs to work "
        "properly, contact admin of VM and make sure RunAs user is added on the VM and user has "
        "access to resources accessed by the Run Command (Directories, Files, Network etc.). "
        "Refer: https://aka.ms/RunCommandManagedLinux"
    )
    message = f"Execution failed: failed to execute command: {lookup}: user: unknown user {user}"
    return StartFailure(RUN_AS_LOOKUP_FAILED, message)


_BLOB_ADVICE = (
    "Error creating AppendBlob '{uri}' using SAS token or Managed identity. Please use a valid "
    "blob SAS URI with [read, append, create, write] permissions OR managed identity. If managed "
    "identity is used, make sure Azure blob and identity exist, and identity has been given "
    "access to storage blob's container with 'Storage Blob Data Contributor' role assignment. In "
    "case of user-assigned identity, make sure you add it under VM's identity and provide "
    "outputBlobUri / errorBlobUri and corresponding clientId in outputBlobManagedIdentity / "
    "errorBlobManagedIdentity parameter(s). In case of system-assigned identity, do not use "
    "outputBlobManagedIdentity / errorBlobManagedIdentity parameter(s). For more info, refer "
    "https://aka.ms/RunCommandManagedLinux"
)


def blob_create_failed(uri_without_sas: str, cause: str) -> StartFailure:
    """The failure of a run whose output or error blob could not be created or replaced;
    ``cause`` is the storage client's error text (see the module docstring)."""
    advice = _BLOB_ADVICE.format(uri=uri_without_sas)
    message = f"Execution failed: {advice}: Creating or Replacing append blob failed.: {cause}"
    return StartFailure(BLOB_CREATE_FAILED, message)


def storage_service_error(status: int, code: str, message: str, request_id: str) -> str:
    """``AzureStorageServiceError.Error()`` of the legacy Go storage SDK (azure-sdk-for-go
    ``storage/client.go``), for an HTTP error from the storage account."""
    return (
        f"storage: service returned error: StatusCode={status}, ErrorCode={code}, "
        f"ErrorMessage={message}, RequestInitiated=, RequestId={request_id}, API Version=, "
        "QueryParameterName=, QueryParameterValue="
    )


def connection_error(method: str, url: str, reason: str) -> str:
    """Go's ``*url.Error`` text for a request that got no response (the URL as sent)."""
    return f'{method} "{url}": {reason}'


def dead_agent_message(vm_name: str) -> str:
    """Compute's ``VMAgentStatusCommunicationError`` text (azure-xplat-cli#2794,
    azure-powershell#5741 and #5838 quote it verbatim)."""
    return (
        f"VM '{vm_name}' has not reported status for VM agent or extensions. Please verify the "
        "VM has a running VM agent, and can establish outbound connections to Azure storage."
    )


def refreshed_at(elapsed: float, refresh_s: float) -> float:
    """Seconds of run time the instance view reflects ``elapsed`` seconds after the start:
    the last tick of the handler's status ticker (0 before the first one)."""
    if refresh_s <= 0:
        return max(0.0, elapsed)
    return max(0.0, math.floor(elapsed / refresh_s + 1e-9) * refresh_s)
