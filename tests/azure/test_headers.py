"""fleet.azure.headers: throttling headers and 429 bodies, from the reference README's real
examples and the emulator's own format; the parsers never raise."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict

from fleet.azure.headers import (
    RateLimitInfo,
    ThrottleError,
    parse_rate_limit_headers,
    parse_throttle_error,
)

NOW = datetime(2025, 5, 1, 12, 0, 0, tzinfo=UTC)


def test_arm_counters_real_token_bucket_era() -> None:
    info = parse_rate_limit_headers(
        {
            "x-ms-ratelimit-remaining-subscription-reads": "249",
            "x-ms-ratelimit-remaining-subscription-global-reads": "3749",
            "x-ms-ratelimit-remaining-tenant-writes": "1199",
            "Content-Type": "application/json",
        }
    )
    assert info.arm == {"reads": 249, "global-reads": 3749, "tenant-writes": 1199}
    assert info.compute == ()
    assert info.retry_after_s is None


def test_header_names_are_case_insensitive() -> None:
    info = parse_rate_limit_headers([("X-MS-RateLimit-Remaining-Subscription-Writes", "1199")])
    assert info.arm == {"writes": 1199}


def test_compute_comma_joined_real_azure() -> None:
    value = "Microsoft.Compute/PutVM3Min;740,Microsoft.Compute/PutVM30Min;3695"
    info = parse_rate_limit_headers({"x-ms-ratelimit-remaining-resource": value})
    assert info.compute == (("PutVM3Min", 740), ("PutVM30Min", 3695))


def test_compute_emulator_format() -> None:
    value = "Microsoft.Compute/UpdateVM.Resource;11,Microsoft.Compute/UpdateVM.Subscription;1499"
    info = parse_rate_limit_headers({"x-ms-ratelimit-remaining-resource": value})
    assert info.compute == (("UpdateVM.Resource", 11), ("UpdateVM.Subscription", 1499))


def test_compute_counters_of_one_name_are_all_kept() -> None:
    """The per-window dialect names a resource and a subscription counter alike, in one value
    or on two lines (a proxy may join lines with a newline): every count is kept, in order."""
    joined = (
        "Microsoft.Compute/PutVM3Min;11,Microsoft.Compute/PutVM30Min;119,"
        "Microsoft.Compute/PutVM3Min;1499,Microsoft.Compute/PutVM30Min;14999"
    )
    expected = (("PutVM3Min", 11), ("PutVM30Min", 119), ("PutVM3Min", 1499), ("PutVM30Min", 14999))
    assert parse_rate_limit_headers({"x-ms-ratelimit-remaining-resource": joined}).compute == (
        expected
    )
    second = "Microsoft.Compute/PutVM3Min;1499"
    lines = joined.replace("," + second, "\n" + second)
    assert "\n" in lines
    assert parse_rate_limit_headers({"x-ms-ratelimit-remaining-resource": lines}).compute == (
        expected
    )


def test_compute_repeated_headers_in_a_multidict() -> None:
    headers = CIMultiDict(
        [
            ("x-ms-ratelimit-remaining-resource", "Microsoft.Compute/LowCostGet3Min;3998"),
            ("X-Ms-Ratelimit-Remaining-Resource", "Microsoft.Compute/LowCostGet30Min;31997"),
            ("x-ms-ratelimit-remaining-resource", "Microsoft.Compute/HighCostGet3Min;159"),
        ]
    )
    info = parse_rate_limit_headers(headers)
    assert info.compute == (
        ("LowCostGet3Min", 3998),
        ("LowCostGet30Min", 31997),
        ("HighCostGet3Min", 159),
    )


def test_arm_duplicates_keep_the_smaller_count_compute_keeps_both() -> None:
    info = parse_rate_limit_headers(
        [
            ("x-ms-ratelimit-remaining-subscription-reads", "200"),
            ("x-ms-ratelimit-remaining-subscription-reads", "150"),
            ("x-ms-ratelimit-remaining-resource", "Microsoft.Compute/GetVMScaleSet3Min;197"),
            ("x-ms-ratelimit-remaining-resource", "Microsoft.Compute/GetVMScaleSet3Min;7"),
        ]
    )
    assert info.arm == {"reads": 150}
    assert info.compute == (("GetVMScaleSet3Min", 197), ("GetVMScaleSet3Min", 7))


def test_malformed_parts_are_ignored() -> None:
    value = (
        "Microsoft.Compute/DeleteVMScaleSet3Min;107, garbage, ;5, Microsoft.Compute/;3,"
        "Microsoft.Compute/X;-1,Microsoft.Compute/Y;1.5,Microsoft.Network/Z;9,Microsoft.Compute/Q"
    )
    info = parse_rate_limit_headers(
        {
            "x-ms-ratelimit-remaining-resource": value,
            "x-ms-ratelimit-remaining-subscription-reads": "lots",
            "x-ms-ratelimit-remaining-subscription-writes": "-3",
        }
    )
    assert info.compute == (("DeleteVMScaleSet3Min", 107),)
    assert info.arm == {}


def test_retry_after_precedence() -> None:
    both = {"Retry-After": "17", "x-ms-retry-after-ms": "1500", "retry-after-ms": "250"}
    assert parse_rate_limit_headers(both).retry_after_s == 0.25
    del both["retry-after-ms"]
    assert parse_rate_limit_headers(both).retry_after_s == 1.5
    del both["x-ms-retry-after-ms"]
    assert parse_rate_limit_headers(both).retry_after_s == 17.0
    assert parse_rate_limit_headers({"Retry-After": "1200"}).retry_after_s == 1200.0


def test_retry_after_http_date_and_bad_values() -> None:
    date = {"Retry-After": "Thu, 01 May 2025 12:00:30 GMT"}
    assert parse_rate_limit_headers(date, now=NOW).retry_after_s == 30.0
    past = {"Retry-After": "Thu, 01 May 2025 11:00:00 GMT"}
    assert parse_rate_limit_headers(past, now=NOW).retry_after_s == 0.0
    # a bad ms value falls through to the next header; nonsense everywhere means "not given"
    assert (
        parse_rate_limit_headers({"x-ms-retry-after-ms": "x", "Retry-After": "2"}).retry_after_s
        == 2
    )
    for bad in ("soon", "-5", "nan", "inf", ""):
        assert parse_rate_limit_headers({"Retry-After": bad}, now=NOW).retry_after_s is None


def test_graph_quota_headers() -> None:
    info = parse_rate_limit_headers(
        {"x-ms-user-quota-remaining": "10", "x-ms-user-quota-resets-after": "00:00:03"}
    )
    assert (info.graph_remaining, info.graph_resets_after_s) == (10, 3.0)
    odd = parse_rate_limit_headers(
        {"x-ms-user-quota-remaining": "ten", "x-ms-user-quota-resets-after": "3s"}
    )
    assert (odd.graph_remaining, odd.graph_resets_after_s) == (None, None)
    long = parse_rate_limit_headers({"x-ms-user-quota-resets-after": "01:02:03"})
    assert long.graph_resets_after_s == 3723.0


def test_arm_429_body() -> None:
    body = {
        "error": {
            "code": "SubscriptionRequestsThrottled",
            "message": "Number of 'read' requests for subscription 's' actor 'a' exceeded. "
            "Please try again after '10' seconds.",
        }
    }
    assert parse_throttle_error(json.dumps(body).encode()) == ThrottleError(
        "SubscriptionRequestsThrottled", None
    )


def test_compute_429_body_with_and_without_wrapper() -> None:
    inner = {
        "code": "OperationNotAllowed",
        "message": "The server rejected the request because too many requests have been received.",
        "details": [
            {
                "code": "TooManyRequests",
                "target": "UpdateVM.Resource",
                "message": json.dumps({"operationGroup": "UpdateVM", "allowedRequestCount": 12}),
            }
        ],
    }
    expected = ThrottleError("OperationNotAllowed", "UpdateVM.Resource", allowed=12)
    assert parse_throttle_error(json.dumps({"error": inner})) == expected
    assert parse_throttle_error(inner) == expected
    for odd in ("not json", json.dumps({"allowedRequestCount": "12"}), json.dumps([12]), 12):
        inner["details"][0]["message"] = odd  # type: ignore[index]
        assert parse_throttle_error(inner).allowed is None


def test_bad_bodies_give_an_empty_error() -> None:
    for body in (
        b"",
        b"not json",
        b"\xff\xfe",
        b"[]",
        b'{"error": 3}',
        None,
        42,
        b'{"details": 1}',
    ):
        assert parse_throttle_error(body) == ThrottleError()
    assert parse_throttle_error(b'{"code": 5, "details": [{"target": ""}]}') == ThrottleError()


class _Broken:
    def items(self) -> list[tuple[str, str]]:
        raise RuntimeError("broken mapping")


def test_broken_inputs_never_raise() -> None:
    assert parse_rate_limit_headers(_Broken()) == RateLimitInfo()  # type: ignore[arg-type]
    assert parse_rate_limit_headers([("a",), (1, 2), None, ("Retry-After", 3)]) == RateLimitInfo()  # type: ignore[list-item]


_NAMES = (
    st.sampled_from(
        [
            "x-ms-ratelimit-remaining-resource",
            "x-ms-ratelimit-remaining-subscription-reads",
            "x-ms-ratelimit-remaining-subscription-global-writes",
            "x-ms-ratelimit-remaining-tenant-",
            "x-ms-ratelimit-remaining-",
            "Retry-After",
            "retry-after-ms",
            "x-ms-retry-after-ms",
            "x-ms-user-quota-remaining",
            "x-ms-user-quota-resets-after",
        ]
    )
    | st.text()
)
_VALUES = st.text() | st.from_regex(r"(Microsoft\.Compute/[A-Za-z.0-9]*;-?[0-9]{0,30},?){0,4}")


@given(st.dictionaries(_NAMES, _VALUES) | st.lists(st.tuples(_NAMES, _VALUES)))
def test_parser_never_raises(headers: dict[str, str] | list[tuple[str, str]]) -> None:
    info = parse_rate_limit_headers(headers)
    assert all(v >= 0 for v in [*info.arm.values(), *(c for _, c in info.compute)])
    assert info.retry_after_s is None or info.retry_after_s >= 0


_JSONISH = st.recursive(
    st.none() | st.text() | st.integers(),
    lambda inner: (
        st.lists(inner)
        | st.dictionaries(
            st.sampled_from(["error", "code", "details", "target"]) | st.text(), inner
        )
    ),
)


@given(st.binary() | st.text() | _JSONISH)
def test_body_parser_never_raises(body: object) -> None:
    assert isinstance(parse_throttle_error(body), ThrottleError)


def test_azure_cores_aiohttp_headers_are_read_pair_by_pair() -> None:
    """azure-core's aiohttp response joins a repeated header with ", " in ``items()``, which
    hid a repeated ARM counter; the policy reads the multidict's own pairs (#16: also cheaper)."""
    from types import SimpleNamespace

    from azure.core.rest._aiohttp import _CIMultiDict

    from fleet.azure.throttle_policy import _headers

    raw = CIMultiDict(
        [
            ("x-ms-ratelimit-remaining-subscription-reads", "11999"),
            ("x-ms-ratelimit-remaining-subscription-reads", "11990"),
            ("x-ms-ratelimit-remaining-resource", "Microsoft.Compute/LowCostGet3Min;3996"),
            ("Retry-After", "5"),
        ]
    )
    response = SimpleNamespace(http_response=SimpleNamespace(headers=_CIMultiDict(raw)))
    info = parse_rate_limit_headers(_headers(response))  # type: ignore[arg-type]
    assert info.arm == {"reads": 11990}
    assert info.compute == (("LowCostGet3Min", 3996),)
    assert info.retry_after_s == 5.0
