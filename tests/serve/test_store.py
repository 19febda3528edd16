"""The service store: fires (the scheduler's log, pruned), launches, evaluations that never
alert twice for a run (also across a restart), deliveries."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fleet.model import AlertKind
from fleet.schedule import FireOutcome, FireRecord
from fleet.serve import store as st
from fleet.serve.store import NewAlert, ServeStore

AT = datetime(2026, 1, 1, tzinfo=UTC)
ALERT = NewAlert(AlertKind.REGRESSION, "health: 1 target newly failing: vm-1", ("vm-1",), {"k": 1})


@pytest.fixture
def store(tmp_path: Path) -> ServeStore:
    return ServeStore(tmp_path / "state")


def test_fires_are_the_schedulers_log_and_keep_the_latest(
    store: ServeStore, tmp_path: Path
) -> None:
    assert store.last_nominal("health") is None
    for i in range(st._KEEP_FIRES + 3):
        at = AT + timedelta(minutes=i)
        store.record(FireRecord("health", at, at, FireOutcome.LAUNCHED, run_id=f"r{i}"))
    store.record(FireRecord("other", AT, AT, FireOutcome.OVERLAP, "busy"))
    assert store.last_nominal("health") == AT + timedelta(minutes=st._KEEP_FIRES + 2)
    recent = store.recent("health", 2)
    assert [r.run_id for r in recent] == [f"r{st._KEEP_FIRES + 2}", f"r{st._KEEP_FIRES + 1}"]
    assert len(store.recent("health", 10_000)) == st._KEEP_FIRES
    assert store.recent("other", 5)[0].detail == "busy"
    assert stat.S_IMODE((tmp_path / "state" / st.FILE).stat().st_mode) == 0o600


def test_launches_left_open(store: ServeStore) -> None:
    store.launching("r1", "health", AT, AT)
    store.launching("r2", "health", AT, AT)
    store.set_launch("r2", st.RUNNING)
    store.launching("r3", "health", AT, AT)
    store.set_launch("r3", st.ENDED)
    assert [(x.run_id, x.state) for x in store.open_launches()] == [
        ("r1", st.LAUNCHING), ("r2", st.RUNNING),
    ]  # fmt: skip
    assert [x.run_id for x in store.unevaluated()] == ["r3"]


def test_a_run_is_evaluated_once_even_after_a_restart(tmp_path: Path) -> None:
    first = ServeStore(tmp_path / "state")
    ids = first.evaluate("r1", "health", [ALERT], ["HOOK_A", "HOOK_B"], run_failed=True, at=AT)
    assert len(ids) == 1 and first.evaluated("r1") and first.run_failed("health")
    first.close()
    again = ServeStore(tmp_path / "state")
    assert again.evaluate("r1", "health", [ALERT], ["HOOK_A"], run_failed=False, at=AT) == []
    assert again.run_failed("health")  # the second evaluation changed nothing
    [alert] = again.alerts()
    assert (alert.kind, alert.run_id, alert.targets) == (AlertKind.REGRESSION, "r1", ("vm-1",))
    assert [(d.webhook, d.state) for d in alert.deliveries] == [
        ("webhook $HOOK_A", st.PENDING), ("webhook $HOOK_B", st.PENDING),
    ]  # fmt: skip


def test_deliveries_pending_then_delivered_or_failed(store: ServeStore) -> None:
    [aid] = store.evaluate("r1", "health", [ALERT], ["A", "B"], run_failed=False, at=AT)
    assert [(p.webhook, p.body) for p in store.pending()] == [("A", {"k": 1}), ("B", {"k": 1})]
    store.delivery_attempt(aid, "A", state=st.PENDING, error="HTTP 503", at=AT)
    store.delivery_attempt(aid, "A", state=st.DELIVERED, error=None, at=AT)
    store.delivery_attempt(aid, "B", state=st.FAILED, error="HTTP 404", at=AT)
    assert store.pending() == []
    [alert] = store.alerts("health")
    a, b = alert.deliveries
    assert (a.state, a.attempts, a.delivered_at) == (st.DELIVERED, 2, AT)
    assert (b.state, b.attempts, b.last_error) == (st.FAILED, 1, "HTTP 404")
    assert store.alerts("other") == []
