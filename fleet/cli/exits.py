"""How the ``fleet`` command ends when something goes wrong: one or two lines on stderr that say
what failed, where and what to do, and a documented exit code (``fleet.errors``) — never a
traceback, unless the operator asked for one with ``fleet --debug`` (or ``--log-level debug``)
to put in a bug report.

    FleetError          its message, its exit code (2, 3, 4, 5)
    KeyboardInterrupt   "interrupted", 130 (before a run starts: nothing was sent)
    anything else       a bug: "internal error", 70 (EX_SOFTWARE), and how to get the traceback
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.markup import escape

from fleet.errors import FleetError

INTERNAL_ERROR = 70
INTERRUPTED = 130

# Off a terminal (a CI log, 2>file) a message is one line whatever its length: rich would wrap
# at 80 columns there ("...running targets get up to 10m to" / "finish, then ...").
err_console = Console(stderr=True, soft_wrap=not sys.stderr.isatty())


class _State:
    debug = False


def set_debug(on: bool = True) -> None:
    """Show tracebacks from now on (``--debug``, ``--log-level debug``)."""
    _State.debug = _State.debug or on


def debugging() -> bool:
    return _State.debug


def _traceback(exc: BaseException) -> None:
    if _State.debug:
        import traceback

        err_console.print(
            "".join(traceback.format_exception(exc)), markup=False, highlight=False, end=""
        )


def say_error(text: str) -> None:
    """``error: text`` on stderr, on one unwrapped line (editors and grep parse it)."""
    err_console.print(f"[bold red]error:[/] {escape(text)}", highlight=False, soft_wrap=True)


def fail(exc: FleetError) -> typer.Exit:
    """Report ``exc`` and return the ``typer.Exit`` with its exit code (``raise fail(exc)``)."""
    _traceback(exc)
    say_error(str(exc))
    return typer.Exit(exc.exit_code)


def _unwrap(exc: BaseException) -> BaseException:
    """A lone exception out of (nested) exception groups; a group of several stays a group."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def crash(exc: BaseException) -> int:
    """The exit code for an exception no command handled, after saying what happened."""
    inner = _unwrap(exc)
    if isinstance(inner, FleetError):
        fail(inner)
        return inner.exit_code
    if isinstance(inner, KeyboardInterrupt):
        err_console.print("interrupted", highlight=False)
        return INTERRUPTED
    _traceback(exc)
    where = "" if _State.debug else " Run it again with `fleet --debug ...` for the traceback"
    say_error(
        f"internal error: {type(inner).__name__}: {inner}. This is a bug in fleet.{where} "
        "and report it (with the command you ran)."
    )
    return INTERNAL_ERROR


def run_cli(app: typer.Typer) -> None:
    """Run ``app``; whatever escapes it ends as :func:`crash` says."""
    try:
        app()
    except SystemExit:
        raise
    except BaseException as exc:  # the one place every failure ends
        sys.exit(crash(exc))
