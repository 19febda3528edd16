"""Delivering alerts to a real webhook receiver on 127.0.0.1: retried with backoff on 503,
given up at once on a 4xx, given up when the time window is spent, errors recorded without the
URL (a secret)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import anyio
import pytest

from fleet.model import AlertKind, BodyFormat, Secret, Webhook
from fleet.secrets import Secrets
from fleet.serve import store as st
from fleet.serve.deliver import Deliverer, Hooks, Retry
from fleet.serve.store import NewAlert, ServeStore
from tests.serve import servekit

AT = datetime(2026, 1, 1, tzinfo=UTC)
FAST = Retry(first_backoff_s=0.01, max_backoff_s=0.05, window_s=5, timeout_s=5)


def alert(kind: AlertKind = AlertKind.REGRESSION) -> NewAlert:
    body = {"kind": kind.value, "summary": "s", "targets": [], "more": 0, "run_id": "r1"}
    return NewAlert(kind, "s", (), body)


async def deliver_all(store: ServeStore, url: str, retry: Retry = FAST) -> None:
    hook = Webhook(Secret(url), BodyFormat.GENERIC, "HOOK")
    hooks = Hooks({"health": {"HOOK": hook}}, {"health": Secrets.of([url])})
    deliverer = Deliverer(store, hooks, retry)
    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            tg.start_soon(deliverer.run)
            while store.pending():  # noqa: ASYNC110 - the condition is in the store (SQLite)
                await anyio.sleep(0.02)
            tg.cancel_scope.cancel()


def deliveries(store: ServeStore) -> list[tuple[str, int, str | None]]:
    return [(d.state, d.attempts, d.last_error) for a in store.alerts() for d in a.deliveries]


def test_retried_until_delivered_in_order(tmp_path: Path) -> None:
    store = ServeStore(tmp_path)
    store.evaluate("r1", "health", [alert()], ["HOOK"], run_failed=False, at=AT)
    store.evaluate("r2", "health", [alert(AlertKind.RECOVERY)], ["HOOK"], run_failed=False, at=AT)
    with servekit.receiver(fail_first=2) as hook:
        anyio.run(deliver_all, store, hook.url)
    assert [b["kind"] for b in hook.bodies] == ["regression", "recovery"]  # in order
    assert sorted(deliveries(store)) == [(st.DELIVERED, 1, None), (st.DELIVERED, 3, None)]


def test_a_client_error_fails_at_once(tmp_path: Path) -> None:
    store = ServeStore(tmp_path)
    store.evaluate("r1", "health", [alert()], ["HOOK"], run_failed=False, at=AT)
    with servekit.receiver() as hook:
        anyio.run(deliver_all, store, hook.url.replace("/hook/", "/nowhere/"))
    assert deliveries(store) == [(st.FAILED, 1, "HTTP 404")]


def test_an_unreachable_webhook_is_given_up_within_the_window(tmp_path: Path) -> None:
    store = ServeStore(tmp_path)
    store.evaluate("r1", "health", [alert()], ["HOOK"], run_failed=False, at=AT)
    url = "http://127.0.0.1:9/hook/s3cr3t"  # the discard port: nothing listens
    anyio.run(deliver_all, store, url, Retry(first_backoff_s=0.05, max_backoff_s=0.1, window_s=0.5))
    [(state, attempts, error)] = deliveries(store)
    assert state == st.FAILED and attempts >= 2
    assert error is not None and "s3cr3t" not in error


def test_a_webhook_the_job_no_longer_has_is_failed(tmp_path: Path) -> None:
    store = ServeStore(tmp_path)
    store.evaluate("r1", "health", [alert()], ["GONE"], run_failed=False, at=AT)
    anyio.run(deliver_all, store, "http://127.0.0.1:9/x")
    assert deliveries(store) == [(st.FAILED, 1, "the job no longer has this webhook")]


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HTTP_PROXY", raising=False)
