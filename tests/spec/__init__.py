"""Tests of fleet.spec: job files and flags → JobSpec, and the recipe a run records."""
