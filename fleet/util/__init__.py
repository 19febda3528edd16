"""Leaf utilities: modules that import nothing else from fleet, so any layer may use them —
the emulator (``fleet.sim``) included, which may import nothing of fleet but this package.

    yamlpos     YAML with source positions (job specs, emulator profiles)
    failpoints  kill the process at an exact step, for crash tests
"""
