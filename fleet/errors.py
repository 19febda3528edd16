"""fleet's one error tree. Exceptions mean the run cannot continue; a failed script on one VM
is data in the report, never an exception.

    FleetError
    ├── SpecError          bad job spec / flags / profile: exit code 2, nothing sent to Azure
    │   └── NothingSelected  the selection matched no VM (without --allow-empty): exit code 2
    ├── ConnectionSetupError  no credentials, bad endpoint or CA file: exit code 2
    ├── SelectionError     Azure refused the target selection (e.g. bad KQL): exit code 2
    ├── AzureAccessError   Azure could not be reached, or refused fleet's identity: network,
    │                      TLS, access token, RBAC, unknown subscription: exit code 4
    ├── ReportWriteError   the report file could not be written (the run itself is journaled):
    │                      exit code 5
    ├── JournalError       the run journal cannot be read or written (corrupt or foreign file,
    │   │                  read-only directory, disk full, newer schema): exit code 3
    │   ├── JournalLocked  another live process is writing this run: exit code 3
    │   └── UnknownRun     no run with that id in the journal: exit code 2
    └── ServiceLocked      another ``fleet serve`` holds the state directory: exit code 3

Exit codes (README "Exit codes"): 0 every target succeeded, 1 some target failed, 2 bad input
(nothing sent), 3 the run did not complete or the journal failed, 4 Azure unreachable or access
refused, 5 the report could not be written, 70 a bug in fleet (``--debug`` shows where), 130
interrupted before anything was sent or by a third Ctrl-C.

A run that stops early (error budget, gate, deadline, Ctrl-C) is not an error either: the report
says how it ended (``RunReport.ended``) and the exit code is 3 (``exit_code_for``).

Build the message in a variable, then raise; messages never contain secret values.
"""

from __future__ import annotations


class FleetError(Exception):
    """Base of every error fleet raises on purpose."""

    exit_code = 3


class SpecError(FleetError):
    """The job spec, a CLI flag or a config file is invalid. Says what, where and how to fix."""

    exit_code = 2


class ConnectionSetupError(FleetError):
    """fleet cannot talk to Azure as configured (credentials, endpoint, CA certificate)."""

    exit_code = 2


class SelectionError(FleetError):
    """Azure rejected the target selection (for example an unsupported Resource Graph query)."""

    exit_code = 2


class NothingSelected(SpecError):
    """The selection matched no VM or instance (a typo in a tag stays red, not green)."""

    exit_code = 2


class AzureAccessError(FleetError):
    """fleet could not use Azure at all: the endpoint is unreachable, its TLS certificate is not
    trusted, the access token is refused, the identity lacks the role, or the subscription is
    unknown. Nothing was written to Azure."""

    exit_code = 4


class ReportWriteError(FleetError):
    """The report file could not be written (disk full, a device that refuses writes)."""

    exit_code = 5


class JournalError(FleetError):
    """The run journal (SQLite state file) cannot be opened, read or written safely."""

    exit_code = 3


class JournalLocked(JournalError):
    """A second writer tried to write a run another live process is writing."""

    exit_code = 3


class UnknownRun(JournalError):
    """The journal has no run with the requested id."""

    exit_code = 2


class ServiceLocked(FleetError):
    """A second ``fleet serve`` tried to schedule a state directory another one holds."""

    exit_code = 3
