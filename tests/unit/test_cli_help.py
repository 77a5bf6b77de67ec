"""The command line's help: ``-h`` works, flags read plainly, and it starts light."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from allocator.cli import COMMANDS, main

HEAVY = ("numpy", "pandas", "scipy", "pydantic_core", "httpx", "rich", "allocator.core.engine")


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_help_and_version_import_no_heavy_library(flag: str) -> None:
    code = (
        "import sys\n"
        "from allocator.cli import main\n"
        f"code = main([{flag!r}])\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules and m != 'pydantic_core'], code)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip().splitlines()[-1] == "[] 0"


@pytest.mark.parametrize("args", [["-h"], ["rebalance", "-h"], ["backtest", "ope", "-h"]])
def test_short_help_flag_works(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 0
    assert "Usage: allocator" in capsys.readouterr().out


def test_help_lists_every_command_without_type_noise(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert f"  {name} " in out
    assert "<bool>" not in out
    assert "\n    2  bad input or config" in out  # one exit code a line, never re-wrapped
    assert "\n    3  partial apply\n" in out


@pytest.mark.parametrize("command", ["rebalance", "simulate", "demo", "validate", "history"])
def test_flags_read_plainly(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "<bool>" not in out
    assert "{" not in out.splitlines()[0]  # usage line: CONFIG, not {config}
    assert all(len(line) <= 100 for line in out.splitlines())


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rebalanse"]) == 2
    assert "rebalanse" in capsys.readouterr().err


def test_warnings_print_one_line_each_without_source_lines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    example = Path(__file__).resolve().parents[2] / "configs" / "example" / "job.toml"
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # the suite turns warnings into errors
        assert main(["rebalance", "--config", str(example), "--as-of", "2026-11-10"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err
    assert all(line.startswith("allocator: warning: ") for line in err)
    assert any("left out" in line for line in err)
    assert not any(".py:" in line or "to_arrays(" in line for line in err)


@pytest.mark.parametrize("command", ["rebalance", "validate", "history"])
def test_exit_codes_are_listed_one_a_line(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "-h"]) == 0
    out = capsys.readouterr().out
    listed = out.split("Exit codes:\n")[1].splitlines()
    assert listed[0].startswith("    0  ")
    assert any(line.startswith("    2  ") for line in listed)
