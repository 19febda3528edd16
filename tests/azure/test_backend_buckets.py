"""fleet.azure.backend: every backend of one identity in a process draws from one bucket set
(the registry), another identity or endpoint from its own, and one with limits of its own
(``ThrottleLimits.unlimited()``: the limiter off) from private buckets. Nothing is sent: opening
a backend makes no request."""

from __future__ import annotations

from typing import Any

import pytest

from fleet.azure.backend import ConnectionSettings, azure_backend
from fleet.azure.identity import identity_key
from fleet.azure.limits import ThrottleLimits
from fleet.azure.registry import holders
from fleet.model import Secret
from fleet.ports import Backend

pytestmark = pytest.mark.anyio

ENDPOINT = "https://127.0.0.1:9"  # never contacted


def _settings(token: str = "token-a", **kw: Any) -> ConnectionSettings:
    return ConnectionSettings(arm_endpoint=ENDPOINT, token=Secret(token), **kw)


def _buckets(backend: Backend) -> Any:
    return backend.arm_counters.__self__.buckets  # type: ignore[attr-defined]  # ThrottleState


async def test_backends_of_one_identity_share_their_buckets() -> None:
    key = identity_key(ENDPOINT, "token-a")
    async with azure_backend(_settings()) as first, azure_backend(_settings()) as second:
        assert holders(key) == 2
        assert _buckets(first) is _buckets(second)
        async with azure_backend(_settings("token-b")) as other:
            assert _buckets(other) is not _buckets(first)
    assert holders(key) == 0


async def test_the_limiter_switched_off_has_no_buckets_and_shares_nothing() -> None:
    async with azure_backend(_settings(limits=ThrottleLimits.unlimited())) as off:
        assert off.arm_counters().throttled == 0
        assert _buckets(off).limits.arm == {}
        assert holders(identity_key(ENDPOINT, "token-a")) == 0
