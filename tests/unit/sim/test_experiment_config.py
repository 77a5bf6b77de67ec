from __future__ import annotations

from pathlib import Path

import pytest

from allocator.errors import ConfigError
from allocator.sim.experiment import ExperimentConfig, load_experiment
from allocator.sim.grid import expand_grid
from allocator.sim.policy_configs import OracleConfig, RulesConfig, ThompsonConfig
from allocator.sim.thompson import ThompsonPolicy

ROOT = Path(__file__).resolve().parents[3]

BASE = """
seeds = 4
block_size = 2
horizon_days = 10
daily_budget = 300.0

[scenario]
n_arms = 4
n_creators = 2

[[policies]]
kind = "thompson"
n_draws = 50

[[policies]]
kind = "rules"
"""


def write(tmp_path: Path, text: str, name: str = "exp.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_valid_file_loads_with_defaults_and_overrides(tmp_path: Path) -> None:
    exp = load_experiment(write(tmp_path, BASE))
    assert exp.name == "exp"  # the file's stem
    assert exp.scenario.horizon_days == 10
    assert exp.scenario.daily_budget == 300.0
    assert exp.scenario.n_arms == 4
    assert [p.label for p in exp.policies] == ["thompson", "rules"]
    assert [p.label for p in exp.run_policies()] == ["oracle", "thompson", "rules"]
    thompson = exp.policies[0]
    assert isinstance(thompson, ThompsonConfig)
    policy = thompson.build()
    assert isinstance(policy, ThompsonPolicy)
    assert policy.params.n_draws == 50


def test_grids_expand_into_named_variants(tmp_path: Path) -> None:
    text = BASE.replace(
        'kind = "rules"', 'kind = "rules"\npause_cpa_multiple = [1.5, 2.0]\nstep = [0.1, 0.3]'
    )
    text += '\n[[policies]]\nkind = "thompson"\nname = "ts"\n'
    text += "[policies.guardrails]\nmax_step_up = [0.5, 1.0]\n"
    exp = load_experiment(write(tmp_path, text))
    labels = [p.label for p in exp.policies]
    assert labels == [
        "thompson",
        "rules[pause_cpa_multiple=1.5,step=0.1]",
        "rules[pause_cpa_multiple=1.5,step=0.3]",
        "rules[pause_cpa_multiple=2,step=0.1]",
        "rules[pause_cpa_multiple=2,step=0.3]",
        "ts[max_step_up=0.5]",
        "ts[max_step_up=1]",
    ]
    rules = [p for p in exp.policies if isinstance(p, RulesConfig)]
    assert {(p.pause_cpa_multiple, p.step) for p in rules} == {
        (1.5, 0.1),
        (1.5, 0.3),
        (2.0, 0.1),
        (2.0, 0.3),
    }
    ts = [p for p in exp.policies if isinstance(p, ThompsonConfig) and p.label.startswith("ts")]
    assert [p.guardrails.max_step_up for p in ts] == [0.5, 1.0]


def test_list_valued_parameters_need_a_list_of_lists_to_make_a_grid() -> None:
    assert len(expand_grid({"kind": "fixed", "weights": [1.0, 2.0]})) == 1
    variants = expand_grid({"kind": "fixed", "weights": [[1.0, 2.0], [2.0, 1.0]]})
    assert [v["weights"] for v in variants] == [[1.0, 2.0], [2.0, 1.0]]
    assert variants[0]["name"] == "fixed[weights=[1;2]]"
    lag = expand_grid({"kind": "thompson", "posterior": {"lag_pmf": [0.5, 0.5]}})
    assert lag == [{"kind": "thompson", "posterior": {"lag_pmf": [0.5, 0.5]}}]


def test_the_oracle_is_not_run_twice(tmp_path: Path) -> None:
    exp = load_experiment(write(tmp_path, BASE + '\n[[policies]]\nkind = "oracle"\n'))
    runs = exp.run_policies()
    assert [p.label for p in runs] == ["oracle", "thompson", "rules"]
    assert isinstance(runs[0], OracleConfig)


def test_a_scenario_file_is_read_relative_to_the_experiment(tmp_path: Path) -> None:
    (tmp_path / "scen").mkdir()
    write(tmp_path / "scen", "n_arms = 6\nn_creators = 3\n", "s.toml")
    text = BASE.replace("[scenario]\nn_arms = 4\nn_creators = 2\n", "")
    text = 'scenario = "scen/s.toml"\n' + text
    exp = load_experiment(write(tmp_path, text))
    assert exp.scenario.n_arms == 6
    assert exp.scenario.horizon_days == 10


def test_scenario_file_errors_name_that_file_and_key(tmp_path: Path) -> None:
    bad = write(tmp_path, "n_arms = 6\nn_creatorz = 3\n", "s.toml")
    text = 'scenario = "s.toml"\n' + BASE.replace("[scenario]\nn_arms = 4\nn_creators = 2\n", "")
    with pytest.raises(ConfigError) as info:
        load_experiment(write(tmp_path, text))
    assert info.value.path == bad
    assert info.value.key == "n_creatorz"
    assert "did you mean 'n_creators'" in info.value.reason


def test_config_hash_tracks_what_changes_the_numbers(tmp_path: Path) -> None:
    a = load_experiment(write(tmp_path, BASE))
    b = load_experiment(write(tmp_path, BASE))
    c = load_experiment(write(tmp_path, BASE.replace("n_draws = 50", "n_draws = 60")))
    d = load_experiment(write(tmp_path, 'description = "words"\n' + BASE))
    assert a.config_hash() == b.config_hash() == d.config_hash()
    assert a.config_hash() != c.config_hash()


def test_models_are_frozen_and_validate_in_python() -> None:
    exp = ExperimentConfig.model_validate(
        {
            "name": "x",
            "seeds": 2,
            "scenario": {"n_arms": 3, "n_creators": 1},
            "policies": [{"kind": "even"}, RulesConfig(kind="rules", step=0.1)],
        }
    )
    assert [p.label for p in exp.policies] == ["even", "rules"]
    with pytest.raises(ValueError, match="frozen"):
        exp.seeds = 3  # type: ignore[misc]


INVALID = [
    ("sedes = 3\n", "sedes", "did you mean 'seeds'"),
    ("", "seeds", "required key is missing"),
    ("plot_seed = 9\n", "plot_seed", "below seeds"),
    ("[scenario]\nn_armz = 4\n", "scenario.n_armz", "did you mean 'n_arms'"),
    ("[scenario]\nn_arms = 0\n", "scenario.n_arms", ">= 1"),
    ("[scenario]\nn_arms = 'many'\n", "scenario.n_arms", "integer"),
    ("[scenario]\nhorizon_days = 20\n", "scenario.horizon_days", "conflicts"),
    ("[scenario]\nlag_pmf = [0.5, 0.6]\n", "scenario.lag_pmf", "sum to 1"),
    ('[[policies]]\nkind = "bogus"\n', "policies[0].kind", "must be one of"),
    (
        '[[policies]]\nkind = "rules"\npause_cpa_multiple = -1.0\n',
        "policies[0].pause_cpa_multiple",
        "greater than 0",
    ),
    (
        '[[policies]]\nkind = "rules"\npause_cpa = 2.0\n',
        "policies[0].pause_cpa",
        "did you mean 'pause_cpa_multiple'",
    ),
    ('[[policies]]\nkind = "rules"\nstep = []\n', "policies[0].step", "at least one value"),
    (
        '[[policies]]\nkind = "thompson"\n[policies.guardrails]\nmax_step_up = -1.0\n',
        "policies[0].guardrails.max_step_up",
        "greater than or equal to 0",
    ),
    (
        '[[policies]]\nkind = "thompson"\n[policies.guardrails]\nmax_stepup = 1.0\n',
        "policies[0].guardrails.max_stepup",
        "did you mean 'max_step_up'",
    ),
    (
        '[[policies]]\nkind = "thompson"\n[policies.guardrails]\n'
        "learning_days = 5.0\nlearning_max_days = 2.0\n",
        "policies[0].guardrails.learning_max_days",
        "learning_days",
    ),
    (
        '[[policies]]\nkind = "thompson"\n[policies.guardrails]\ntest_budget = 1500.0\n',
        "policies[0].guardrails.test_budget",
        "exceeds the daily budget",
    ),
    (
        '[[policies]]\nkind = "thompson"\n[policies.posterior]\nvalue_shape = 0.1\n',
        "policies[0].posterior.value_shape",
        "must exceed 1",
    ),
    (
        '[[policies]]\nkind = "even"\n[[policies]]\nkind = "even"\n',
        "policies[1].name",
        "used twice",
    ),
    ('[[policies]]\nkind = "fixed"\nweights = [0.0, 0.0]\n', "policies[0]", "not all be 0"),
    (
        '[[policies]]\nkind = "thompson"\nhalf_saturation_spend = 0.0\n',
        "policies[0].half_saturation_spend",
        "greater than 0",
    ),
    ("policies = []\n", "policies", "at least one"),
]


@pytest.mark.parametrize(
    ("text", "key", "reason"), INVALID, ids=[f"{i}-{k}" for i, (_, k, _) in enumerate(INVALID)]
)
def test_config_errors_name_the_file_and_the_key(
    tmp_path: Path, text: str, key: str, reason: str
) -> None:
    header = "" if key == "seeds" else "seeds = 4\n"
    scenario = "" if text.startswith("[scenario]") else "[scenario]\nn_arms = 4\nn_creators = 2\n"
    policies = "" if "policies" in text else '[[policies]]\nkind = "even"\n'
    top = "horizon_days = 10\n"
    # top-level keys must come before any table
    top_keys = "" if text.startswith("[") else text
    tables = text if text.startswith("[") else ""
    path = write(tmp_path, header + top + top_keys + scenario + tables + policies)
    with pytest.raises(ConfigError) as info:
        load_experiment(path)
    assert info.value.path == path
    assert info.value.key == key
    assert reason in info.value.reason
    assert str(path) in str(info.value)


def test_invalid_toml_and_missing_files_name_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "seeds = \n")
    with pytest.raises(ConfigError, match=r"invalid TOML.*line 1") as info:
        load_experiment(path)
    assert info.value.path == path
    with pytest.raises(ConfigError, match="file not found"):
        load_experiment(tmp_path / "nope.toml")
    text = 'scenario = "missing.toml"\n' + BASE.replace(
        "[scenario]\nn_arms = 4\nn_creators = 2\n", ""
    )
    with pytest.raises(ConfigError, match="file not found") as info:
        load_experiment(write(tmp_path, text))
    assert info.value.path == tmp_path / "missing.toml"


EXAMPLES = sorted((ROOT / "configs" / "experiments").glob("*.toml")) + sorted(
    (ROOT / "simulations").glob("*/experiment.toml")
)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.parent.name + "/" + p.name for p in EXAMPLES])
def test_every_committed_experiment_config_loads(path: Path) -> None:
    exp = load_experiment(path)
    assert exp.seeds >= 1
    assert exp.run_policies()[0].kind == "oracle"
