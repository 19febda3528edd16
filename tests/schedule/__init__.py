"""Tests of the schedule arithmetic and the embedded scheduler (fleet.schedule)."""
