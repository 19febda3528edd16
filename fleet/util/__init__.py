"""Leaf utilities any layer may import, the emulator (``fleet.sim``) included: modules here
import nothing from the rest of ``fleet`` (an import contract checks it), which is what lets
``fleet.sim`` stay independent of the engine while sharing small, general helpers.

    yamlpos     YAML with source positions (job specs, emulator profiles)
    failpoints  kill the process at an exact step, for crash tests
    procs       start, watch and stop helper processes (test services, dev servers)
"""
