"""The engine's real clock (fleet.engine.settings.AnyioClock): the event loop's time, and sleeps
that anyio's cancel scopes cancel, on asyncio directly (#16: no backend lookup per call)."""

from __future__ import annotations

import anyio
import pytest

from fleet.engine.settings import AnyioClock

pytestmark = pytest.mark.anyio


async def test_the_clock_is_anyios_and_its_sleep_is_cancelled_by_a_scope() -> None:
    clock = AnyioClock()
    before = anyio.current_time()
    assert before <= clock.now() <= anyio.current_time()
    with anyio.move_on_after(0.01) as scope:
        await clock.sleep(3600)
    assert scope.cancelled_caught
    await clock.sleep(0)  # a zero sleep returns
