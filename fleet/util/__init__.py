"""Leaf utilities any layer may import, the emulator (``fleet.sim``) included.

Modules here import nothing from the rest of ``fleet``: that is what lets ``fleet.sim`` stay
independent of the engine while sharing small, general helpers.
"""
