"""A trivial Temporal workflow and activity for tests/infra/test_temporal.py. Workflows live in a
module of their own with few imports: the SDK's sandbox re-imports the workflow's module for
every run and refuses non-deterministic imports."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow


@activity.defn
async def greet(target: str) -> str:
    return f"checked {target}: ok (attempt {activity.info().attempt})"


@workflow.defn
class CheckTargets:
    @workflow.run
    async def run(self, targets: list[str]) -> list[str]:
        results = []
        for target in targets:
            result = await workflow.execute_activity(
                greet, target, start_to_close_timeout=timedelta(seconds=30)
            )
            results.append(result)
        return results
