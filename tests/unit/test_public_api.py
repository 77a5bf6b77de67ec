from __future__ import annotations

import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

import allocator

ROOT = Path(__file__).resolve().parents[2]

PUBLIC = [
    "AdGroup",
    "AdGroupStatus",
    "AllocatorError",
    "ApiError",
    "ArmState",
    "AuthStatus",
    "Authorization",
    "ConfigError",
    "DataError",
    "EngineParams",
    "ExperimentConfig",
    "History",
    "JobConfig",
    "Kind",
    "Objective",
    "Observation",
    "Plan",
    "Portfolio",
    "SimulationResult",
    "Stage",
    "Target",
    "__version__",
    "load_experiment",
    "load_job_config",
    "plan",
    "simulate",
    "step",
]


def test_all_is_pinned() -> None:
    assert allocator.__all__ == PUBLIC


def test_every_public_name_is_importable_and_listed() -> None:
    for name in allocator.__all__:
        assert hasattr(allocator, name), name
    public = {
        n
        for n in dir(allocator)
        if not n.startswith("_") and not isinstance(getattr(allocator, n), types.ModuleType)
    }
    assert public - {"annotations"} <= set(allocator.__all__)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        allocator.nope  # noqa: B018


def _loaded_by(code: str, modules: tuple[str, ...]) -> list[str]:
    """Which of ``modules`` a fresh interpreter has imported after running ``code``."""
    probe = f"{code}\nimport sys\nprint(','.join(m for m in {modules!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return [m for m in done.stdout.strip().split(",") if m]


def test_import_allocator_stays_light() -> None:
    heavy = ("pandas", "scipy", "matplotlib", "pydantic", "httpx", "rich", "typer")
    assert _loaded_by("import allocator", heavy) == []


def test_core_imports_no_io_libraries() -> None:
    code = (
        "import pkgutil, importlib, allocator.core as c\n"
        "for m in pkgutil.iter_modules(c.__path__):\n"
        "    importlib.import_module('allocator.core.' + m.name)\n"
    )
    assert _loaded_by(code, ("httpx", "pandas", "pydantic", "matplotlib", "sqlite3")) == []


def _readme_python_api_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Python API", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) == 1, "the Python API section holds one python example"
    return str(blocks[0])


def test_the_readme_python_api_example_runs_verbatim(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    namespace: dict[str, object] = {}
    exec(compile(_readme_python_api_example(), "README.md", "exec"), namespace)
    printed = capsys.readouterr().out
    plan = namespace["plan"]
    assert isinstance(plan, allocator.Plan)
    assert (plan.account, plan.as_of.isoformat()) == ("glowlab-us", "2026-11-20")
    assert printed.count(" -> ") == len(plan.adgroups) == 12
    assert "auth_expiring" in printed
    result = namespace["result"]
    assert isinstance(result, allocator.SimulationResult)
    assert set(result.frame["policy"]) == {
        "oracle",
        "thompson",
        "rules[pause_cpa_multiple=2]",
        "rules[pause_cpa_multiple=3]",
        "even",
    }
    assert len(result.frame) == 5 * 20  # five policies on the experiment's 20 seeds
    assert result.summary.startswith("# Simulation summary: quickstart")
