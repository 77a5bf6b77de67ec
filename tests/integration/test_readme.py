"""Every shell command in the README runs, as written, and succeeds.

Each fenced ``sh`` block runs as one bash script (``set -e``), from a scratch copy of the
repository's ``configs/`` with ``.venv`` linked in, so outputs and stores stay out of the
checkout. Sizes are made small where a command would run long (:data:`SMALLER`); the
sandbox's example port is swapped for a free one (a fixed port could be taken). Skipped,
each with its reason: ``make`` targets (they are the suite and the benchmarks themselves)
and commands whose data is not on this machine (:data:`NEEDS`).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"

SMALLER: dict[str, str] = {
    "allocator demo --days 30": "allocator demo --days 3",
    "--out out/history": "--out out/history --seeds 2",
}
"""README text -> what the test runs instead (fewer simulated days and worlds)."""

NEEDS: dict[str, Path] = {"../shared/data/obd": REPO / ".." / "shared" / "data" / "obd"}
"""A path a README command reads -> where it must exist (commands without it are skipped)."""

EXAMPLE_PORT = "8765"
"""The sandbox example's port in the README and configs/sandbox/job.toml."""


def python_blocks(text: str) -> list[str]:
    """The fenced ``python`` blocks of a Markdown text, in order."""
    return [m.group(1) for m in re.finditer(r"^```python\n(.*?)^```", text, re.S | re.M)]


def sh_blocks(text: str) -> list[str]:
    """The fenced ``sh`` blocks of a Markdown text (indented ones too, dedented), in order."""
    pattern = r"^( *)```sh\n(.*?)^\1```"
    return [textwrap.dedent(m.group(2)) for m in re.finditer(pattern, text, re.S | re.M)]


def commands(block: str) -> list[str]:
    """The block's command lines (comments and blank lines left out)."""
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


def skip_reason(block: str) -> str | None:
    """Why a block is not run here, or ``None``."""
    if all(line.split()[0] == "make" for line in commands(block)):
        return "make targets: the test suite, lint and benchmarks run them themselves"
    for needle, path in NEEDS.items():
        if needle in block and not path.exists():
            return f"needs {needle} (the OBD sample beside the clone), absent here"
    return None


BLOCKS = sh_blocks(README.read_text(encoding="utf-8"))
PYTHON_BLOCKS = python_blocks(README.read_text(encoding="utf-8"))


def test_the_readme_has_the_commands_a_user_runs() -> None:
    text = "\n".join(BLOCKS)
    for command in (
        "allocator rebalance",
        "allocator validate",
        "allocator history",
        "allocator sandbox serve",
        "allocator simulate",
        "allocator backtest history",
        "allocator backtest ope",
        "allocator demo",
        "python -m allocator.bench startup",
    ):
        assert command in text, command


def test_block_parsing_finds_commands_and_skips_make_only() -> None:
    assert sh_blocks("a\n```sh\nx --y  # z\n\n# c\n```\n```text\nno\n```\n") == [
        "x --y  # z\n\n# c\n"
    ]
    assert sh_blocks("* b\n\n  ```sh\n  x --y\n  ```\n") == ["x --y\n"]
    assert commands("x --y\n\n# c\n") == ["x --y"]
    assert skip_reason("make demo   # d\nmake test\n") is not None
    assert skip_reason("make demo\n.venv/bin/allocator demo\n") is None


def _free_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def _scratch(tmp_path: Path, port: str) -> Path:
    """A scratch working directory: the configs copied (the example port swapped), .venv linked."""
    shutil.copytree(REPO / "configs", tmp_path / "configs")
    shutil.copytree(REPO / "scripts", tmp_path / "scripts")
    (tmp_path / ".venv").symlink_to(REPO / ".venv")
    shared = REPO / ".." / "shared"
    if shared.exists():
        (tmp_path.parent / "shared").symlink_to(shared.resolve())
    sandbox = tmp_path / "configs" / "sandbox" / "job.toml"
    sandbox.write_text(sandbox.read_text(encoding="utf-8").replace(EXAMPLE_PORT, port))
    return tmp_path


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_every_readme_shell_block_runs(index: int, tmp_path: Path) -> None:
    block = BLOCKS[index]
    reason = skip_reason(block)
    if reason is not None:
        pytest.skip(reason)
    port = _free_port()
    work = _scratch(tmp_path / "repo", port)
    script = block.replace(EXAMPLE_PORT, port)
    for long, short in SMALLER.items():
        script = script.replace(long, short)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALLOCATOR_")}
    env["COLUMNS"] = "100"
    proc = subprocess.Popen(
        ["bash", "-c", "set -euo pipefail\n" + script],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=600)
    finally:
        with_group = proc.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(with_group, signal.SIGTERM)
    assert proc.returncode == 0, f"README block {index} failed:\n{script}\n--- output ---\n{out}"


@pytest.mark.parametrize("index", range(len(PYTHON_BLOCKS)))
def test_every_readme_python_block_runs(index: int, tmp_path: Path) -> None:
    work = _scratch(tmp_path / "repo", _free_port())
    script = work / "block.py"
    script.write_text(PYTHON_BLOCKS[index], encoding="utf-8")
    proc = subprocess.run(
        [str(REPO / ".venv" / "bin" / "python"), str(script)],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, f"README python block {index} failed:\n{proc.stderr}"
    assert proc.stdout.strip()
