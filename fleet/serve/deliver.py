"""Delivering alerts to webhooks: POST with retries and exponential backoff, bounded in time;
every attempt recorded in the store (visible in the dashboard) and logged; a failure is never
raised (the service goes on).

Per webhook, alerts go out one at a time in the order they were raised (a recovery never
overtakes its regression); different webhooks do not wait for each other. A 2xx answer
delivers; 408, 429, 5xx and network errors are retried until ``Retry.window_s`` has passed
since the first attempt of this process; any other answer fails the delivery at once. Pending
deliveries left by a stopped service are sent when it starts again.

URLs are secrets: logs and records name the webhook by its environment variable, and error
texts are redacted with the job's secrets (an HTTP library may quote the URL).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiohttp
import anyio
import structlog

from fleet.model import Webhook
from fleet.secrets import Secrets
from fleet.serve.alerts import render
from fleet.serve.store import DELIVERED, FAILED, PENDING, PendingDelivery, ServeStore

log = structlog.get_logger("fleet.serve")

_RETRYABLE = frozenset({408, 429})


@dataclass(frozen=True)
class Retry:
    first_backoff_s: float = 1.0
    max_backoff_s: float = 60.0
    window_s: float = 600.0  # give up once this long has passed since the first attempt
    timeout_s: float = 10.0  # per request


@dataclass(frozen=True)
class Hooks:
    """The webhooks of each job (by environment variable) and each job's secrets."""

    webhooks: Mapping[str, Mapping[str, Webhook]] = field(default_factory=dict)
    secrets: Mapping[str, Secrets] = field(default_factory=dict)


class Deliverer:
    """``run()`` in the service's task group; ``wake()`` after new alerts are recorded."""

    def __init__(
        self,
        store: ServeStore,
        hooks: Hooks,
        retry: Retry | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.hooks = hooks
        self.retry = retry or Retry()
        self.now = now
        self._wake = anyio.Event()
        self._active: set[tuple[str, str]] = set()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        async with aiohttp.ClientSession() as session, anyio.create_task_group() as tg:
            while True:
                for key in {(p.job, p.webhook) for p in self.store.pending()} - self._active:
                    self._active.add(key)
                    tg.start_soon(self._drain, session, key)
                await self._wake.wait()
                self._wake = anyio.Event()

    async def _drain(self, session: aiohttp.ClientSession, key: tuple[str, str]) -> None:
        try:
            while True:
                queue = [p for p in self.store.pending() if (p.job, p.webhook) == key]
                if not queue:
                    break
                await self._deliver(session, queue[0])
        except Exception:  # e.g. the store: the alert stays pending, retried at the next start
            log.exception("alert.delivery_error", job=key[0], webhook=f"${key[1]}")
            self._active.discard(key)
            return
        self._active.discard(key)
        self.wake()  # an alert recorded while this drain was ending is not left behind

    async def _deliver(self, session: aiohttp.ClientSession, item: PendingDelivery) -> None:
        hook = self.hooks.webhooks.get(item.job, {}).get(item.webhook)
        if hook is None:
            self._record(item, FAILED, "the job no longer has this webhook")
            return
        secrets = self.hooks.secrets.get(item.job, Secrets())
        started, backoff = time.monotonic(), self.retry.first_backoff_s
        while True:
            retry, error = await self._post(session, hook, item, secrets)
            if error is None:
                self._record(item, DELIVERED, None)
                return
            spent = time.monotonic() - started
            if not retry or spent + backoff > self.retry.window_s:
                self._record(item, FAILED, error)
                return
            self._record(item, PENDING, error)
            await anyio.sleep(backoff)
            backoff = min(backoff * 2, self.retry.max_backoff_s)

    async def _post(
        self, session: aiohttp.ClientSession, hook: Webhook, item: PendingDelivery, secrets: Secrets
    ) -> tuple[bool, str | None]:
        """(retry?, error or None when delivered)."""
        timeout = aiohttp.ClientTimeout(total=self.retry.timeout_s)
        try:
            body = render(item.body, hook.format)
            async with session.post(hook.url.reveal(), json=body, timeout=timeout) as response:
                status = response.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return True, secrets.redact(f"{type(exc).__name__}: {exc}")[:300]
        if 200 <= status < 300:
            return False, None
        return status in _RETRYABLE or status >= 500, f"HTTP {status}"

    def _record(self, item: PendingDelivery, state: str, error: str | None) -> None:
        at = self.now()
        self.store.delivery_attempt(item.alert_id, item.webhook, state=state, error=error, at=at)
        fields = {"alert_id": item.alert_id, "job": item.job, "kind": item.kind.value}
        webhook = f"${item.webhook}"
        if state == DELIVERED:
            log.info("alert.delivered", webhook=webhook, **fields)
        elif state == FAILED:
            log.warning("alert.delivery_failed", webhook=webhook, error=error, **fields)
        else:
            log.info("alert.delivery_retrying", webhook=webhook, error=error, **fields)
