"""Tests of the command line (fleet.cli): thin wiring over fleet.api, checked in-process."""
