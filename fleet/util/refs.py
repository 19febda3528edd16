"""Name-or-path references, as options like ``--profile VALUE`` take them: a bare name
(letters, digits, ``-`` and ``_``; no ``/``, no ``.``) names a built-in; anything else is a
path, relative to the current directory. So ``demo`` is a built-in and ``./demo.yaml`` a file.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def is_name(ref: str | os.PathLike[str]) -> bool:
    """Whether ``ref`` names a built-in (a bare name) rather than a path."""
    return isinstance(ref, str) and _NAME.fullmatch(ref) is not None


def absolute_ref(ref: str | os.PathLike[str]) -> str:
    """``ref`` as it should be recorded to mean the same thing from any directory."""
    return ref if isinstance(ref, str) and is_name(ref) else str(Path(ref).resolve())
