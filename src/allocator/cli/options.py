"""Options shared by the job's sub-commands, declared once (name, type and help)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["JobConfigOption", "flag"]

JobConfigOption = Annotated[Path, typer.Option("--config", help="Job config (TOML).")]
"""``--config PATH``: the job's TOML file."""


def flag(name: str, help_text: str) -> typer.models.OptionInfo:
    """A boolean ``--name`` option (default off) with its help text."""
    info: typer.models.OptionInfo = typer.Option(name, help=help_text)
    return info
