"""fleet on Temporal (issue #14): the rollout driver on fakes, the codec, and runs through a
real Temporal dev server (the ``temporal_server`` session fixture) on the emulator."""
