# ruff: noqa: E501
"""fleet.azure.request_class: ARM kind and Compute policy per request, matching what the
emulator charges (fleet/sim/routes_compute.py, routes_runcommands.py, routes_power.py)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from fleet.azure.request_class import RequestClass, _path, classify

SUB = "00000000-0000-4000-8000-000000000001"
BASE = f"https://management.azure.com/subscriptions/{SUB}"
RGP = f"{BASE}/resourceGroups/RG-Small/providers/Microsoft.Compute"
VM_ID = f"/subscriptions/{SUB}/resourcegroups/rg-small/providers/microsoft.compute/virtualmachines/app-01"
SS_ID = f"/subscriptions/{SUB}/resourcegroups/rg-small/providers/microsoft.compute/virtualmachinescalesets/vmss-small"
INST_ID = f"{SS_ID}/virtualmachines/3"
Q = "?api-version=2025-04-01"

CASES = [
    # (method, url, arm kind, compute policy, resource)
    ("GET", f"{BASE}/providers/Microsoft.Compute/virtualMachines{Q}", "reads", "HighCostGetVM", None),
    ("GET", f"{RGP}/virtualMachines{Q}&$top=5", "reads", "HighCostGetVM", None),
    ("GET", f"{RGP}/virtualMachines/App-01{Q}", "reads", "LowCostGetVM", VM_ID),
    ("GET", f"{RGP}/virtualMachines/app-01/instanceView{Q}", "reads", "LowCostGetVM", VM_ID),
    ("GET", f"{RGP}/virtualMachines/app-01/runCommands{Q}", "reads", "LowCostGetVM", VM_ID),
    ("GET", f"{RGP}/virtualMachines/app-01/runCommands/rc1{Q}", "reads", "LowCostGetVM", VM_ID),
    ("PUT", f"{RGP}/virtualMachines/app-01/runCommands/rc1{Q}", "writes", "UpdateVM", VM_ID),
    ("PATCH", f"{RGP}/virtualMachines/app-01/runCommands/rc1{Q}", "writes", "UpdateVM", VM_ID),
    ("DELETE", f"{RGP}/virtualMachines/app-01/runCommands/rc1{Q}", "deletes", "UpdateVM", VM_ID),
    ("POST", f"{RGP}/virtualMachines/app-01/runCommand{Q}", "writes", "UpdateVM", VM_ID),
    ("POST", f"{RGP}/virtualMachines/app-01/deallocate{Q}", "writes", "DeleteVM", VM_ID),
    ("POST", f"{RGP}/virtualMachines/app-01/restart{Q}", "writes", "UpdateVM", VM_ID),  # reboots
    ("GET", f"{BASE}/providers/Microsoft.Compute/virtualMachineScaleSets{Q}", "reads", "VMSSHighCostGet", None),
    ("GET", f"{RGP}/virtualMachineScaleSets{Q}", "reads", "VMSSHighCostGet", None),
    ("GET", f"{RGP}/virtualMachineScaleSets/vmss-small{Q}", "reads", "VMSSLowCostGet", SS_ID),
    ("GET", f"{RGP}/virtualMachineScaleSets/vmss-small/virtualMachines{Q}", "reads", "VMSSHighCostGet", SS_ID),
    ("GET", f"{RGP}/virtualMachineScaleSets/vmss-small/virtualMachines/3{Q}", "reads", "GetVMSSVMs", INST_ID),
    ("GET", f"{RGP}/virtualMachineScaleSets/vmss-small/virtualMachines/3/instanceView", "reads", "GetVMSSVMs", INST_ID),
    ("GET", f"{RGP}/virtualMachineScaleSets/vmss-small/virtualMachines/3/runCommands", "reads", "GetVMSSVMs", INST_ID),
    ("GET", f"{RGP}/virtualMachineScaleSets/vmss-small/virtualMachines/3/runCommands/rc", "reads", "GetVMSSVMs", INST_ID),
    ("PUT", f"{RGP}/virtualMachineScaleSets/vmss-small/virtualMachines/3/runCommands/rc", "writes", "UpdateVMSSVMs", INST_ID),
    ("PATCH", f"{RGP}/virtualMachineScaleSets/vmss-small/virtualMachines/3/runCommands/rc", "writes", "UpdateVMSSVMs", INST_ID),
    ("DELETE", f"{RGP}/virtualMachineScaleSets/vmss-small/virtualMachines/3/runCommands/rc", "deletes", "DeleteVMSSVMs", INST_ID),
    ("POST", f"{RGP}/virtualMachineScaleSets/vmss-small/virtualMachines/3/restart{Q}", "writes", "UpdateVMSSVMs", INST_ID),
    ("POST", f"{RGP}/virtualMachineScaleSets/vmss-small/virtualMachines/3/powerOff{Q}", "writes", "DeleteVMSSVMs", INST_ID),
    ("GET", f"{BASE}/resources?$filter=tagName eq 'env'", "reads", None, None),
    ("GET", f"{BASE}/resourcegroups/rg-small{Q}", "reads", None, None),
    ("HEAD", f"{BASE}/resourcegroups/rg-small", "reads", None, None),
    ("PUT", f"{BASE}/resourcegroups/rg-small/providers/Microsoft.Network/virtualNetworks/v", "writes", None, None),
]  # fmt: skip


@pytest.mark.parametrize(("method", "url", "kind", "policy", "resource"), CASES)
def test_classification_table(
    method: str, url: str, kind: str, policy: str | None, resource: str | None
) -> None:
    request_class = classify(method, url)
    assert (
        request_class.subscription,
        request_class.arm_kind,
        request_class.compute_policy,
        request_class.resource,
    ) == (
        SUB,
        kind,
        policy,
        resource,
    )
    assert not request_class.graph


def test_operation_status_carries_its_region() -> None:
    url = f"{BASE}/providers/Microsoft.Compute/locations/EastUS/operations/abc-123{Q}&monitor=true"
    assert classify("GET", url) == RequestClass(
        SUB, "reads", "GetOperation", None, graph=False, region="eastus"
    )


def test_resource_graph_query_is_graph_not_an_arm_write() -> None:
    url = "https://management.azure.com/providers/Microsoft.ResourceGraph/resources?api-version=2021-03-01"
    assert classify("POST", url) == RequestClass(None, None, graph=True)


def test_case_path_variants_and_trailing_slash_map_to_one_resource() -> None:
    a = classify("get", f"{RGP}/virtualMachines/APP-01/")
    b = classify(
        "GET", f"{RGP.upper().replace('HTTPS://MANAGEMENT.AZURE.COM', '')}/VIRTUALMACHINES/app-01"
    )
    assert a.resource == b.resource == VM_ID
    assert a.subscription == b.subscription == SUB


def test_tenant_level_and_non_arm_urls() -> None:
    assert classify("GET", "https://management.azure.com/subscriptions?api-version=1") == (
        RequestClass(None, "reads")
    )
    assert classify(
        "GET", "https://management.azure.com/providers/Microsoft.Compute/operations"
    ) == (RequestClass(None, "reads"))
    assert classify("OPTIONS", f"{RGP}/virtualMachines/app-01").arm_kind is None
    assert classify("GET", "not a url at all").subscription is None
    assert classify("GET", "http://[::1").subscription is None  # urlsplit would raise


def test_percent_encoded_names_are_decoded() -> None:
    rc = classify("GET", f"{RGP}/virtualMachines/app%2D01{Q}")
    assert rc.resource == VM_ID


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1:8443/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute"
        "/virtualMachines/vm/runCommands/c?api-version=2024-07-01&$expand=instanceView",
        "/subscriptions/s/providers?x=1",
        "https://management.azure.com",
        "https://management.azure.com/",
        "https://h?next=/subscriptions/s",
        "https://h#/subscriptions/s",
        "/a/b#c?d",
        "https://h:1/subscriptions/a%2Fb/c",
        "/a://b/c",
    ],
)
def test_the_path_is_read_as_urlsplit_reads_it(url: str) -> None:
    """classify reads the path without urlsplit (its cost on every request, #16): same path."""
    assert _path(url) == urlsplit(url).path
