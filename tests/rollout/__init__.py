"""Tests of fleet.rollout (pure): batches, error budget, gates, the stop/cancel machine."""
