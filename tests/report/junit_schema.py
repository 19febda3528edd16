"""fleet's own JUnit XML schema (tests/fixtures/junit/junit.xsd, see the README there): where it
is and one loaded instance. It is an XSD 1.1 schema (its count checks are assertions), so it is
loaded with ``xmlschema.XMLSchema11``; an XSD 1.0 processor declares nothing from it and so
rejects every document rather than passing a bad one."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import xmlschema

JUNIT_XSD = Path(__file__).resolve().parents[1] / "fixtures" / "junit" / "junit.xsd"


@cache
def junit_schema() -> xmlschema.XMLSchema11:
    """The schema, parsed once per process."""
    return xmlschema.XMLSchema11(JUNIT_XSD)
