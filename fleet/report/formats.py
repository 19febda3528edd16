"""Report formats: ``--report-format json|junit|csv|html``. Every format renders the same JSON
report document (``report_to_dict``), so ``fleet run --report`` and ``fleet show`` agree.

``render`` turns a document into a file's bytes; ``write_document`` writes them atomically.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

from fleet.errors import SpecError
from fleet.report.csv_report import csv_text
from fleet.report.files import write_atomic
from fleet.report.json_report import json_text
from fleet.report.junit import junit_xml


class ReportFormat(StrEnum):
    JSON = "json"
    JUNIT = "junit"
    CSV = "csv"
    HTML = "html"


#: The usual file suffix and media type of each format.
SUFFIX = {ReportFormat.JSON: ".json", ReportFormat.JUNIT: ".xml", ReportFormat.CSV: ".csv",
          ReportFormat.HTML: ".html"}  # fmt: skip
MEDIA_TYPE = {
    ReportFormat.JSON: "application/json",
    ReportFormat.JUNIT: "application/xml",
    ReportFormat.CSV: "text/csv; charset=utf-8",
    ReportFormat.HTML: "text/html; charset=utf-8",
}


def parse_format(value: str) -> ReportFormat:
    """``value`` as a format (case-insensitive); ``SpecError`` (exit 2) naming the choices."""
    try:
        return ReportFormat(value.strip().lower())
    except ValueError:
        choices = ", ".join(f.value for f in ReportFormat)
        raise SpecError(f"--report-format must be one of {choices}, got {value!r}.") from None


def format_for(path: Path | None) -> ReportFormat:
    """The format a report file's name asks for when ``--report-format`` is not given:
    ``report.xml`` is JUnit, ``.csv`` CSV, ``.html``/``.htm`` HTML, anything else JSON."""
    suffix = path.suffix.lower() if path is not None else ""
    by_suffix = {v: k for k, v in SUFFIX.items()} | {".htm": ReportFormat.HTML}
    return by_suffix.get(suffix, ReportFormat.JSON)


def render(document: Mapping[str, Any], fmt: ReportFormat) -> bytes:
    """The report file's bytes in ``fmt`` (UTF-8 text, or JUnit's XML with its declaration)."""
    if fmt is ReportFormat.JUNIT:
        return junit_xml(document, hostname=socket.gethostname())
    if fmt is ReportFormat.CSV:
        return csv_text(document).encode("utf-8")
    if fmt is ReportFormat.HTML:
        from fleet.report.html_report import html_report  # Jinja2: only when asked for

        return html_report(document).encode("utf-8")
    return json_text(document).encode("utf-8")


def write_document(path: Path, document: Mapping[str, Any], fmt: ReportFormat) -> None:
    """Write the report in ``fmt`` to ``path`` atomically (``FleetError`` if it cannot)."""
    write_atomic(Path(path), render(document, fmt))
