"""The ``edgeq`` command line: thin Typer commands that parse options, call the API and print.

Errors edgeq raises on purpose, and usage errors, become one line on stderr and a non-zero exit
code; the traceback is shown only with the root option ``edgeq --debug COMMAND ...`` (or
``EDGEQ_DEBUG=1``). Anything else escaping a command is edgeq's own bug: one ``error:`` line
saying so, exit code 70 (EX_SOFTWARE). SIGTERM ends a command like Ctrl-C does (exit 143), after
the cleanup of anything half-written.
"""

from __future__ import annotations

import os
import signal
import sys
import traceback
import warnings

import typer
from typer._click.exceptions import NoArgsIsHelpError

from edgeq.cli import bench as bench_command
from edgeq.cli import convert as convert_command
from edgeq.cli import demo as demo_command
from edgeq.cli import export as export_command
from edgeq.cli import inspect as inspect_command
from edgeq.cli import qat as qat_command
from edgeq.cli import report as report_command
from edgeq.cli import run as run_command
from edgeq.cli import validate as validate_command
from edgeq.errors import EdgeqError, first_line
from edgeq.version import __version__

app = typer.Typer(
    name="edgeq",
    help="Keras models to TensorFlow Lite and microcontroller firmware, with measured numbers.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.command("convert", no_args_is_help=True)(convert_command.convert)
app.command("inspect", no_args_is_help=True)(inspect_command.inspect)
app.command("demo")(demo_command.demo)
app.command("validate", no_args_is_help=True)(validate_command.validate)
app.command("bench", no_args_is_help=True)(bench_command.bench)
app.command("qat", no_args_is_help=True)(qat_command.qat)
app.command("report", no_args_is_help=True)(report_command.report)
app.command("run")(run_command.run)
app.add_typer(export_command.app, name="export")


def _version(value: bool) -> None:
    if value:
        print(f"edgeq {__version__}")
        raise typer.Exit()


# Set by the root callback, read by run() when a command fails.
_debug = {"on": False}


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
    debug: bool = typer.Option(
        False, "--debug", help="Show the traceback when a command fails (goes before the command)."
    ),
) -> None:
    """Keras models to TensorFlow Lite and microcontroller firmware, with measured numbers."""
    _debug["on"] = debug


def run(argv: list[str]) -> int:
    """Run the CLI on ``argv`` (without the program name); returns the exit code."""
    _debug["on"] = False
    command = typer.main.get_command(app)
    try:
        with warnings.catch_warnings():
            # numpy's overflow/invalid-value warnings would turn a one-line error into three; what
            # they warn of is checked where it matters (non-finite data, ranges), with a real message
            warnings.simplefilter("ignore", RuntimeWarning)
            result = command.main(args=argv, prog_name="edgeq", standalone_mode=False)
    except EdgeqError as exc:
        if _debugging():
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        print("error: aborted", file=sys.stderr)
        return 130
    except NoArgsIsHelpError as exc:  # bare ``edgeq`` or ``edgeq convert``: show the help
        print(exc.format_message())
        return 0
    except typer.TyperException as exc:  # usage errors: unknown option, missing argument, bad value
        if _debugging():
            traceback.print_exc()
        context = getattr(exc, "ctx", None)
        where = f" (see {context.command_path} --help)" if context is not None else ""
        if "--debug" in argv and getattr(exc, "option_name", None) == "--debug":
            where = (
                f": --debug is edgeq's own option, put it before the command (edgeq --debug {argv[0]} ...)"
            )
        print(f"error: {exc.format_message()}{where}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("error: terminated (SIGTERM); nothing half-written was left", file=sys.stderr)
        return 143
    except Exception as exc:  # the last line of defence: edgeq's own bug, never a traceback
        if _debugging():
            traceback.print_exc()
        print(
            f"error: internal error in edgeq ({type(exc).__name__}: {first_line(exc, 120)}); this is a bug: "
            "rerun with edgeq --debug ... for the traceback and report it",
            file=sys.stderr,
        )
        return INTERNAL_ERROR
    return result if isinstance(result, int) else 0


INTERNAL_ERROR = 70


class Terminated(BaseException):
    """Raised in the main thread by SIGTERM, so that cleanup (``finally``) runs as for Ctrl-C."""


def _terminate(_signum: int, _frame: object) -> None:
    raise Terminated()


def _debugging() -> bool:
    return _debug["on"] or os.environ.get("EDGEQ_DEBUG") == "1"


def main() -> None:
    """Console-script entry point."""
    signal.signal(signal.SIGTERM, _terminate)
    sys.exit(run(sys.argv[1:]))
