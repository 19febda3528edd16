"""The standalone HTML report: ONE file (inline CSS and SVG, no script, no external request)
with the summary chart, the batches and gates, the output groups and the failing outputs — a
file to paste into an incident channel or attach to a ticket.

Rendered from the JSON report's document through ``fleet.report.view.run_view`` and the Jinja2
templates in ``fleet/report/templates`` (package data), with autoescaping on: target names,
outputs and reasons are text, never markup. The dashboard reuses the same macros
(``run.html.j2``) through ``TEMPLATES``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jinja2

from fleet.report.view import run_view

#: Where the report's templates live, for other Jinja2 environments (the dashboard's).
TEMPLATES = jinja2.PackageLoader("fleet.report", "templates")


def environment(loader: jinja2.BaseLoader = TEMPLATES) -> jinja2.Environment:
    """A Jinja2 environment as fleet renders HTML: autoescaped, undefined names are errors."""
    return jinja2.Environment(
        loader=loader,
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


_ENV = environment()


def html_report(document: Mapping[str, Any]) -> str:
    """The HTML report of a JSON report document."""
    return _ENV.get_template("report.html.j2").render(v=run_view(document))
