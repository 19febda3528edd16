"""Raw ARM JSON → fleet's vocabulary (``fleet.azure.wire``): the same reading the SDK's models
give of the same JSON (Azure's examples from the REST spec, instance views as the spec's
``VirtualMachineRunCommandInstanceView`` describes them), and never an exception on a reply of
the wrong shape."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import hypothesis
from azure.mgmt.compute.models import VirtualMachine, VirtualMachineRunCommand
from hypothesis import given, settings
from hypothesis import strategies as st

from fleet.azure.wire import instance_target, scale_set_of, view_of, vm_target
from fleet.model import RUN_ID_PARAMETER, RunView, TargetKind

EXAMPLES = (
    Path(__file__).resolve().parents[1] / "fixtures" / "azure-reference" / "compute" / "2025-04-01"
) / "examples"


def example(group: str, name: str) -> dict[str, Any]:
    doc = json.loads((EXAMPLES / group / name).read_text(encoding="utf-8"))
    body: dict[str, Any] = doc["responses"]["200"]["body"]
    return body


def wire_text(value: Any) -> str | None:
    """An SDK enum's wire value (its ``str()`` is ``Class.MEMBER``)."""
    return None if value is None else str(getattr(value, "value", value))


def sdk_view(doc: dict[str, Any]) -> RunView:
    """What fleet read through the SDK's model before (the reference reading)."""
    model = VirtualMachineRunCommand(copy.deepcopy(doc))
    iv = model.instance_view
    params = model.parameters or []
    run_id = next((p.value for p in params if p.name == RUN_ID_PARAMETER), None)
    state = wire_text(model.provisioning_state)
    if iv is None:
        return RunView("Unknown", state, run_id=run_id)
    return RunView(
        execution_state=wire_text(iv.execution_state) or "Unknown",
        provisioning_state=state,
        exit_code=iv.exit_code,
        output=iv.output or "",
        error=iv.error or "",
        message=iv.execution_message or "",
        start_time=iv.start_time,
        end_time=iv.end_time,
        run_id=run_id,
    )


def with_view(doc: dict[str, Any], **view: Any) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    doc["properties"]["instanceView"] = view
    doc["properties"]["parameters"].append({"name": RUN_ID_PARAMETER, "value": "run-7"})
    return doc


def test_a_run_command_reads_as_the_sdk_model_reads_it() -> None:
    base = example("runCommandExamples", "VirtualMachineRunCommand_Get.json")
    docs = [
        base,  # no instance view: Unknown
        with_view(base, executionState="Running", executionMessage="Execution in progress",
                  exitCode=0, output="half", error="", startTime="2026-01-02T03:04:05.1234567Z"),
        with_view(base, executionState="Failed", executionMessage="Execution failed",
                  exitCode=-1, output="out", error="err",
                  startTime="2026-01-02T03:04:05+00:00", endTime="2026-01-02T03:14:05.5Z"),
    ]  # fmt: skip
    for doc in docs:
        assert view_of(doc) == sdk_view(doc)
    failed = view_of(docs[2])
    assert failed.start_time == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert (failed.execution_state, failed.exit_code, failed.run_id) == ("Failed", -1, "run-7")


def test_a_listed_vm_reads_as_the_sdk_model_reads_it() -> None:
    listed = example("virtualMachineExamples", "VirtualMachine_ListAll_MinimumSet_Gen.json")
    assert [vm_target(doc, "sub-1", None) for doc in listed["value"]] == [None, None]  # no name
    doc = example("virtualMachineExamples", "VirtualMachine_Get.json")
    target = vm_target(doc, "sub-1", "running")
    model = VirtualMachine(copy.deepcopy(doc))
    assert target is not None and (target.id, target.name) == (model.id, model.name)
    assert target.location == model.location and target.kind is TargetKind.VM
    assert target.zone == (model.zones[0] if model.zones else None)
    os_disk = model.storage_profile.os_disk if model.storage_profile else None
    assert target.os == (wire_text(os_disk.os_type) or "").lower() if os_disk else None
    assert target.tags == tuple(sorted((model.tags or {}).items()))
    flexible = {
        "id": "/subscriptions/s/resourceGroups/RG-A/providers/Microsoft.Compute/virtualMachines/f1",
        "name": "f1", "location": "eastus", "zones": ["2"], "tags": {"env": "prod"},
        "properties": {
            "virtualMachineScaleSet": {"id": "/subscriptions/s/.../virtualMachineScaleSets/ss"},
            "storageProfile": {"osDisk": {"osType": "Linux"}},
        },
    }  # fmt: skip
    target = vm_target(flexible, "s", "deallocated")
    assert target is not None
    assert (target.kind, target.scale_set, target.zone, target.os) == (
        TargetKind.VMSS_FLEXIBLE, "ss", "2", "linux",
    )  # fmt: skip
    assert (target.resource_group, target.power_state, target.tags) == (
        "RG-A", "deallocated", (("env", "prod"),),
    )  # fmt: skip


def test_a_uniform_instance_takes_power_fault_domain_and_its_scale_sets_tags() -> None:
    ss = scale_set_of(
        {"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/"
               "virtualMachineScaleSets/web", "name": "web", "tags": {"tier": "web"},
         "properties": {"orchestrationMode": "Uniform"}},
        "s",
    )  # fmt: skip
    assert ss is not None and ss["mode"] == "Uniform"
    doc = {
        "id": ss["id"] + "/virtualMachines/3", "name": "web_3", "instanceId": "3",
        "location": "eastus",
        "properties": {"instanceView": {
            "platformFaultDomain": 1,
            "statuses": [{"code": "ProvisioningState/succeeded"}, {"code": "PowerState/running"}],
        }},
    }  # fmt: skip
    target = instance_target(doc, ss)
    assert target is not None
    assert (target.kind, target.instance_id, target.fault_domain, target.power_state) == (
        TargetKind.VMSS_UNIFORM, "3", 1, "running",
    )  # fmt: skip
    assert target.tags == (("tier", "web"),) and target.resource_group == "rg"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)
keys = st.sampled_from(
    ["properties", "instanceView", "executionState", "exitCode", "startTime", "endTime",
     "parameters", "id", "name", "statuses", "tags", "zones", "location", "storageProfile"]
)  # fmt: skip
shaped = st.recursive(
    json_values, lambda inner: st.dictionaries(keys, inner, max_size=5), max_leaves=20
)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(keys, shaped, max_size=6))
# found by a full-suite run: "parameters" that is not a list
@hypothesis.example({"properties": {"properties": None, "parameters": True}})
def test_replies_of_any_shape_never_raise(doc: dict[str, Any]) -> None:
    view = view_of(doc)
    assert isinstance(view.execution_state, str)
    vm_target(doc, "s", None)
    scale_set = scale_set_of(doc, "s") or {"id": "/x", "name": "x", "subscription": "s",
                                           "tags": {}}  # fmt: skip
    instance_target(doc, scale_set)
