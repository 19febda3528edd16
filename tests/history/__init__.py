"""Tests of the history of scheduled checks (fleet.history)."""
