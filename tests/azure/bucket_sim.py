"""A discrete-event simulation of fleet's bucket model against a server bucket (the emulator's
own ``TokenBucket``) that others spend too: simulated time, so a minute of traffic takes
milliseconds and every figure is a count. Used by test_bucket_sim.py."""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from fleet.azure.bucket_model import BucketLimits, BucketModel
from fleet.sim.throttle import TokenBucket


@dataclass(frozen=True)
class Scenario:
    limits: BucketLimits
    server: TokenBucket  # a fresh, full bucket; ``spent`` is taken at time 0
    spent: int = 0
    others_per_s: float = 0.0  # another client's steady spending (a token at a time)
    others_until: float = float("inf")
    others_from: float = 0.0  # when the other client starts (a newcomer mid-run)
    start: float = 0.5  # fleet's first request (selection comes first in a real run)
    seconds: float = 60.0
    latency: float = 0.02  # each way is half of it
    concurrency: int = 32  # the engine's PUTs in flight
    peers: tuple[BucketModel, ...] = ()  # other fleet processes sharing the bucket
    peers_start: float | None = None  # when the peers start sending (default: ``start``)
    # when the first process learns of the later ones (a keeper tick); the later ones see it
    # from their start (its presence row is older than they are)
    share_at: float | None = None


@dataclass
class Outcome:
    admitted: int = 0
    refused: int = 0
    others_refused: int = 0


def simulate(s: Scenario, model: BucketModel, step: float = 0.002) -> Outcome:
    """Run fleet (``model``, plus ``s.peers``) against ``s.server`` for ``s.seconds``."""
    server, out = s.server, Outcome()
    server.take(0.0, min(s.spent, server.capacity))
    models = (model, *s.peers)
    if s.share_at is not None:
        for peer in s.peers:
            peer.set_peers(0.0, len(models))
    in_flight = [0 for _ in models]
    events: list[tuple[float, int, int, str, tuple[int, bool, float]]] = []
    seq, t = 0, 0.0
    others_at = s.others_from + 1.0 / s.others_per_s if s.others_per_s else 0.0
    while t < s.seconds:
        while s.others_per_s and others_at <= min(t, s.others_until):
            out.others_refused += not server.take(others_at, 1)
            others_at += 1.0 / s.others_per_s
        while events and events[0][0] <= t:
            at, _, who, kind, answer = heapq.heappop(events)
            if kind == "arrive":
                ok = server.take(at, 1)
                out.admitted += ok and who == 0
                out.refused += not ok
                answer = (server.remaining(at), ok, server.wait_time(at))
                heapq.heappush(events, (at + s.latency / 2, seq, who, "answer", answer))
                seq += 1
                continue
            in_flight[who] -= 1
            count, ok, wait = answer
            models[who].answered(at, count, charged=ok)
            if not ok:
                models[who].throttled(at, wait)
        if s.share_at is not None and s.share_at <= t < s.share_at + step:
            model.set_peers(t, len(models))
        for who, m in enumerate(models):
            begin = s.start if who == 0 or s.peers_start is None else s.peers_start
            while t >= begin and in_flight[who] < s.concurrency and m.wait(t) <= 0:
                m.take(t)
                in_flight[who] += 1
                heapq.heappush(events, (t + s.latency / 2, seq, who, "arrive", (0, True, 0.0)))
                seq += 1
        t += step
    return out
