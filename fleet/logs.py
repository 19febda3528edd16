"""The one ``structlog.configure()``: pretty on a terminal, JSON otherwise (or on request), to
stderr, with secrets redacted from every event.

Redaction is two-fold (``fleet.secrets``): values of keys that name a secret (password, token,
secret, sas, protected...) are masked, and the secret values of the run the logging task
belongs to (``fleet.secrets.current()``, made current by ``fleet.secrets.using`` for the
duration of a run) are replaced wherever they appear — plus any SAS signature.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from fleet import secrets


def redact_processor(
    _logger: Any, _name: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    scrubbed: MutableMapping[str, Any] = secrets.current().scrub(dict(event), mask_keys=True)
    return scrubbed


def _stderr_logger(*_args: Any) -> structlog.PrintLogger:
    # sys.stderr looked up per logger, not once: rich's live progress display swaps it for a
    # proxy that prints log lines above the display instead of through it.
    return structlog.PrintLogger(file=sys.stderr)


def configure(level: str = "warning", fmt: str = "auto") -> None:
    """``fmt``: "console", "json" or "auto" (console on a terminal, JSON otherwise)."""
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_processor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
