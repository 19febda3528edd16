"""The two SDK baselines, written the way the Azure documentation shows them.

Per target: ``begin_create_or_update(...)`` on the managed run command (``asyncExecution`` false,
so the operation ends when the script ends), ``await poller.result()`` with the SDK's LRO poller
(default polling interval 30 s, scaled by the time scale: ``polling_interval=30/K``), then one
``get(..., expand="instanceView")`` for the outcome. Nothing else is tuned: the SDK's default
retry policy (4 attempts on 429/5xx, ``Retry-After`` honoured as whole seconds), the SDK's default
aiohttp connection limit (100), no rate limiter.

* documented: 5 targets at a time (PowerShell ``ForEach-Object -Parallel``'s default
  ``-ThrottleLimit``);
* unbounded: every target at once with ``asyncio.gather``.

The only deviation from a user's script is the transport: one pooled aiohttp session trusting
the emulator's CA (``fleet.azure.clients``), because ``connection_verify=ca.pem`` would open a TLS
connection per request, an emulator artefact that real Azure (public CAs) does not have.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from azure.core.exceptions import AzureError, HttpResponseError
from azure.mgmt.compute.models import (
    VirtualMachineRunCommand,
    VirtualMachineRunCommandProperties,
    VirtualMachineRunCommandScriptSource,
)

from fleet.azure.clients import ArmClients, ArmConnection, StaticTokenCredential

SDK_POLLING_INTERVAL_S = 30.0  # azure-mgmt-core's default LRO polling interval (Azure-seconds)
SDK_DEFAULT_CONNECTIONS = 100  # aiohttp's default connector limit, which the SDK keeps
POWERSHELL_THROTTLE_LIMIT = 5  # ForEach-Object -Parallel default
FINAL_STATES = {
    "Succeeded": "succeeded",
    "Failed": "failed",
    "TimedOut": "failed",
    "Canceled": "failed",
}

Record = Callable[[str, str, str], None]  # (target id, category, reason)


def _instance_path(arm_id: str) -> tuple[str, str]:
    """(scale set, instance id) of a Uniform instance id ``.../virtualMachineScaleSets/S/...``."""
    parts = arm_id.split("/")
    lower = [p.lower() for p in parts]
    i = lower.index("virtualmachinescalesets")
    return parts[i + 1], parts[i + 3]


def run_command_model(location: str, script: str, timeout_s: int) -> VirtualMachineRunCommand:
    properties = VirtualMachineRunCommandProperties(
        source=VirtualMachineRunCommandScriptSource(script=script),
        async_execution=False,
        timeout_in_seconds=timeout_s,
    )
    return VirtualMachineRunCommand(location=location, properties=properties)


async def one_target(
    clients: ArmClients, target: dict[str, Any], job: dict[str, Any], interval: float
) -> tuple[str, str]:
    """Run the job on one target the documented way; return (category, reason)."""
    compute = clients.compute(target["subscription"])
    body = run_command_model(target["location"], job["script"], job["timeout"])
    rg, name, phase = target["resource_group"], job["run_command"], "put"
    try:
        if target["kind"] == "vmss-uniform":
            vmss, instance = _instance_path(target["id"])
            instances = compute.virtual_machine_scale_set_vm_run_commands
            poller = await instances.begin_create_or_update(
                rg, vmss, instance, name, body, polling_interval=interval
            )
            phase = "poll"
            await poller.result()
            phase = "get"
            command = await instances.get(rg, vmss, instance, name, expand="instanceView")
        else:
            vms = compute.virtual_machine_run_commands
            vm = target["id"].rsplit("/", 1)[1]
            poller = await vms.begin_create_or_update(rg, vm, name, body, polling_interval=interval)
            phase = "poll"
            await poller.result()
            phase = "get"
            command = await vms.get_by_virtual_machine(rg, vm, name, expand="instanceView")
    except HttpResponseError as exc:
        return _classify_error(phase, exc)
    except AzureError as exc:
        return "lost", f"{phase}: {type(exc).__name__}"
    raw = getattr(command.instance_view, "execution_state", None) or "Unknown"
    state = str(getattr(raw, "value", raw))  # an enum member in azure-mgmt-compute 39
    return FINAL_STATES.get(state, "lost"), f"execution state {state}"


def _classify_error(phase: str, exc: HttpResponseError) -> tuple[str, str]:
    status = exc.status_code or 0
    code = getattr(exc.error, "code", None) or ""
    reason = f"{phase}: HTTP {status} {code}".rstrip()
    if status == 409 and "not running" in str(exc.message or "").lower():
        return "skipped", reason  # Azure's truthful answer: the VM is deallocated
    if phase == "put" and status in (400, 403, 404, 409):
        return "failed", reason  # a definite refusal is a truthful final state
    return "lost", reason  # throttled out (429 after the SDK's retries) or 5xx: outcome unknown


def connection(endpoint: str, ca_cert: str, token: str) -> ArmConnection:
    """Real SDK clients with SDK defaults: no fleet policy, default retries."""
    return ArmConnection(
        StaticTokenCredential(token),
        endpoint=endpoint,
        ca_cert=ca_cert,
        max_connections=SDK_DEFAULT_CONNECTIONS,
    )


async def fan_out(
    conn: ArmConnection,
    targets: Sequence[dict[str, Any]],
    job: dict[str, Any],
    *,
    time_scale: float,
    limit: int | None,
    record: Record,
) -> None:
    """Run every target; ``limit`` at a time (None: all at once). ``record`` sees each result."""
    interval = SDK_POLLING_INTERVAL_S / time_scale
    gate = asyncio.Semaphore(limit) if limit else None

    async def each(target: dict[str, Any]) -> None:
        if gate is None:
            category, reason = await one_target(clients, target, job, interval)
        else:
            async with gate:
                category, reason = await one_target(clients, target, job, interval)
        record(target["id"], category, reason)

    async with ArmClients(conn) as clients:
        # The baseline under test *is* a bare gather: what users write today.
        await asyncio.gather(*(each(t) for t in targets))
