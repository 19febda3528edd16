"""Rollout control, pure logic over ``fleet.model``'s rollout types: the batch plan
(``batches``), error-budget accounting (``budget``), health-gate verdicts (``gates``), the
stop/cancel state machine (``control``) and how a rollout went (``record``). No I/O and no
anyio here; the engine (``fleet.engine.runner``) and the Temporal workflow
(``fleet.temporal``) execute what these decide. Imports only ``fleet.model``.
"""
