"""What every command shares around its work: the exit codes, one clear message for each error,
the graceful stop on SIGTERM and SIGINT, and the log set-up.

Exit codes: 0 ok; 1 some records failed; 2 usage or configuration error; 3 LA unreachable or
credentials refused; 70 internal error (a bug: one line naming the exception's type, the
traceback only at -vv); 143 or 130 stopped by SIGTERM or SIGINT (the calls in flight finished
first; run the same command again to resume).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from functools import wraps
from typing import NoReturn, ParamSpec, TypeVar

import click
import typer
from rich.markup import escape

from .. import stopping
from ..errors import ConfigurationError, LabridgeError, internal_error_line
from . import console, logs

EXIT_FAILED_RECORDS, EXIT_CONFIG, EXIT_LA = 1, 2, 3
#: An exception labridge did not expect (sysexits.h EX_SOFTWARE): a bug to report.
EXIT_INTERNAL = 70

P = ParamSpec("P")
R = TypeVar("R")

#: ``--log-format``, set by the main callback before each command runs.
_log_format = logs.LogFormat.text


def set_log_format(fmt: logs.LogFormat) -> None:
    """The main callback's ``--log-format``, for every command's log set-up after it."""
    global _log_format
    _log_format = fmt
    # Every command logs its warnings to its own stderr (the file-mode warnings, say), those
    # without -v too; a command with -v/-vv sets its level again.
    logs.configure(0, fmt)


def log_verbosity(verbose: int, *, run: bool = False) -> None:
    logs.configure(verbose, _log_format, run=run)


def exit_code(exc: LabridgeError) -> int:
    """A configuration error is the user's to fix (2); LA unreachable, refusing the credentials
    or answering what cannot be read, and any other labridge error, is LA's side (3)."""
    return EXIT_CONFIG if isinstance(exc, ConfigurationError) else EXIT_LA


def handles_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn labridge's errors into one clear message on stderr and the documented exit code;
    a store failing mid-command is a store error (exit 2); anything else is an internal error
    (exit 70) shown as one line without its message, which may quote personal data."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        as_json = bool(kwargs.get("as_json"))
        try:
            return fn(*args, **kwargs)
        except stopping.StopRequested as stop:
            logging.getLogger("labridge").warning("%s", stop.args[0])  # the one line
            raise typer.Exit(stop.exit_code) from None
        except LabridgeError as exc:
            show_error(exc, as_json=as_json)
        except (typer.Exit, typer.Abort, click.exceptions.Exit, click.ClickException, click.Abort):
            raise  # the command's own exit codes, and usage errors
        except KeyboardInterrupt:
            # Commands without a graceful stop (:func:`stoppable`) end here on Ctrl+C.
            console.err.print("interrupted: run the same command again")
            raise typer.Exit(130) from None
        except Exception as exc:
            store_error = _store_error(exc)
            if store_error is not None:
                show_error(store_error, as_json=as_json)
            _internal_error(exc, as_json=as_json)

    return wrapper


def _store_error(exc: Exception) -> LabridgeError | None:
    """A SQLAlchemy failure as the store error naming the store; ``None`` for anything else.
    SQLAlchemy is only asked when a command has imported it (else it cannot have raised)."""
    if "sqlalchemy" not in sys.modules:
        return None
    from sqlalchemy.exc import SQLAlchemyError

    from ..store.engine import store_failure

    return store_failure(exc) if isinstance(exc, SQLAlchemyError) else None


def _internal_error(exc: Exception, *, as_json: bool) -> NoReturn:
    # The traceback (masked) only at -vv; the line itself never carries str(exc).
    logging.getLogger("labridge").debug("internal error", exc_info=True)
    line = internal_error_line(exc)
    if as_json:
        hint = "run the command again with -vv"
        console.print_json({"error": {"message": line, "exit_code": EXIT_INTERNAL, "hint": hint}})
    console.err.print(escape(line), highlight=False)
    raise typer.Exit(EXIT_INTERNAL) from None


def show_error(exc: LabridgeError, *, as_json: bool = False) -> NoReturn:
    if as_json:  # stdout stays valid JSON: what was done, and the error
        console.print_json(console.error_json(exc, exit_code(exc)))
    message = escape(str(exc.args[0] if exc.args else exc))
    console.err.print(f"[bold red]error:[/bold red] {message}")
    if exc.hint:
        console.err.print(f"[yellow]what to do:[/yellow] {escape(exc.hint)}")
    raise typer.Exit(exit_code(exc)) from None


def stoppable(fn: Callable[P, R]) -> Callable[P, R]:
    """Stop gracefully on SIGTERM and SIGINT while the command runs (:mod:`labridge.stopping`)."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with stopping.handling_signals():
            return fn(*args, **kwargs)

    return wrapper
