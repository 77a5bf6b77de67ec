from __future__ import annotations

import importlib.util
import json

import pytest

import allocator.bench.bernoulli_pulls as bench


@pytest.mark.skipif(
    importlib.util.find_spec("mabwiser") is None,
    reason="mabwiser not installed (optional 'bench' extra)",
)
def test_report_ends_with_json_of_pulls_per_second_and_ratio(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bench.run(quick=True, seed=0)
    lines = capsys.readouterr().out.strip().splitlines()
    figures = json.loads(lines[-1])
    assert figures["n_arms"] == 10
    assert set(figures["engine_pulls_per_s"]) == {"20", "100"}
    assert figures["mabwiser_pulls_per_s"] > 0
    # vectorized over 100 seeds the engine is far faster than one MABWiser step at a time
    assert figures["ratio"]["100"] > 5
    assert "MABWiser TS" in "\n".join(lines)
