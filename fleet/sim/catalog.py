"""Built-in files shipped inside the fleet package, and how a name-or-path option resolves.

The emulator's fleet profiles (``fleet/sim/profiles/*.yaml``) are package data, read with
:mod:`importlib.resources`, so ``fleet run --sim`` works from any directory and from a
non-editable install. ``fleet.bench`` uses the same :class:`BuiltIns` for its scenarios.

The rule for an option such as ``--profile VALUE`` (``fleet.util.refs``): a bare name is a
built-in; anything else is a path. So ``demo`` is the built-in profile and ``./demo.yaml`` or
``profiles/demo`` a file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

from fleet.sim.profile import Problem, Profile, ProfileError, load_profile, parse_profile_text
from fleet.util.refs import absolute_ref, is_name

__all__ = ["PROFILES", "BuiltIns", "UnknownName", "absolute_ref", "is_name", "load"]

SUFFIX = ".yaml"


class UnknownName(LookupError):
    """A bare name that is not one of the built-ins; the message lists them."""


@dataclass(frozen=True)
class BuiltIns:
    """The ``*.yaml`` files of one package data folder, by name (the file's stem)."""

    package: str  # e.g. "fleet.sim"
    folder: str  # e.g. "profiles"
    what: str  # e.g. "profile", for messages

    def _dir(self) -> Traversable:
        return resources.files(self.package).joinpath(self.folder)

    def names(self) -> list[str]:
        files = (f.name for f in self._dir().iterdir() if f.name.endswith(SUFFIX))
        return sorted(name.removesuffix(SUFFIX) for name in files)

    def file(self, name: str) -> Traversable:
        """The built-in called ``name``; :class:`UnknownName` if there is none."""
        found = self._dir().joinpath(name + SUFFIX)
        if is_name(name) and found.is_file():
            return found
        message = (
            f"no built-in {self.what} called {name!r} (built-in: {', '.join(self.names())}); "
            f"give one of those or the path of a {self.what} YAML file"
        )
        raise UnknownName(message)


PROFILES = BuiltIns("fleet.sim", "profiles", "profile")


def load(ref: str | os.PathLike[str]) -> Profile:
    """A profile by built-in name or path; ``ProfileError`` (file, line, field) if unusable."""
    if not is_name(ref):
        return load_profile(ref)
    try:
        found = PROFILES.file(str(ref))
    except UnknownName as exc:
        raise ProfileError([Problem("--profile", None, "", str(exc))]) from None
    return parse_profile_text(found.read_text(encoding="utf-8"), str(found))
