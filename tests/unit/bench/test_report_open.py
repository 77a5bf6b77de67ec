from __future__ import annotations

import json

import pytest

import allocator.bench.report_open as report_bench


def test_the_report_benchmark_measures_size_and_open_time_in_one_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    report_bench.run(quick=True)
    lines = capsys.readouterr().out.strip().splitlines()
    figures = json.loads(lines[-1])
    assert figures["days"] == 5
    assert figures["opens"] == 2
    assert 4_000_000 < figures["size_bytes"] < report_bench.SIZE_TARGET
    assert figures["size_ok"] is True
    assert figures["open_wall_s"] > 0
    assert figures["open_cpu_s"] > 0
    assert 0 < figures["first_paint_s"] < figures["open_wall_s"]
    assert figures["errors_or_requests"] == 0
    assert "file size" in lines[2]
