"""Tests of fleet.engine against the in-memory Arm fake (tests/fakes.py): runner, polling,
outcomes."""
