"""fleet.azure.compute_counters: which Compute bucket a counter or a 429 is about, in each
header dialect the emulator speaks (fleet/sim/throttle_headers.py: ``current``, ``windowed``,
``none``) and for names fleet cannot attribute (issue #9)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fleet.azure.compute_counters import (
    RESOURCE,
    SUBSCRIPTION,
    CounterName,
    attribute,
    parse_name,
    refused_scopes,
)

RES_CAP = 12.0  # Update VM's published per-VM capacity


def test_names_parse_into_policy_scope_and_window() -> None:
    assert parse_name("UpdateVM.Resource") == CounterName("UpdateVM", RESOURCE)
    assert parse_name("UpdateVM.subscription") == CounterName("UpdateVM", SUBSCRIPTION)
    assert parse_name("PutVM3Min") == CounterName("PutVM", None, 3)
    assert parse_name("GetOperation30Min") == CounterName("GetOperation", None, 30)
    assert parse_name("UpdateVMSSVMs") == CounterName("UpdateVMSSVMs")
    assert parse_name("Min") == CounterName("Min")


def test_current_dialect_names_the_scopes() -> None:
    counters = [("UpdateVM.Resource", 11), ("UpdateVM.Subscription", 1499)]
    assert attribute("UpdateVM", counters, resource_cap=RES_CAP) == {
        RESOURCE: 11,
        SUBSCRIPTION: 1499,
    }


def test_windowed_dialect_reads_the_short_window_and_tells_scopes_apart_by_size() -> None:
    """``PutVM3Min;11,PutVM30Min;119,PutVM3Min;1499,PutVM30Min;14999`` on a run-command PUT
    (Update VM): the 30-minute window is ignored; 1499 can only be the subscription's (above the
    per-VM capacity of 12), so 11 is the VM's."""
    counters = [("PutVM3Min", 11), ("PutVM30Min", 119), ("PutVM3Min", 1499), ("PutVM30Min", 14999)]
    assert attribute("UpdateVM", counters, resource_cap=RES_CAP) == {
        RESOURCE: 11,
        SUBSCRIPTION: 1499,
    }
    # the same on a request charged to the subscription bucket only (a list)
    assert attribute("HighCostGetVM", [("HighCostGet3Min", 159)], resource_cap=None) == {
        SUBSCRIPTION: 159
    }


def test_windowed_counts_that_cannot_be_told_apart_are_ignored() -> None:
    """Both small: either could be the subscription's. Fleet does not slow down for them."""
    assert attribute("UpdateVM", [("PutVM3Min", 5), ("PutVM3Min", 9)], resource_cap=RES_CAP) == {}
    assert attribute("UpdateVM", [("PutVM3Min", 11)], resource_cap=RES_CAP) == {}  # one line only
    assert attribute("UpdateVM", [("PutVM3Min", 700)], resource_cap=RES_CAP) == {SUBSCRIPTION: 700}


def test_long_windows_alone_are_ignored() -> None:
    """A 30-minute count of a VM can exceed 12: read as the subscription's it would stall the
    region. Windows longer than 3 minutes are not the per-minute bucket."""
    assert attribute("UpdateVM", [("PutVM30Min", 119)], resource_cap=RES_CAP) == {}


def test_other_policies_and_unknown_names_are_never_ours() -> None:
    counters = [
        ("HighCostGet3Min", 0),  # another policy, per-window
        ("PutVM", 0),  # the per-minute VM-create policy, not Update VM
        ("UpdateVMSSVMs.Resource", 0),
        ("SomethingNew;", 0),
        ("UpdateVMX.Resource", 0),
    ]
    assert attribute("UpdateVM", counters, resource_cap=RES_CAP) == {}


def test_repeated_counts_for_one_scope_keep_the_smallest() -> None:
    counters = [("UpdateVM.Subscription", 900), ("UpdateVM.Subscription", 800)]
    assert attribute("UpdateVM", counters, resource_cap=RES_CAP) == {SUBSCRIPTION: 800}


def test_none_dialect_attributes_nothing() -> None:
    assert attribute("UpdateVM", [], resource_cap=RES_CAP) == {}


def test_a_429_target_with_a_scope_names_it() -> None:
    got = refused_scopes(
        "UpdateVM", "UpdateVM.Resource", allowed=None, counts={}, resource_cap=RES_CAP
    )
    assert got == {RESOURCE}


def test_a_windowed_429_is_placed_by_its_counts_or_its_allowed_count() -> None:
    """``PutVM3Min`` names no scope: the scope whose count is zero refused; failing that, the
    body's ``allowedRequestCount`` is a bucket's capacity (12 = the VM's, 1500 = the
    subscription's)."""
    sub_empty = {RESOURCE: 11, SUBSCRIPTION: 0}
    assert refused_scopes(
        "UpdateVM", "PutVM3Min", allowed=None, counts=sub_empty, resource_cap=RES_CAP
    ) == {SUBSCRIPTION}
    assert refused_scopes("UpdateVM", "PutVM3Min", allowed=12, counts={}, resource_cap=RES_CAP) == {
        RESOURCE
    }
    assert refused_scopes(
        "UpdateVM", "UpdateVM", allowed=1500, counts={}, resource_cap=RES_CAP
    ) == {SUBSCRIPTION}
    assert refused_scopes("UpdateVM", None, allowed=None, counts={}, resource_cap=RES_CAP) == {
        RESOURCE,
        SUBSCRIPTION,
    }
    assert refused_scopes("HighCostGetVM", None, allowed=None, counts={}, resource_cap=None) == {
        SUBSCRIPTION
    }


@given(
    st.lists(st.tuples(st.text(max_size=30), st.integers(0, 10**6)), max_size=8),
    st.sampled_from(["UpdateVM", "LowCostGetVM", "HighCostGetVM", "GetOperation"]),
    st.sampled_from([None, 12.0, 36.0]),
)
def test_attribution_never_raises_and_only_names_counts_it_was_given(
    counters: list[tuple[str, int]], policy: str, cap: float | None
) -> None:
    found = attribute(policy, counters, resource_cap=cap)
    assert set(found) <= {RESOURCE, SUBSCRIPTION}
    assert set(found.values()) <= {c for _, c in counters}
    if cap is None:
        assert RESOURCE not in found
