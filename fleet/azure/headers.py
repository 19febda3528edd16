"""Pure parsers for what Azure says about throttling: the ``x-ms-ratelimit-remaining-*``,
``Retry-After`` and Resource Graph quota headers, and the error body of a 429.

Nothing here does I/O or raises, whatever the input: a malformed header is ignored, never an
error, because a bad header must not fail a request that Azure answered. Header names are
case-insensitive; a header may repeat (aiohttp's multidict) or hold several comma-joined values.
When the same ARM counter appears twice, the smaller value wins (the conservative reading);
Compute counters are kept as sent, repeats included, because one name may stand for several
buckets (``fleet.azure.compute_counters`` decides which count is whose).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

_ARM_PREFIX = "x-ms-ratelimit-remaining-"
_COMPUTE_HEADER = "x-ms-ratelimit-remaining-resource"
_COMPUTE_PROVIDER = "microsoft.compute/"
_RETRY_MS_HEADERS = ("retry-after-ms", "x-ms-retry-after-ms")  # in precedence order


@dataclass(frozen=True)
class RateLimitInfo:
    """What one response said about the caller's remaining budget."""

    # "reads" / "writes" / "deletes" / "global-reads" / "tenant-reads" / ... -> remaining
    arm: dict[str, int] = field(default_factory=dict)
    # (Compute policy token as sent, remaining), in order, repeats kept:
    # ("UpdateVM.Resource", 11), ("PutVM3Min", 11), ("PutVM3Min", 1499), ...
    compute: tuple[tuple[str, int], ...] = ()
    retry_after_s: float | None = None
    graph_remaining: int | None = None
    graph_resets_after_s: float | None = None


@dataclass(frozen=True)
class ThrottleError:
    """The parts of a 429 body that say which limit was hit (``None`` when not given)."""

    code: str | None = None  # SubscriptionRequestsThrottled, OperationNotAllowed, RateLimiting...
    target: str | None = None  # Compute: details[0].target, the policy ("UpdateVM.Resource")
    # Compute: allowedRequestCount in details[0].message (a JSON text; troubleshooting docs):
    # the capacity of the bucket that refused, which tells a resource bucket from a subscription's
    allowed: int | None = None


def parse_rate_limit_headers(
    headers: Mapping[str, str] | Iterable[tuple[str, str]], now: datetime | None = None
) -> RateLimitInfo:
    """Read every throttling header; ``now`` resolves an HTTP-date ``Retry-After``."""
    arm: dict[str, int] = {}
    compute: list[tuple[str, int]] = []
    seen: dict[str, str] = {}  # single-valued headers: first occurrence wins
    graph_remaining: int | None = None
    for name, value in _pairs(headers):
        if name == _COMPUTE_HEADER:
            compute.extend(_compute_parts(value))
        elif name.startswith(_ARM_PREFIX):
            _arm_counter(arm, name[len(_ARM_PREFIX) :], value)
        elif name == "x-ms-user-quota-remaining":
            count = _non_negative_int(value)
            if count is not None:
                graph_remaining = count if graph_remaining is None else min(graph_remaining, count)
        else:
            seen.setdefault(name, value)
    return RateLimitInfo(
        arm=arm,
        compute=tuple(compute),
        retry_after_s=_retry_after(seen, now),
        graph_remaining=graph_remaining,
        graph_resets_after_s=_hms(seen.get("x-ms-user-quota-resets-after")),
    )


def parse_throttle_error(body: Any) -> ThrottleError:
    """``code`` and ``details[0].target`` of an ARM error body (bytes, str or parsed JSON).

    Accepts the body with or without the outer ``{"error": ...}`` wrapper (the Compute
    throttling article prints it without).
    """
    try:
        data = json.loads(body) if isinstance(body, bytes | bytearray | str) else body
        if isinstance(data, dict) and isinstance(data.get("error"), dict):
            data = data["error"]
        if not isinstance(data, dict):
            return ThrottleError()
        code = data.get("code") if isinstance(data.get("code"), str) else None
        details = data.get("details")
        first = details[0] if isinstance(details, list) and details else None
        target = first.get("target") if isinstance(first, dict) else None
        target = target if isinstance(target, str) and target else None
        allowed = _allowed(first.get("message")) if isinstance(first, dict) else None
        return ThrottleError(code, target, allowed)
    except Exception:  # never raise on a bad body: the 429 is still a 429
        return ThrottleError()


def _allowed(message: Any) -> int | None:
    """``allowedRequestCount`` of a Compute 429's detail message (itself JSON text), if any."""
    try:
        data = json.loads(message) if isinstance(message, str) else None
    except ValueError:
        return None
    count = data.get("allowedRequestCount") if isinstance(data, dict) else None
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        return None
    return count


def _pairs(headers: Any) -> Iterator[tuple[str, str]]:
    """(lower-case name, value) for every header, repeated ones included; stops on bad input."""
    try:
        items = headers.items() if hasattr(headers, "items") else headers
        for item in items:
            try:
                name, value = item
            except (TypeError, ValueError):
                continue
            if isinstance(name, str) and isinstance(value, str):
                yield name.strip().lower(), value
    except Exception:  # a broken mapping yields what it could
        return


def _keep_min(counters: dict[str, int], key: str, value: int) -> None:
    counters[key] = min(value, counters.get(key, value))


def _non_negative_int(text: str) -> int | None:
    text = text.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        return None
    return int(text)


def _arm_counter(arm: dict[str, int], suffix: str, value: str) -> None:
    """``subscription-reads`` -> ``reads``; ``tenant-reads`` -> ``tenant-reads``."""
    count = _non_negative_int(value)
    if count is None or not suffix:
        return
    if suffix.startswith("subscription-"):
        suffix = suffix[len("subscription-") :]
    if suffix:
        _keep_min(arm, suffix, count)


def _compute_parts(value: str) -> Iterator[tuple[str, int]]:
    """``Microsoft.Compute/<Policy>;<n>[,...]`` -> (Policy, n); other providers are skipped.
    Newlines count as separators too (a header sent on several lines, joined by a proxy)."""
    for part in value.replace("\n", ",").split(","):
        name, sep, count_text = part.strip().rpartition(";")
        count = _non_negative_int(count_text) if sep else None
        if count is None or not name.lower().startswith(_COMPUTE_PROVIDER):
            continue
        token = name[len(_COMPUTE_PROVIDER) :].strip()
        if token:
            yield token, count


def _retry_after(seen: Mapping[str, str], now: datetime | None) -> float | None:
    for name in _RETRY_MS_HEADERS:
        millis = _finite_non_negative(seen.get(name))
        if millis is not None:
            return millis / 1000.0
    raw = seen.get("retry-after")
    if raw is None:
        return None
    seconds = _finite_non_negative(raw)
    return seconds if seconds is not None else _http_date_delay(raw, now)


def _finite_non_negative(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        number = float(text.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def _http_date_delay(text: str, now: datetime | None) -> float | None:
    try:
        when = parsedate_to_datetime(text.strip())
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        delay = (when - (now or datetime.now(UTC))).total_seconds()
    except Exception:  # (TypeError, ValueError, OverflowError, IndexError) across Pythons
        return None
    return max(0.0, delay)


def _hms(text: str | None) -> float | None:
    """``hh:mm:ss`` (Resource Graph's ``x-ms-user-quota-resets-after``) -> seconds."""
    if text is None:
        return None
    parts = [_non_negative_int(p) for p in text.strip().split(":")]
    if len(parts) != 3 or None in parts:
        return None
    hours, minutes, seconds = (p or 0 for p in parts)
    return float(hours * 3600 + minutes * 60 + seconds)
