"""The one TOML loader: every problem listed, ranked, with file, line and key; no values."""

from __future__ import annotations

import inspect
import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import allocator.config
import allocator.platform.sandbox.account_spec
import allocator.sim.experiment
from allocator.config import load_job_config
from allocator.errors import ConfigError
from allocator.platform.sandbox import load_scenario
from allocator.sim.experiment import load_experiment
from allocator.toml_lines import dotted_key, key_lines, line_of, parse_key

SECRET = "sk-live-DO-NOT-PRINT-4242"

JOB = f"""\
[account]
name = "shop"
currency = "{SECRET}"
daily_budget = "{SECRET}"
target_cpa = 20.0
timezone = "{SECRET}"

[platform]
kind = "tiktok"
advertiser_id = "1"
base_url = "{SECRET}"
access_token = "{SECRET}"

[engine]
n_draws = 3

[guardrails]
max_step_upp = 0.5
"""

EXPERIMENT = """\
name = "x"
seeds = 2

[scenario]
n_arms = 0
n_creators = 1

[[policies]]
kind = "even"

[[policies]]
kind = "thompson"
n_draws = [50, 5]
[policies.guardrails]
max_step_up = -1.0

[[policies]]
kind = "fixed"
weights = [0.0, 0.0]
"""

SANDBOX = """\
history_days = -3

[api]
tokens = []
colour = "red"

[[campaigns]]
campaign_id = "1"
name = "c"

[[adgroups]]
adgroup_id = "x1"
campaign_id = "1"
name = "g"
kind = "grey"
creator = "c"
"""


def _error(path: Path, text: str, load: object) -> ConfigError:
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load(path)  # type: ignore[operator]
    return info.value


def _summary(err: ConfigError) -> list[tuple[int | None, str | None]]:
    return [(p.line, p.key) for p in err.problems]


def test_a_job_config_lists_every_problem_in_file_order_without_values(tmp_path: Path) -> None:
    err = _error(tmp_path / "job.toml", JOB, load_job_config)
    assert _summary(err) == [
        (3, "account.currency"),
        (4, "account.daily_budget"),
        (6, "account.timezone"),
        (11, "platform.base_url"),
        (12, "platform.access_token"),
        (15, "engine.n_draws"),
        (18, "guardrails.max_step_upp"),
    ]
    assert (err.key, err.line) == ("account.currency", 3)
    assert "did you mean 'max_step_up'" in err.problems[-1].reason
    assert "environment variable" in err.problems[4].reason
    for problem in err.problems:
        assert problem.path == tmp_path / "job.toml"
        assert str(problem).startswith(f"{tmp_path / 'job.toml'}, line {problem.line}, key ")
    assert SECRET not in str(err)
    assert err.__cause__ is None
    assert err.__suppress_context__


def test_missing_keys_come_last_at_their_table(tmp_path: Path) -> None:
    text = '[account]\nname = "a"\ncurency = "USD"\ndaily_budget = 50.0\ntarget_cpa = 5.0\n'
    err = _error(tmp_path / "job.toml", text + '[platform]\nkind = "files"\n', load_job_config)
    assert _summary(err) == [
        (3, "account.curency"),
        (1, "account.currency"),
        (6, "platform.adgroups"),
        (6, "platform.observations"),
    ]
    assert all(p.reason == "required key is missing" for p in err.problems[1:])


def test_an_experiment_lists_every_problem_on_its_tables_keys(tmp_path: Path) -> None:
    err = _error(tmp_path / "exp.toml", EXPERIMENT, load_experiment)
    assert _summary(err) == [
        (5, "scenario.n_arms"),
        (13, "policies[1].n_draws"),
        (15, "policies[1].guardrails.max_step_up"),  # both grid variants, reported once
        (17, "policies[2]"),
    ]
    assert err.problems[-1].reason == "weights must not all be 0"  # no "Value error, "


def test_a_scenario_file_named_by_an_experiment_reports_in_its_own_lines(
    tmp_path: Path,
) -> None:
    (tmp_path / "s.toml").write_text('n_arms = 3\n\nn_creatorz = 1\nctr = "high"\n')
    text = 'scenario = "s.toml"\nseeds = 2\n[[policies]]\nkind = "even"\n'
    err = _error(tmp_path / "exp.toml", text, load_experiment)
    assert err.path == tmp_path / "s.toml"
    assert _summary(err) == [(3, "n_creatorz"), (4, "ctr")]


def test_a_sandbox_spec_lists_every_problem(tmp_path: Path) -> None:
    err = _error(tmp_path / "sandbox.toml", SANDBOX, load_scenario)
    assert _summary(err) == [
        (1, "history_days"),
        (4, "api.tokens"),
        (5, "api.colour"),
        (12, "adgroups[0].adgroup_id"),
        (15, "adgroups[0].kind"),
    ]


def test_the_three_loaders_share_the_one_loader() -> None:
    for module in (
        allocator.config,
        allocator.sim.experiment,
        allocator.platform.sandbox.account_spec,
    ):
        source = inspect.getsource(module)
        assert "load_toml(" in source
        assert "ValidationError" not in source
        assert "tomllib" not in source


def test_invalid_toml_names_its_line(tmp_path: Path) -> None:
    err = _error(tmp_path / "job.toml", '[account]\nname = "a"\nseed = = 3\n', load_job_config)
    assert err.line == 3
    assert err.reason.startswith("invalid TOML")


def test_key_lines_follow_tables_arrays_and_multi_line_values() -> None:
    text = (
        'name = "x"  # a [comment\n'
        "weights = [\n  1,\n  2,\n]\n"
        'notes = """\nkind = "fake"\n"""\n'
        "[[policies]]\n"
        'kind = "even"\n'
        "[[policies]]\n"
        "guardrails.max_step_up = 0.5\n"
        "[policies.posterior]\n"
        "'quoted.key' = 1\n"
        "inline = { a = 1 }\n"
    )
    tomllib.loads(text)
    lines = key_lines(text)
    assert lines[("name",)] == 1
    assert lines[("weights",)] == 2
    assert lines[("notes",)] == 6
    assert ("kind",) not in lines
    assert lines[("policies", 0, "kind")] == 10
    assert lines[("policies", 1, "guardrails", "max_step_up")] == 12
    assert lines[("policies", 1, "posterior", "quoted.key")] == 14
    assert line_of(lines, ("policies", 1, "posterior", "inline", "a")) == 15
    assert line_of(lines, ("nowhere",)) is None


keys = st.text(alphabet="abcdefghij_", min_size=1, max_size=8)


@given(
    st.dictionaries(keys, st.dictionaries(keys, st.integers(), min_size=1, max_size=4), max_size=5),
    st.lists(st.integers(0, 3), max_size=3),
)
def test_every_key_of_a_generated_file_is_found_on_its_line(
    tables: dict[str, dict[str, int]], blanks: list[int]
) -> None:
    out: list[str] = []
    expected: dict[tuple[str | int, ...], int] = {}
    for t, (table, values) in enumerate(tables.items()):
        out += [""] * (blanks[t % len(blanks)] if blanks else 0)
        out.append(f"[{table}]  # table {t}")
        expected[(table,)] = len(out)
        for key, value in values.items():
            out.append(f"{key} = {value}")
            expected[(table, key)] = len(out)
    text = "\n".join(out) + "\n"
    assert tomllib.loads(text) == tables
    lines = key_lines(text)
    for loc, line in expected.items():
        assert lines[loc] == line


@given(st.lists(st.one_of(keys, st.integers(0, 9)), min_size=1, max_size=5))
def test_dotted_keys_round_trip(loc: list[str | int]) -> None:
    if isinstance(loc[0], int):
        loc = ["root", *loc]
    assert parse_key(dotted_key(tuple(loc))) == tuple(loc)
