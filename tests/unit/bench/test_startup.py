from __future__ import annotations

import json

import pytest

import allocator.bench.startup as startup


def test_the_report_times_each_command_beside_python_and_ends_with_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    startup.run(quick=True)
    lines = capsys.readouterr().out.strip().splitlines()
    figures = json.loads(lines[-1])
    for key in ("help", "version"):
        assert figures[f"{key}_s"] > figures[f"{key}_python_pass_s"] > 0
        assert isinstance(figures[f"{key}_under_target"], bool)
    assert "allocator --help" in lines[2]
    assert "python -c pass" in lines[1]
