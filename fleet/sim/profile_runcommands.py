"""The ``run_commands`` section of a fleet profile: the run-command service's rules (per-VM limit,
identical PUTs, output refresh, dead-agent delay, ``runAsUser`` accounts) and the run commands
already on the VMs when the emulator starts. Pure: no I/O. See ``rc_rules`` for the sources.

Example::

    run_commands:
      max_per_vm: 25                  # Azure's limit (MicrosoftDocs/azure-docs#117976)
      identical_put_reruns: false     # true: a PUT with an unchanged body runs the script again
      output_refresh_s: 15            # the Linux handler's status ticker (0 = continuous)
      agent_fail_after_s: 1522        # dead agent: the operation fails this long after the PUT
      users:                          # accounts besides root/azureuser (Linux), Administrator
        - {names: ["db-*"], users: [postgres]}
      existing:                       # already on the VMs at start
        - {names: ["web-*"], count: 3, name: "ops-backup-{i}", created_by: backup-tool}
        - {names: ["web-00*"], owner: fleet, count: 2, name: "fleet-old-job-{i}"}
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    Field,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    field_validator,
    model_validator,
)

from fleet.sim.profile_sections import Fraction, StrictModel, Text
from fleet.sim.rc_handler import REFRESH_S
from fleet.sim.rc_rules import (
    LINUX_USERS,
    MAX_RUN_COMMANDS,
    WINDOWS_USERS,
    RunCommandRules,
    UserDirectory,
)
from fleet.sim.rc_state import DEAD_AGENT_S

_NAME_HELP = "letters, digits, '-', '_' and '.', at most 64 characters once {i} is filled in"


class ExtraUsers(StrictModel):
    """Accounts that exist on the targets whose name matches a glob in ``names``."""

    names: Annotated[list[str], Field(min_length=1)]
    users: Annotated[list[Text], Field(min_length=1)]


class ExistingRunCommands(StrictModel):
    """``count`` run commands on a ``share`` of the targets matching ``names`` (globs, default
    all) and ``resource_groups`` (default any), finished ``age_s`` Azure-seconds before the
    emulator started. ``owner: other`` — another tool's, created by ``created_by``; ``owner:
    fleet`` — stale ones a previous fleet run left behind, with fleet's marker (name
    ``fleet-<job>`` and the tags ``fleet-managed``, ``fleet-job``, ``fleet-run-id``), created by
    ``created_by`` or, when unset, the profile's first principal. ``name`` is a pattern with
    ``{i}`` running 1..count; ``tags`` are added (an ``other`` one named ``fleet-x`` without
    fleet's tags is a look-alike, not fleet's)."""

    names: list[str] = ["*"]
    resource_groups: list[str] = []
    share: Fraction = 1.0
    count: PositiveInt = 1
    owner: Literal["other", "fleet"] = "other"
    name: str | None = None
    created_by: Text | None = None
    tags: dict[Text, Text] = {}
    script: str = "echo 'scheduled maintenance'"
    state: Literal["Succeeded", "Failed"] = "Succeeded"
    age_s: NonNegativeFloat = 86400.0

    @field_validator("name")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            sample = value.format(i=25)
        except (ValueError, KeyError, IndexError) as exc:
            raise ValueError(f"bad name pattern {value!r}: only {{i}} may be used") from exc
        if not sample or len(sample) > 64 or not all(c.isalnum() or c in "-_." for c in sample):
            raise ValueError(f"{sample!r} is not a valid run-command name ({_NAME_HELP})")
        return value

    @model_validator(mode="after")
    def _fleet_prefix(self) -> ExistingRunCommands:
        if self.owner == "fleet" and not self.pattern().lower().startswith("fleet-"):
            raise ValueError("fleet's run commands are named 'fleet-<job>': start name with fleet-")
        return self

    def pattern(self) -> str:
        if self.name is not None:
            return self.name
        return "fleet-old-job-{i}" if self.owner == "fleet" else "ops-script-{i}"


class RunCommandsSection(StrictModel):
    """How the run-command service behaves and what is already on the VMs (module docstring)."""

    max_per_vm: PositiveInt = MAX_RUN_COMMANDS
    identical_put_reruns: bool = False
    output_refresh_s: NonNegativeFloat = REFRESH_S
    agent_fail_after_s: PositiveFloat = DEAD_AGENT_S
    linux_users: list[Text] = list(LINUX_USERS)
    windows_users: list[Text] = list(WINDOWS_USERS)
    users: list[ExtraUsers] = []
    existing: list[ExistingRunCommands] = []

    def rules(self) -> RunCommandRules:
        """The store's rules as this section sets them."""
        users = UserDirectory(
            linux=tuple(self.linux_users),
            windows=tuple(self.windows_users),
            extra=tuple((tuple(u.names), tuple(u.users)) for u in self.users),
        )
        return RunCommandRules(
            max_per_vm=self.max_per_vm,
            identical_put_reruns=self.identical_put_reruns,
            output_refresh_s=self.output_refresh_s,
            agent_fail_after_s=self.agent_fail_after_s,
            users=users,
        )
