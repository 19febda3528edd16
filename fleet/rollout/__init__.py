"""Rollout control, pure: the policy a job's ``rollout:`` section parses into (``policy``), the
batch plan (``batches``), error-budget accounting (``budget``), health-gate verdicts
(``gates``) and the stop/cancel state machine (``control``). No I/O and no anyio here; the
engine (``fleet.engine.runner``) executes what these decide.

Kept import-free on purpose: ``fleet.model`` imports ``fleet.rollout.policy``.
"""
