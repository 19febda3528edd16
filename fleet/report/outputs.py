"""``LocalOutputFiles`` (``fleet.ports.OutputFiles``): the full outputs fleet read from the
output blobs, kept on the local disk, one file per stream: ``ROOT/<target key>/stdout`` and
``.../stderr``, byte for byte what the blob held (minus fleet's completion record; a secret
value of the run the script printed is ``***``). Private like the journal (directories 0700,
files 0600): outputs can be sensitive. The report references each file by absolute path; the
caller picks ROOT (the journal's state directory, or beside the report)."""

from __future__ import annotations

import os
from pathlib import Path

from fleet.errors import FleetError


class LocalOutputFiles:
    def __init__(self, root: Path) -> None:
        self.root = root

    def save(self, key: str, stream: str, data: bytes) -> str:
        folder = self.root / key
        path = folder / stream
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
        except OSError as exc:
            message = f"cannot keep the full output in {path}: {exc.strerror or exc}"
            raise FleetError(message) from exc
        return str(path.resolve())
