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
import warnings
from collections.abc import Callable, Sequence
from typing import TextIO

import typer
from typer import _click as click
from typer.core import TyperCommand, TyperGroup
from typer.exceptions import Abort, Exit, TyperException
from typer.models import CommandFunctionType

from allocator.errors import AllocatorError, ConfigError, DataError
from allocator.exit_codes import ExitCode

__all__ = [
    "COMMANDS",
    "COMMAND_MODULES",
    "EXIT_CODES_HELP",
    "EXIT_FAILURE",
    "EXIT_OK",
    "EXIT_PARTIAL",
    "EXIT_USAGE",
    "PlainUsageCommand",
    "command_with_exit_codes",
    "exit_codes_help",
    "main",
]

EXIT_OK = ExitCode.OK
EXIT_FAILURE = ExitCode.FAILURE
EXIT_USAGE = ExitCode.USAGE
EXIT_PARTIAL = ExitCode.PARTIAL

COMMANDS: dict[str, tuple[str, str]] = {
    "rebalance": ("rebalance", "Plan today's budgets; with --apply, apply them."),
    "validate": ("validate", "Check a job's config and data; plan nothing."),
    "history": ("history", "Past runs of a job from its store."),
    "simulate": ("simulate", "Simulate an experiment's policies and write the results."),
    "demo": ("demo", "The daily job against the local TikTok API emulation."),
    "backtest": ("backtest", "Backtests on logged history."),
    "sandbox": ("sandbox", "Local emulation of the TikTok Marketing API."),
    "report": ("report", "Write the HTML report of an account or of a simulation."),
}
"""Sub-command name -> (module under ``allocator.cli``, one-line help for ``--help``)."""

COMMAND_MODULES: tuple[str, ...] = tuple(dict.fromkeys(m for m, _ in COMMANDS.values()))
"""Modules under ``allocator.cli`` whose ``register(app)`` adds a sub-command."""


def exit_codes_help(*codes: tuple[str, str]) -> str:
    """A help epilog listing ``(code, meaning)`` pairs, one a line, never re-wrapped."""
    return "\b\nExit codes:\n" + "\n".join(f"  {code}  {text}" for code, text in codes)


def command_with_exit_codes(
    app: typer.Typer, name: str, *codes: tuple[str, str]
) -> Callable[[CommandFunctionType], CommandFunctionType]:
    """``app.command(name)``, its ``(code, meaning)`` exit codes listed under its ``--help``."""
    return app.command(name, epilog=exit_codes_help(*codes))


EXIT_CODES_HELP = exit_codes_help(
    ("0", "success, nothing to do, or a dry run"),
    ("1", "failure or refusal (platform down, lock held, stale state)"),
    ("2", "bad input or config (one line naming file, line or key)"),
    ("3", "partial apply"),
)
"""The exit codes listed under ``allocator --help``."""


class PlainUsageCommand(TyperCommand):
    """A command whose usage line shows a required argument as ``CONFIG``, not ``{CONFIG}``."""

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        """The usage line's pieces, the arguments without typer's braces."""
        return [piece.strip("{}") for piece in super().collect_usage_pieces(ctx)]


class _LazyGroup(TyperGroup):
    """The root group: a sub-command's module is imported only when that command runs.

    ``allocator --help`` and ``--version`` then import neither the engine nor pandas,
    scipy, pydantic, httpx or rich (see ``python -m allocator.bench startup``).
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every sub-command's name, without importing any."""
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The sub-command ``cmd_name``, its module imported now; ``None`` if unknown."""
        if cmd_name not in COMMANDS:
            return None
        module_name = COMMANDS[cmd_name][0]
        sub = typer.Typer(rich_markup_mode=None)
        importlib.import_module(f"allocator.cli.{module_name}").register(sub)
        return typer.main.get_group(sub).get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The help's command list, from :data:`COMMANDS` (no module imported)."""
        with formatter.section("Commands"):
            formatter.write_dl([(name, text) for name, (_, text) in COMMANDS.items()])


def _print_version(value: bool) -> None:
    """``--version``: print it and stop, before any other option is looked at."""
    if value:
        from allocator import __version__

        typer.echo(__version__)
        raise typer.Exit(EXIT_OK)


def build_app() -> typer.Typer:
    """The typer application; sub-commands load on use (:class:`_LazyGroup`)."""
    app = typer.Typer(
        name="allocator",
        cls=_LazyGroup,
        help="Budget allocation and creative testing for TikTok Spark Ads and dark posts.",
        epilog=EXIT_CODES_HELP,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    )

    @app.callback(invoke_without_command=True)
    def _root(
        ctx: typer.Context,
        version: bool = typer.Option(
            False,
            "--version",
            help="Print the version and exit.",
            is_eager=True,
            callback=_print_version,
        ),
    ) -> None:
        if ctx.invoked_subcommand is None:
            typer.echo(ctx.get_help())
            raise typer.Exit(EXIT_USAGE)

    return app


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    with warnings.catch_warnings():
        warnings.showwarning = _one_line_warning
        return _run(args)


def _one_line_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """Show a warning as one line on stderr: its message, without source path or code."""
    print(f"allocator: warning: {message}", file=sys.stderr if file is None else file)


def _run(args: list[str]) -> int:
    """:func:`main` with the warnings shown one line each."""
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
