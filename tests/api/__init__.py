"""Tests of fleet.api, the library: prepare, run, resume, history, estimate."""
