"""The ``background`` section of a fleet profile (also the body of ``POST /_sim/background``):
other clients spending throttle budget while the caller under test runs. Pure: no I/O; the loads
themselves are in ``fleet.sim.background``.

Example::

    background:
      arm:        # another job of the SAME principal (default: the profile's first principal)
        - {name: nightly-job, kind: writes, spent: 200, rate_per_s: 3}
      compute:    # another principal spending Compute's per-subscription, per-region budget
        - {name: other-team, region: eastus, policy: UpdateVM, rate_per_min: 300}

``subscription`` defaults to the profile's first; ``start`` (Azure-seconds since the emulator
started; ``"+N"`` at run time means N from now) and ``duration`` (unset: until stopped) bound it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, NonNegativeFloat, NonNegativeInt, PositiveFloat

from fleet.sim.background import ArmLoad, ComputeLoad
from fleet.sim.profile_sections import ComputePolicyName, Guid, StrictModel, Text


class _LoadModel(StrictModel):
    name: Text = Field(min_length=1)
    subscription: Guid | None = None
    spent: NonNegativeInt = 0
    start: NonNegativeFloat = 0.0
    duration: PositiveFloat | None = None

    def _end(self) -> float | None:
        return None if self.duration is None else self.start + self.duration


class ArmLoadModel(_LoadModel):
    """Another client of ``principal``: ``spent`` of its ``kind`` bucket gone at ``start``, then
    ``rate_per_s`` more."""

    principal: Text | None = None
    kind: Literal["reads", "writes", "deletes"] = "writes"
    rate_per_s: NonNegativeFloat = 0.0

    def build(self, subscription: str, principal: str) -> ArmLoad:
        return ArmLoad(
            name=self.name,
            subscription=self.subscription or subscription,
            spent=self.spent,
            start=self.start,
            end=self._end(),
            principal=self.principal or principal,
            kind=self.kind,
            rate_per_s=self.rate_per_s,
        )


class ComputeLoadModel(_LoadModel):
    """Another principal spending the (subscription, ``region``, ``policy``) bucket."""

    region: Text
    policy: ComputePolicyName = "UpdateVM"
    rate_per_min: NonNegativeFloat = 0.0
    principal: Text = "another-principal"

    def build(self, subscription: str) -> ComputeLoad:
        return ComputeLoad(
            name=self.name,
            subscription=self.subscription or subscription,
            spent=self.spent,
            start=self.start,
            end=self._end(),
            region=self.region.replace(" ", "").lower(),
            policy=self.policy,
            rate_per_min=self.rate_per_min,
            principal=self.principal,
        )


class BackgroundSection(StrictModel):
    arm: list[ArmLoadModel] = []
    compute: list[ComputeLoadModel] = []

    def build(self, subscription: str, principal: str) -> list[ArmLoad | ComputeLoad]:
        """Loads with defaults filled in (``subscription``, the caller's ``principal``)."""
        arm: list[ArmLoad | ComputeLoad] = [m.build(subscription, principal) for m in self.arm]
        return arm + [m.build(subscription) for m in self.compute]
