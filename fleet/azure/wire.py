"""ARM's JSON (camelCase, as on the wire) → fleet's vocabulary, without building SDK models.

The hot reads hand their raw bodies here: a run command's instance view (one read per target
and poll) and the pages of VM and scale-set instance lists (selection). Building the SDK's
models for them cost more CPU than the HTTP exchange itself (issue #16's profile of a
10,000-target run: about a quarter of a GET and four fifths of selection); fleet needs a dozen
fields. The SDK models are mappings over the same wire names, so :func:`view_of` reads a model
as well (the rarely used list of run commands).

Pure and forgiving, like the header parsers: a field of the wrong type reads as absent, never
raises (a reply fleet cannot understand is not a crash).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fleet.model import RUN_ID_PARAMETER, RunView, Target, TargetKind


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _time(value: Any) -> datetime | None:
    """An ISO 8601 timestamp (ARM writes up to 7 fractional digits and ``Z``) as a datetime."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _run_id(props: Mapping[str, Any]) -> str | None:
    params = props.get("parameters")
    if not isinstance(params, list):
        return None  # absent, or a reply of another shape: no run id to read
    for param in params:
        if isinstance(param, Mapping) and param.get("name") == RUN_ID_PARAMETER:
            return _text(param.get("value"))
    return None


def view_of(doc: Mapping[str, Any]) -> RunView:
    """A managed run command (read with ``$expand=instanceView``) as a ``RunView``."""
    props = _map(doc.get("properties"))
    provisioning, run_id = _text(props.get("provisioningState")), _run_id(props)
    iv = props.get("instanceView")
    if not isinstance(iv, Mapping):
        return RunView("Unknown", provisioning, run_id=run_id)
    return RunView(
        execution_state=_text(iv.get("executionState")) or "Unknown",
        provisioning_state=provisioning,
        exit_code=_int(iv.get("exitCode")),
        output=_text(iv.get("output")) or "",
        error=_text(iv.get("error")) or "",
        message=_text(iv.get("executionMessage")) or "",
        start_time=_time(iv.get("startTime")),
        end_time=_time(iv.get("endTime")),
        run_id=run_id,
    )


def power_state(statuses: Any) -> str | None:
    """``running``, ``deallocated``, ... from an instance view's ``PowerState/...`` status."""
    for status in statuses if isinstance(statuses, list) else ():
        code = _text(_map(status).get("code"))
        if code is not None and code.startswith("PowerState/"):
            return code.split("/", 1)[1]
    return None


def resource_group(arm_id: str) -> str:
    parts = arm_id.split("/")
    return parts[4] if len(parts) > 4 else ""


def tags_of(tags: Any) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), str(v)) for k, v in _map(tags).items()))


def _os(props: Mapping[str, Any]) -> str | None:
    os_type = _text(_map(_map(props.get("storageProfile")).get("osDisk")).get("osType"))
    return os_type.lower() if os_type else None


def _zone(doc: Mapping[str, Any]) -> str | None:
    zones = doc.get("zones")
    return _text(zones[0]) if isinstance(zones, list) and zones else None


def vm_target(doc: Mapping[str, Any], subscription: str, power: str | None) -> Target | None:
    """A VM or Flexible scale-set member from ``virtualMachines`` list JSON (None: no id)."""
    arm_id, name = _text(doc.get("id")), _text(doc.get("name"))
    if arm_id is None or name is None:  # ARM lists always carry both
        return None
    props = _map(doc.get("properties"))
    ss = _text(_map(props.get("virtualMachineScaleSet")).get("id"))
    return Target(
        id=arm_id,
        name=name,
        kind=TargetKind.VMSS_FLEXIBLE if ss else TargetKind.VM,
        subscription=subscription,
        resource_group=resource_group(arm_id),
        location=_text(doc.get("location")) or "",
        zone=_zone(doc),
        os=_os(props),
        power_state=power,
        scale_set=ss.rsplit("/", 1)[-1] if ss else None,
        tags=tags_of(doc.get("tags")),
    )


def instance_target(doc: Mapping[str, Any], scale_set: Mapping[str, Any]) -> Target | None:
    """A Uniform scale-set instance from ``virtualMachines`` of a scale set, listed with
    ``$expand=instanceView`` (power state and fault domain); its scale set's tags if it has
    none of its own."""
    arm_id, name = _text(doc.get("id")), _text(doc.get("name"))
    if arm_id is None or name is None:
        return None
    props = _map(doc.get("properties"))
    view = _map(props.get("instanceView"))
    return Target(
        id=arm_id,
        name=name,
        kind=TargetKind.VMSS_UNIFORM,
        subscription=scale_set["subscription"],
        resource_group=resource_group(scale_set["id"]),
        location=_text(doc.get("location")) or "",
        zone=_zone(doc),
        os=_os(props),
        power_state=power_state(view.get("statuses")),
        scale_set=scale_set["name"],
        instance_id=_text(doc.get("instanceId")),
        fault_domain=_int(view.get("platformFaultDomain")),
        tags=tags_of(doc.get("tags") or scale_set["tags"]),
    )


def scale_set_of(doc: Mapping[str, Any], subscription: str) -> dict[str, Any] | None:
    """What selection keeps of a scale set: id, name, subscription, orchestration mode, tags."""
    arm_id, name = _text(doc.get("id")), _text(doc.get("name"))
    if arm_id is None or name is None:
        return None
    return {
        "id": arm_id,
        "name": name,
        "subscription": subscription,
        "mode": _text(_map(doc.get("properties")).get("orchestrationMode")),
        "tags": dict(_map(doc.get("tags"))),
    }
