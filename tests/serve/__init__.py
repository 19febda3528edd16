"""Tests of fleet serve (fleet.serve): alerts, the service store, delivery, jobs, the lock, and
the service end to end as a subprocess."""
