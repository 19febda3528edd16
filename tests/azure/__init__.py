"""Tests of fleet.azure: the throttle policy and its buckets, header parsing, request
classes, the Resource Graph query."""
