"""fleet.azure.identity and fleet.azure.registry: one set of buckets per (endpoint, principal) in
a process; the key never carries the token."""

from __future__ import annotations

import base64
import json

from fleet.azure.bucket_set import BucketSet
from fleet.azure.identity import identity_key
from fleet.azure.limits import ThrottleLimits
from fleet.azure.registry import holders, shared_buckets


def _jwt(claims: dict[str, str]) -> str:
    def part(data: dict[str, str]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part(claims)}.signature"


def test_tokens_of_one_principal_share_a_key() -> None:
    endpoint = "https://management.azure.com"
    one = _jwt({"tid": "t", "oid": "object-1", "exp": "1"})
    same = _jwt({"tid": "t", "oid": "object-1", "exp": "2"})  # a refreshed token
    other = _jwt({"tid": "t", "oid": "object-2"})
    assert identity_key(endpoint, one) == identity_key(endpoint + "/", same)
    assert identity_key(endpoint, one) != identity_key(endpoint, other)
    assert identity_key(endpoint, one) != identity_key("https://127.0.0.1:8443", one)
    assert len(identity_key(endpoint, one)) == 16


def test_opaque_tokens_and_default_credentials() -> None:
    key = identity_key("https://e", "fleet-sim-token")
    assert key == identity_key("https://e", "fleet-sim-token")
    assert key != identity_key("https://e", "another-token")
    assert "fleet-sim-token" not in key
    assert identity_key("https://e", None, {"AZURE_CLIENT_ID": "a"}) != identity_key(
        "https://e", None, {}
    )
    assert identity_key("https://e", "a.b.c") == identity_key("https://e", "a.b.c")  # not JSON


def test_the_registry_shares_a_set_while_it_is_held() -> None:
    made: list[BucketSet] = []

    def make() -> BucketSet:
        made.append(BucketSet(ThrottleLimits.published()))
        return made[-1]

    with shared_buckets("k", make) as (first, was_made):
        assert was_made and holders("k") == 1
        with shared_buckets("k", make) as (second, again):
            assert second is first and not again and holders("k") == 2
        assert holders("k") == 1
    assert holders("k") == 0
    with shared_buckets("k", make) as (third, was_made):
        assert third is not first and was_made
    assert len(made) == 2
