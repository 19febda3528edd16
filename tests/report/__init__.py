"""Tests of fleet.report: output groups, the JSON report, the terminal summary and progress."""
