"""The built-in run-command catalog (``VirtualMachineRunCommands_List`` / ``_Get``): the command
ids, OS types, labels, descriptions and parameters Azure lists per location, and the regions that
have it. Pure data and lookups; HTTP is ``fleet.sim.routes_catalog`` (``fleet.sim.catalog`` is
the built-in *profiles*).

Sources: labels and descriptions from the 2025-04-01 spec example ``RunCommand_List.json``
(EnableRemotePS, IPConfig, RunPowerShellScript, RunShellScript, ifconfig, EnableAdminAccount,
ResetAccountPassword, RDPSettings, SetRDPPort, ResetRDPCert) and the command tables of the docs
"run-command" (Linux: RunShellScript, ifconfig; Windows adds EnableWindowsUpdate,
DisableWindowsUpdate, EnableEMS, IMDSCertCheck, Windows_WindowsActivation_Validation, DisableNLA);
``RemoveRunCommand{Linux,Windows}Extension`` are invoked like commands in the same docs. Where the
docs give a description but no label, the label here is ours (marked ``# label: ours``).
RunPowerShellScript's script and parameters are the spec example ``RunCommand_Get.json``;
ifconfig's are Azure/azure-support-scripts RunCommand/Linux/ifconfig/ifconfig.json;
RunShellScript's default script prints what azure-cli#32286 captured ("This is a sample script",
"Optional parameters: ..."). The other built-ins' script bodies are not reproduced: their
``script`` is a one-line stand-in saying so (the emulator simulates what they print).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SCHEMA = "http://schema.management.azure.com/schemas/2016-11-17/runcommands.json"
NOT_FOUND_MESSAGE = "The entity was not found in this Azure location."

# Public regions (the list ARM printed in LocationNotAvailableForResourceGroup errors,
# MicrosoftDocs/executable-docs#74); a profile's own locations are always accepted too.
REGIONS = frozenset(
    {
        "eastasia",
        "southeastasia",
        "australiaeast",
        "australiasoutheast",
        "brazilsouth",
        "canadacentral",
        "canadaeast",
        "switzerlandnorth",
        "germanywestcentral",
        "eastus2",
        "eastus",
        "centralus",
        "northcentralus",
        "francecentral",
        "uksouth",
        "ukwest",
        "centralindia",
        "southindia",
        "jioindiawest",
        "italynorth",
        "japaneast",
        "japanwest",
        "koreacentral",
        "koreasouth",
        "mexicocentral",
        "northeurope",
        "norwayeast",
        "polandcentral",
        "qatarcentral",
        "spaincentral",
        "swedencentral",
        "uaenorth",
        "westcentralus",
        "westeurope",
        "westus2",
        "westus",
        "southcentralus",
        "westus3",
        "southafricanorth",
        "australiacentral",
        "australiacentral2",
        "israelcentral",
        "westindia",
        "centraluseuap",
        "eastus2euap",
    }
)


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str = "string"
    default: str | None = None
    required: bool = False

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.default is not None:
            wire["defaultValue"] = self.default
        if self.required:
            wire["required"] = True
        return wire


@dataclass(frozen=True)
class Command:
    id: str
    os_type: str  # "Linux" | "Windows"
    label: str
    description: str
    script: tuple[str, ...] = ()
    parameters: tuple[Parameter, ...] = field(default=())

    def base(self) -> dict[str, Any]:
        """``RunCommandDocumentBase``: what the list returns."""
        return {
            "$schema": SCHEMA,
            "id": self.id,
            "osType": self.os_type,
            "label": self.label,
            "description": self.description,
        }

    def document(self) -> dict[str, Any]:
        """``RunCommandDocument``: what a get returns (adds script and parameters)."""
        doc = self.base()
        doc["script"] = list(self.script or (f"# built-in {self.id}: body not reproduced",))
        doc["parameters"] = [p.to_wire() for p in self.parameters]
        return doc

    def default_script(self) -> str:
        return "\n".join(self.script)


_SCRIPT_DESC = "script should be defined in script property. Optional parameters can be set in "
_PS_SCRIPT = (
    "param(",
    "    [string]$arg1,",
    "    [string]$arg2",
    ")",
    "Write-Host This is a sample script with parameters $arg1 $arg2",
)
_ARGS = (Parameter("arg1", default="value1"), Parameter("arg2", default="value2"))

COMMANDS: tuple[Command, ...] = (
    Command(
        "RunShellScript",
        "Linux",
        "Executes a Linux shell script",
        f"Custom multiline shell {_SCRIPT_DESC}parameters property.",
        ("echo This is a sample script", 'echo "Optional parameters: $@"'),
        _ARGS,  # parameters: ours, by analogy with RunPowerShellScript's
    ),
    Command(
        "ifconfig",
        "Linux",
        "List network configuration",
        "Get the configuration of all network interfaces.",
        ('ifconfig "$@"',),
        (Parameter("arguments", default=""),),
    ),
    Command(
        "RemoveRunCommandLinuxExtension",
        "Linux",
        "Remove the run command extension",  # label: ours
        "Removes the action run command extension from the VM.",
    ),
    Command(
        "RunPowerShellScript",
        "Windows",
        "Executes a PowerShell script",
        f"Custom multiline PowerShell {_SCRIPT_DESC}parameters property.",
        _PS_SCRIPT,
        _ARGS,
    ),
    Command(
        "EnableRemotePS",
        "Windows",
        "Enable remote PowerShell",
        "Configure the machine to enable remote PowerShell.",
    ),
    Command(
        "IPConfig",
        "Windows",
        "List IP configuration",
        "Shows detailed information for the IP address, subnet mask and default gateway for "
        "each adapter bound to TCP/IP.",
    ),
    Command(
        "EnableAdminAccount",
        "Windows",
        "Enable administrator account",
        "Checks if the local Administrator account is disabled, and if so enables it.",
    ),
    Command(
        "ResetAccountPassword",
        "Windows",
        "Reset built-in Administrator account password",
        "Reset built-in Administrator account password.",
    ),
    Command(
        "RDPSettings",
        "Windows",
        "Verify RDP Listener Settings",
        "Checks registry settings and domain policy settings. Suggests policy actions if machine "
        "is part of a domain or modifies the settings to default values.",
    ),
    Command(
        "SetRDPPort",
        "Windows",
        "Set Remote Desktop port",
        "Sets the default or user specified port number for Remote Desktop connections. Enables "
        "firewall rule for inbound access to the port.",
        # the script's param($RDPPort=3389) (azure-support-scripts SetRDPPort.ps1); type ours
        parameters=(Parameter("RDPPort", type="int", default="3389"),),
    ),
    Command(
        "ResetRDPCert",
        "Windows",
        "Restore RDP Authentication mode to defaults",
        "Removes the SSL certificate tied to the RDP listener and restores the RDP listerner "
        "security to default. Use this script if you see any issues with the certificate.",
    ),
    Command(
        "EnableWindowsUpdate",
        "Windows",
        "Enable Windows Update",  # label: ours
        "Enable Automatic Updates through Windows Update.",
    ),
    Command(
        "DisableWindowsUpdate",
        "Windows",
        "Disable Windows Update",  # label: ours
        "Disable Automatic Updates through Windows Update.",
    ),
    Command(
        "EnableEMS",
        "Windows",
        "Enable Emergency Management Services",  # label: ours
        "Enable Emergency Management Services (EMS) to allow for serial console connection in "
        "troubleshooting scenarios.",
    ),
    Command(
        "IMDSCertCheck",
        "Windows",
        "Check IMDS health and certificates",  # label: ours
        "Checks IMDS Health and then analyzes currently installed certificates that IMDS "
        "depends upon. If missing, shows additional details and mitigation steps.",
    ),
    Command(
        "Windows_WindowsActivation_Validation",
        "Windows",
        "Validate Windows activation",  # label: ours
        "Checks the current Windows license status (activated or not) and alert is generated if "
        "the machine is not property activated.",
    ),
    Command(
        "DisableNLA",
        "Windows",
        "Disable Network Level Authentication",  # label: ours
        "Disables Network Level Authentication (NLA). You must restart the VM after the script "
        "completes for the change to take effect. The script itself does not restart the VM.",
    ),
    Command(
        "RemoveRunCommandWindowsExtension",
        "Windows",
        "Remove the run command extension",  # label: ours
        "Removes the action run command extension from the VM.",
    ),
)

_BY_ID = {c.id.lower(): c for c in COMMANDS}


def find(command_id: str) -> Command | None:
    """The built-in with this id (case-insensitive, as ARM matches it), or None."""
    return _BY_ID.get(command_id.lower())


def os_type(os_name: str) -> str:
    """A VM's ``os`` ("linux"/"windows") as the catalog spells it."""
    return "Windows" if os_name == "windows" else "Linux"
