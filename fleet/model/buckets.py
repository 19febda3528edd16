"""``BucketRecord``: one fleet process's last word on one of Azure's throttling buckets, as the
state directory keeps it, so that a resumed run starts from an estimate instead of a full bucket
and processes of one identity know they share its buckets (issue #17)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BucketRecord:
    bucket: str  # "arm:<sub>:writes", "compute:<sub>:<region>:<Policy>", "presence:<sub>|*"
    level: float  # tokens the process could still spend, by its estimate, at ``at``
    rate: float  # tokens per second it allowed itself at ``at``
    at: float  # unix time of the record (the process's heartbeat)
    pid: int
    host: str
