"""ruff and mypy are part of the test suite, so CI keeps the tree lint- and type-clean."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: install the dev extra (pip install -e '.[dev]')")
    return found


def test_ruff_reports_nothing() -> None:
    folders = [d for d in ("src", "tests", "scripts", "simulations") if (ROOT / d).is_dir()]
    result = subprocess.run(
        [_tool("ruff"), "check", *folders],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_leaves_every_file_unchanged() -> None:
    folders = [d for d in ("src", "tests", "scripts", "simulations") if (ROOT / d).is_dir()]
    result = subprocess.run(
        [_tool("ruff"), "format", "--check", *folders],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_reports_nothing() -> None:
    result = subprocess.run([_tool("mypy")], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
