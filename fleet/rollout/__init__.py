"""Rollout control, pure logic over ``fleet.model``'s rollout types: the batch plan
(``batches``), error-budget accounting (``budget``), health-gate verdicts (``gates``) and the
stop/cancel state machine (``control``). No I/O and no anyio here; the engine
(``fleet.engine.runner``) executes what these decide. Imports only ``fleet.model``.
"""
