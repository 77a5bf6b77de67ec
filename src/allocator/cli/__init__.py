"""The ``allocator`` command: thin argument parsing over the layers.

Each sub-command lives in its own module under ``allocator.cli`` and exposes
``register(app: typer.Typer) -> None``; :data:`COMMAND_MODULES` lists them. Errors are
mapped to exit codes (:class:`~allocator.exit_codes.ExitCode`) in one place (:func:`main`):

* 0: success;
* 1: other failure (platform down, refusal, any other :class:`~allocator.errors.AllocatorError`);
* 2: bad input or config (:class:`~allocator.errors.ConfigError`,
  :class:`~allocator.errors.DataError`, a ``ValueError`` from the core's argument checks,
  a usage error), with one line on stderr naming file, line/key and reason;
* 3: a partial apply (some changes landed, some did not).

A command's own result decides its code otherwise (``rebalance``: its result's
:attr:`~allocator.job.results.RebalanceResult.exit_code`).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

import typer
from typer.exceptions import Abort, Exit, TyperException

from allocator.errors import AllocatorError, ConfigError, DataError
from allocator.exit_codes import ExitCode

__all__ = ["COMMAND_MODULES", "EXIT_FAILURE", "EXIT_OK", "EXIT_PARTIAL", "EXIT_USAGE", "main"]

EXIT_OK = ExitCode.OK
EXIT_FAILURE = ExitCode.FAILURE
EXIT_USAGE = ExitCode.USAGE
EXIT_PARTIAL = ExitCode.PARTIAL

COMMAND_MODULES: tuple[str, ...] = (
    "rebalance",
    "backtest",
    "sandbox",
    "simulate",
    "demo",
    "report",
)
"""Modules under ``allocator.cli`` whose ``register(app)`` adds a sub-command."""


def build_app() -> typer.Typer:
    """The typer application with every sub-command registered."""
    app = typer.Typer(
        name="allocator",
        help="Budget allocation and creative testing for TikTok Spark Ads and dark posts.",
        add_completion=False,
        pretty_exceptions_enable=False,
    )

    @app.callback(invoke_without_command=True)
    def _root(
        ctx: typer.Context,
        version: bool = typer.Option(False, "--version", help="Print the version and exit."),
    ) -> None:
        if version:
            from allocator import __version__

            typer.echo(__version__)
            raise typer.Exit(EXIT_OK)
        if ctx.invoked_subcommand is None:
            typer.echo(ctx.get_help())
            raise typer.Exit(EXIT_USAGE)

    for name in COMMAND_MODULES:
        importlib.import_module(f"allocator.cli.{name}").register(app)
    return app


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = typer.main.get_command(build_app())
    try:
        result = command.main(args=args, prog_name="allocator", standalone_mode=False)
    except (ConfigError, DataError) as exc:
        print(f"allocator: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exit as exc:
        return int(exc.exit_code)
    except Abort:
        print("allocator: aborted", file=sys.stderr)
        return EXIT_FAILURE
    except TyperException as exc:  # usage errors: unknown option, missing argument
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            print(f"allocator: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except AllocatorError as exc:
        print(f"allocator: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except ValueError as exc:  # the core's argument checks: a value out of its domain
        print(f"allocator: error: invalid value: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return int(result) if isinstance(result, int) else EXIT_OK


def app() -> None:
    """Console-script entry point."""
    sys.exit(main())
