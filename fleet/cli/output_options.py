"""The ``fleet run`` output-storage flags (an option group for ``with_options``); they map onto a
job's ``output:`` section and may override a job file's (``fleet.spec.output.OutputOptions``).
"""

from __future__ import annotations

from typing import Annotated

import typer

OUT = "Full outputs (also override a job file's output: section)"

OutputContainerOpt = Annotated[
    str | None,
    typer.Option(
        "--output-container",
        help="Blob container for full outputs, https://ACCOUNT.blob.core.windows.net/CONTAINER "
        "(must exist; fleet issues a short-lived SAS per blob). With --sim the container is made "
        "in a local Azurite fleet starts, whatever the account.",
        rich_help_panel=OUT,
    ),
]
CompletionOpt = Annotated[
    str | None,
    typer.Option(
        "--completion",
        help="arm (read each run command's instance view) or storage (the wrapped script "
        "appends a completion record to its output blob; fleet watches the container and asks "
        "ARM only for targets without one). Needs an output container.",
        rich_help_panel=OUT,
    ),
]


def output_options(
    output_container: OutputContainerOpt = None,
    completion: CompletionOpt = None,
) -> None:
    """(parameters only)"""
