"""YAML source positions for profile errors: re-exported from ``fleet.util.yamlpos``.

Kept so the profile code keeps one import; ``fleet.util.yamlpos`` imports nothing else from fleet,
so the emulator stays independent of the engine.
"""

from __future__ import annotations

from fleet.util.yamlpos import Loc, YamlProblem, format_loc, line_of, parse

__all__ = ["Loc", "YamlProblem", "format_loc", "line_of", "parse"]
