"""``MemoryFireLog``: a ``FireLog`` in memory (tests, and a service without a state dir)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from fleet.schedule.interface import FireRecord


class MemoryFireLog:
    def __init__(self) -> None:
        self.records: dict[str, list[FireRecord]] = defaultdict(list)

    def last_nominal(self, job: str) -> datetime | None:
        rows = self.records.get(job)
        return max(r.nominal for r in rows) if rows else None

    def record(self, record: FireRecord) -> None:
        self.records[record.job].append(record)

    def recent(self, job: str, limit: int) -> list[FireRecord]:
        return list(reversed(self.records.get(job, [])[-limit:]))
