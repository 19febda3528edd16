"""The one ``structlog.configure()``: pretty on a terminal, JSON otherwise (or on request), to
stderr, with secrets redacted from every event.

Redaction is two-fold: values of keys that name a secret (password, token, secret, sas,
protected...) are masked, and every registered secret value (``register_secrets``) is replaced
wherever it appears in an event's text.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any

import structlog

_SECRET_KEY = re.compile(r"pass(word)?|secret|token|sas|signature|protected|credential", re.I)
_SAS_SIG = re.compile(r"([?&]sig=)[^&\s\"']+", re.I)
_secrets: set[str] = set()


def register_secrets(values: Iterable[str]) -> None:
    """Values that must never appear in a log line (protected parameters, passwords)."""
    _secrets.update(v for v in values if v and len(v) >= 3)


def scrub(text: str) -> str:
    for value in _secrets:
        text = text.replace(value, "***")
    return _SAS_SIG.sub(r"\1***", text)


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: "***" if _SECRET_KEY.search(str(k)) else _redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact(v) for v in value)
    return value


def redact_processor(
    _logger: Any, _name: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in list(event):
        event[key] = "***" if _SECRET_KEY.search(key) else _redact(event[key])
    return event


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
