"""Tests of ``fleet.secrets``: collecting a job's secrets, redacting text and structures, and
the run-scoped secrets the log redaction reads."""
