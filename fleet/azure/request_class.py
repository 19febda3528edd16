"""Which of Azure's throttling buckets an ARM request draws from, from its method and URL alone.

Pure. ARM charges every request under ``/subscriptions/{id}`` to the subscription's reads
(GET/HEAD), writes (PUT/PATCH/POST) or deletes (DELETE) bucket; Resource Graph queries are
charged to the caller's Graph quota instead. Compute RP requests also draw from a per-minute
policy (azure-reference README, "Throttling limits"), at subscription level and, for most
policies, per resource. The mapping mirrors what the emulator charges (fleet/sim/routes_compute.py
and routes_runcommands.py), which follows the published policy table. Resource ids are returned
lower-cased so that one VM always maps to one bucket, however a caller spells it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote

ArmKind = Literal["reads", "writes", "deletes"]

_ARM_KINDS: dict[str, ArmKind] = {
    "GET": "reads",
    "HEAD": "reads",
    "PUT": "writes",
    "PATCH": "writes",
    "POST": "writes",
    "DELETE": "deletes",
}
_GRAPH_PATH = ("providers", "microsoft.resourcegraph", "resources")
_VM_ACTIONS = {  # POST .../virtualMachines/{vm}/{action}; anything else is Update VM
    "deallocate": "DeleteVM",
    "simulateeviction": "DeleteVM",
    "assesspatches": "VMGuestPatch",
    "installpatches": "VMGuestPatch",
}
_VM_WRITES = {"PUT": "PutVM", "PATCH": "UpdateVM", "DELETE": "DeleteVM"}
# POST .../virtualMachineScaleSets/{ss}/virtualMachines/{id}/{action}: the "Update VMSS VMs" and
# "Delete VMSS VMs" rows of the published table (restart as the emulator charges it,
# fleet/sim/routes_power.py; the action run command like its managed cousin's PUT)
_INSTANCE_ACTIONS = {
    "restart": "UpdateVMSSVMs",
    "start": "UpdateVMSSVMs",
    "reimage": "UpdateVMSSVMs",
    "reimageall": "UpdateVMSSVMs",
    "runcommand": "UpdateVMSSVMs",
    "poweroff": "DeleteVMSSVMs",
    "deallocate": "DeleteVMSSVMs",
}


@dataclass(frozen=True)
class RequestClass:
    subscription: str | None  # lower-cased; None for tenant-level requests
    arm_kind: ArmKind | None
    compute_policy: str | None = None  # "UpdateVM", "LowCostGetVM", ... (emulator's names)
    resource: str | None = None  # lower-cased id of the resource a per-resource bucket is for
    graph: bool = False
    region: str | None = None  # only when the URL names it (operation status polls)


@dataclass(frozen=True)
class _Compute:
    policy: str | None
    resource: str | None = None
    region: str | None = None


def classify(method: str, url: str) -> RequestClass:
    """Classify one request; unknown shapes are plain ARM requests with no Compute policy."""
    method = method.upper()
    segments = _segments(url)
    lowered = [s.lower() for s in segments]
    if tuple(lowered) == _GRAPH_PATH:
        return RequestClass(None, None, graph=True)
    kind = _ARM_KINDS.get(method)
    if len(lowered) < 2 or lowered[0] != "subscriptions":
        return RequestClass(None, kind)
    compute = _compute(method, lowered)
    return RequestClass(
        subscription=lowered[1],
        arm_kind=kind,
        compute_policy=compute.policy,
        resource=compute.resource,
        region=compute.region,
    )


def _segments(url: str) -> list[str]:
    return [unquote(s) if "%" in s else s for s in _path(url).split("/") if s]


def _path(url: str) -> str:
    """The path of an absolute or relative URL (what ``urlsplit(url).path`` gives, without its
    cost on every request: #16)."""
    for mark in "#?":
        url = url.split(mark, 1)[0]
    scheme = url.find("://")
    if scheme >= 0 and "/" not in url[:scheme]:
        slash = url.find("/", scheme + 3)
        url = url[slash:] if slash >= 0 else ""
    return url


def _compute(method: str, seg: list[str]) -> _Compute:
    """Policy of ``/subscriptions/{s}[/resourceGroups/{rg}]/providers/Microsoft.Compute/…``."""
    base = 4 if len(seg) > 3 and seg[2] == "resourcegroups" else 2
    if seg[base : base + 2] != ["providers", "microsoft.compute"] or len(seg) <= base + 2:
        return _Compute(None)
    tail = seg[base + 2 :]
    if tail[0] == "locations" and len(tail) == 4 and tail[2] == "operations":
        return _Compute("GetOperation" if method == "GET" else None, region=tail[1])
    if tail[0] == "virtualmachines":
        return _vm(method, seg[: base + 4], tail[1:])
    if tail[0] == "virtualmachinescalesets":
        return _scale_set(method, seg[: base + 4], tail[1:])
    return _Compute(None)


def _vm(method: str, vm_segments: list[str], rest: list[str]) -> _Compute:
    """``rest`` follows ``virtualMachines``: [], [vm], [vm, instanceView|runCommands|action, …]."""
    if not rest:  # list / list all: subscription-level only
        return _Compute("HighCostGetVM" if method == "GET" else None)
    vm_id = "/" + "/".join(vm_segments)
    child = rest[1:]
    if not child:
        policy = "LowCostGetVM" if method == "GET" else _VM_WRITES.get(method)
    elif child[0] == "runcommands" and len(child) <= 2:
        policy = "LowCostGetVM" if method == "GET" else "UpdateVM"
    elif child == ["instanceview"] and method == "GET":
        policy = "LowCostGetVM"
    elif len(child) == 1 and method == "POST":
        policy = _VM_ACTIONS.get(child[0], "UpdateVM")
    else:
        return _Compute(None)
    return _Compute(policy, vm_id)


def _scale_set(method: str, ss_segments: list[str], rest: list[str]) -> _Compute:
    """``rest`` follows ``virtualMachineScaleSets``: [], [ss], [ss, virtualMachines, …]."""
    if not rest:
        return _Compute("VMSSHighCostGet" if method == "GET" else None)
    ss_id = "/" + "/".join(ss_segments)
    child = rest[1:]
    if not child:
        return _Compute("VMSSLowCostGet", ss_id) if method == "GET" else _Compute(None)
    if child == ["virtualmachines"]:
        return _Compute("VMSSHighCostGet", ss_id) if method == "GET" else _Compute(None)
    if child[0] != "virtualmachines" or len(child) < 2:
        return _Compute(None)
    instance_id = f"{ss_id}/virtualmachines/{child[1]}"
    return _Compute(_instance_policy(method, child[2:]), instance_id)


def _instance_policy(method: str, rest: list[str]) -> str | None:
    """Policy for ``…/virtualMachines/{instance}`` followed by ``rest``."""
    reads = not rest or rest == ["instanceview"] or (rest[0] == "runcommands" and len(rest) <= 2)
    if method == "GET" and reads:
        return "GetVMSSVMs"
    if method == "POST" and rest == ["runcommand"]:  # the action run command (as the emulator)
        return "UpdateVMSSVMs"
    if rest and rest[0] == "runcommands" and len(rest) == 2:
        if method in ("PUT", "PATCH"):
            return "UpdateVMSSVMs"
        if method == "DELETE":
            return "DeleteVMSSVMs"
    if method == "POST" and len(rest) == 1:
        return _INSTANCE_ACTIONS.get(rest[0])
    return None
