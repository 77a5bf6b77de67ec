from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path

import pydantic
import pytest

from allocator.config import (
    FilesPlatform,
    JobConfig,
    JobSection,
    SandboxPlatform,
    TikTokPlatform,
    load_job_config,
)
from allocator.core.arms import Objective, Portfolio
from allocator.core.decisions import DecisionParams
from allocator.core.guardrail_params import GuardrailParams
from allocator.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = """
[account]
name = "demo"
currency = "USD"
daily_budget = 1000.0
objective = "cpa"
target_cpa = 25.0
"""
FILES = """
[platform]
kind = "files"
adgroups = "adgroups.csv"
observations = "observations.csv"
"""


def _load(tmp_path: Path, text: str) -> JobConfig:
    path = tmp_path / "job.toml"
    path.write_text(text, encoding="utf-8")
    return load_job_config(path)


def _error(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, text)
    assert info.value.path == tmp_path / "job.toml"
    return info.value


def _job_configs() -> list[Path]:
    found = []
    for path in sorted((ROOT / "configs").rglob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        if "account" in data and "platform" in data:
            found.append(path)
    return found


def test_the_shipped_example_is_a_job_config() -> None:
    assert ROOT / "configs" / "example" / "job.toml" in _job_configs()


@pytest.mark.parametrize("path", _job_configs(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_job_config_under_configs_loads(path: Path) -> None:
    config = load_job_config(path)
    if isinstance(config.platform, FilesPlatform):
        assert config.platform.adgroups.is_file()
        assert config.platform.observations.is_file()
    assert config.engine_params().n_draws == config.engine.n_draws


def test_the_contract_keys_give_a_portfolio_and_defaults(tmp_path: Path) -> None:
    config = _load(tmp_path, ACCOUNT + FILES)
    assert config.portfolio() == Portfolio("USD", 1000.0, Objective.CPA, 25.0, None)
    assert config.account.timezone == "UTC"
    assert (config.engine.n_draws, config.engine.seed, config.engine.lookback_days) == (1000, 0, 60)
    assert isinstance(config.platform, FilesPlatform)
    assert config.platform.adgroups == (tmp_path / "adgroups.csv").resolve()


def test_paths_are_relative_to_the_config_file_not_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "jobs").mkdir()
    path = tmp_path / "jobs" / "job.toml"
    path.write_text(ACCOUNT + FILES.replace('"observations.csv"', '"../data/o.csv"'))
    monkeypatch.chdir(tmp_path)
    config = load_job_config(Path("jobs/job.toml"))
    assert isinstance(config.platform, FilesPlatform)
    assert config.platform.adgroups == tmp_path / "jobs" / "adgroups.csv"
    assert config.platform.observations == tmp_path / "data" / "o.csv"


def test_a_roas_account(tmp_path: Path) -> None:
    text = ACCOUNT.replace('objective = "cpa"\ntarget_cpa = 25.0', 'objective = "roas"\n'
                           "target_roas = 2.5")  # fmt: skip
    portfolio = _load(tmp_path, text + FILES).portfolio()
    assert (portfolio.objective, portfolio.target_roas, portfolio.target_cpa) == (
        Objective.ROAS,
        2.5,
        None,
    )


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        pytest.param(
            ACCOUNT.replace('name = "demo"', 'nmae = "demo"') + FILES,
            "account.nmae", ["unknown key", "did you mean 'name'"], id="typo-in-account",
        ),
        pytest.param(
            ACCOUNT + FILES + "adgroup = 'x'\n",
            "platform.adgroup", ["unknown key", "did you mean 'adgroups'"], id="typo-in-platform",
        ),
        pytest.param(
            ACCOUNT + FILES + "[engine]\nn_draw = 10\n",
            "engine.n_draw", ["unknown key", "'n_draws'"], id="typo-in-engine",
        ),
        pytest.param(ACCOUNT + FILES + "[extra]\na = 1\n", "extra", ["unknown key"], id="section"),
        pytest.param(
            ACCOUNT.replace("target_cpa = 25.0\n", "") + FILES,
            "account.target_cpa", ["objective 'cpa' needs target_cpa"], id="missing-target-cpa",
        ),
        pytest.param(
            ACCOUNT.replace('"cpa"', '"roas"') + FILES,
            "account.target_roas", ["objective 'roas' needs target_roas"], id="missing-roas",
        ),
        pytest.param(
            ACCOUNT + "target_roas = 2.0\n" + FILES,
            "account.target_roas", ["objective is 'cpa'"], id="both-targets",
        ),
        pytest.param(
            ACCOUNT.replace("1000.0", "0") + FILES,
            "account.daily_budget", ["greater than 0"], id="zero-budget",
        ),
        pytest.param(
            ACCOUNT.replace("1000.0", "nan") + FILES,
            "account.daily_budget", ["greater than 0"], id="nan-budget",
        ),
        pytest.param(
            ACCOUNT.replace("1000.0", '"lots"') + FILES,
            "account.daily_budget", ["valid number"], id="text-budget",
        ),
        pytest.param(
            ACCOUNT.replace('"USD"', '"usd"') + FILES,
            "account.currency", ["pattern"], id="currency-code",
        ),
        pytest.param(
            ACCOUNT + 'timezone = "Mars/Olympus"\n' + FILES,
            "account.timezone", ["unknown time zone"], id="time-zone",
        ),
        pytest.param(
            ACCOUNT.replace('"cpa"', '"cpc"') + FILES,
            "account.objective", ["'cpa' or 'roas'"], id="objective",
        ),
        pytest.param(ACCOUNT, "platform", ["required key is missing"], id="missing-platform"),
        pytest.param(
            ACCOUNT + FILES.replace('"files"', '"facebook"'),
            "platform.kind", ["'files', 'sandbox', 'tiktok'"], id="unknown-platform",
        ),
        pytest.param(
            ACCOUNT + "[platform]\nadgroups = 'a.csv'\n",
            "platform.kind", ["'files', 'sandbox', 'tiktok'"], id="platform-without-kind",
        ),
        pytest.param(
            ACCOUNT + "[platform]\nkind = 'files'\nadgroups = 'a.csv'\n",
            "platform.observations", ["required key is missing"], id="files-missing-path",
        ),
        pytest.param(
            ACCOUNT + "[platform]\nkind = 'tiktok'\nadvertiser_id = 1\nbase_url = 'http://x.com'\n",
            "platform.base_url", ["https"], id="tiktok-needs-https",
        ),
        pytest.param(
            ACCOUNT + "[platform]\nkind = 'sandbox'\nadvertiser_id = '1'\ntoken_env = 'A-B'\n",
            "platform.token_env", ["pattern"], id="token-env-name",
        ),
        pytest.param(
            ACCOUNT + FILES + "[guardrails]\nmax_budget_share = 1.5\n",
            "guardrails.max_budget_share", ["less than or equal to 1"], id="share-above-one",
        ),
        pytest.param(
            ACCOUNT.replace("1000.0", "15.0") + FILES,
            "account.daily_budget", ["below guardrails.platform_min_budget"], id="budget-below-min",
        ),
        pytest.param(
            ACCOUNT + FILES + "[guardrails]\nmax_budget_share = 0.01\n",
            "guardrails.max_budget_share", ["no ad group could run"], id="share-below-min",
        ),
        pytest.param(
            ACCOUNT + FILES + "[guardrails]\ntest_budget = 10.0\n",
            "guardrails.test_budget", [">= platform_min_budget"], id="test-budget-below-min",
        ),
        pytest.param(
            ACCOUNT + FILES + "[guardrails]\nnew_arm_budget = 2000.0\n",
            "guardrails.new_arm_budget", ["exceeds account.daily_budget"], id="new-arm-too-big",
        ),
        pytest.param(
            ACCOUNT + FILES + "[guardrails]\nlearning_days = 20.0\n",
            "guardrails.learning_max_days", [">= learning_days"], id="learning-window",
        ),
        pytest.param(
            ACCOUNT + FILES + "[decisions]\np_best_to_scale = 1.0\n",
            "decisions.p_best_to_scale", ["less than 1"], id="probability-one",
        ),
        pytest.param(
            ACCOUNT + FILES + "[decisions]\nrenew_warning_days = 0.5\n",
            "decisions.renew_warning_days", [">= min_remaining_days"], id="warn-before-block",
        ),
        pytest.param(
            ACCOUNT + FILES + "[posterior]\nlag_pmf = [0.5, 0.4]\n",
            "posterior.lag_pmf", ["must sum to 1", "0.9"], id="lag-sum",
        ),
        pytest.param(
            ACCOUNT + FILES + "[posterior]\nlag_pmf = [1.5, -0.5]\n",
            "posterior.lag_pmf[1]", ["greater than or equal to 0"], id="lag-negative",
        ),
        pytest.param(
            ACCOUNT + FILES + "[posterior]\nprior_strength = 0.4\n",
            "posterior.value_shape", ["must exceed 1"], id="value-prior",
        ),
        pytest.param(
            ACCOUNT + FILES + "[engine]\nn_draws = 0\n",
            "engine.n_draws", ["greater than or equal to 10"], id="no-draws",
        ),
        pytest.param(
            ACCOUNT + FILES + "[engine]\nseed = 1.5\n",
            "engine.seed", ["integer"], id="fractional-seed",
        ),
    ],
)  # fmt: skip
def test_invalid_configs_name_the_key_and_the_reason(
    tmp_path: Path, text: str, key: str, words: list[str]
) -> None:
    err = _error(tmp_path, text)
    assert err.key == key
    for word in words:
        assert word in err.reason
    where = re.escape(str(tmp_path / "job.toml")) + r"(, line \d+)?, key " + re.escape(repr(key))
    assert re.match(where + ": ", str(err))


def test_a_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    err = _error(tmp_path, ACCOUNT + FILES + "[engine]\nseed = = 3\n")
    n_lines = (ACCOUNT + FILES).count("\n") + 2
    assert f"line {n_lines}" in err.reason
    assert err.reason.startswith("invalid TOML")
    assert err.key is None


def test_a_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_job_config(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("section", "key"),
    [("platform", "token"), ("platform", "access_token"), ("account", "api_secret")],
)
def test_a_token_is_never_accepted_as_a_config_value(
    tmp_path: Path, section: str, key: str
) -> None:
    secret = "act.5ec2e7d0f00dsecret"
    text = ACCOUNT + "[platform]\nkind = 'tiktok'\nadvertiser_id = '7000'\n"
    text = text.replace(f"[{section}]\n", f"[{section}]\n{key} = '{secret}'\n")
    err = _error(tmp_path, text)
    assert err.key == f"{section}.{key}"
    assert "environment variable" in err.reason
    assert secret not in str(err)
    assert err.__cause__ is None  # the pydantic error, which quotes inputs, is not attached


def test_api_platforms_have_defaults_and_take_numeric_ids(tmp_path: Path) -> None:
    sandbox = _load(tmp_path, ACCOUNT + "[platform]\nkind = 'sandbox'\nadvertiser_id = 42\n")
    assert sandbox.platform == SandboxPlatform(kind="sandbox", advertiser_id="42")
    assert sandbox.platform.base_url == "http://127.0.0.1:8765"
    assert sandbox.platform.token_env == "ALLOCATOR_SANDBOX_TOKEN"
    tiktok = _load(
        tmp_path,
        ACCOUNT + "[platform]\nkind = 'tiktok'\nadvertiser_id = '7000'\ntoken_file = 'tok'\n",
    )
    assert isinstance(tiktok.platform, TikTokPlatform)
    assert tiktok.platform.base_url == "https://business-api.tiktok.com"
    assert tiktok.platform.token_env == "TIKTOK_ACCESS_TOKEN"
    assert tiktok.platform.token_file == tmp_path / "tok"


def test_configs_are_frozen(tmp_path: Path) -> None:
    config = _load(tmp_path, ACCOUNT + FILES)
    with pytest.raises(pydantic.ValidationError):
        config.account.daily_budget = 5.0  # type: ignore[misc]


def test_infinite_half_life_disables_discounting(tmp_path: Path) -> None:
    config = _load(tmp_path, ACCOUNT + FILES + "[posterior]\nhalf_life_days = inf\n")
    assert math.isinf(config.engine_params().posterior.half_life_days)


def test_half_saturation_spend_defaults_to_the_documented_assumption(tmp_path: Path) -> None:
    assert _load(tmp_path, ACCOUNT + FILES).engine_params().half_saturation_spend == 1000.0
    config = _load(tmp_path, ACCOUNT + FILES + "[engine]\nhalf_saturation_spend = 1500.0\n")
    assert config.engine_params().half_saturation_spend == 1500.0
    linear = _load(tmp_path, ACCOUNT + FILES + "[engine]\nhalf_saturation_spend = inf\n")
    assert math.isinf(linear.engine_params().half_saturation_spend)  # the core's inf = linear
    for bad in ("0.0", "-1.0", "nan"):
        with pytest.raises(ConfigError) as info:
            _load(tmp_path, ACCOUNT + FILES + f"[engine]\nhalf_saturation_spend = {bad}\n")
        assert info.value.key == "engine.half_saturation_spend"


def test_engine_params_carry_every_section(tmp_path: Path) -> None:
    text = (
        ACCOUNT
        + FILES
        + (
            "[engine]\nn_draws = 200\nseed = 9\nlookback_days = 30\n"
            "[posterior]\nlag_pmf = [0.5, 0.5]\npool_by_creator = false\n"
            "[decisions]\np_best_to_scale = 0.9\n"
            "[guardrails]\nmax_step_up = 0.25\ntest_budget = 30.0\n"
        )
    )
    config = _load(tmp_path, text)
    params = config.engine_params()
    assert params.n_draws == 200
    assert (config.engine.seed, config.engine.lookback_days) == (9, 30)
    assert params.posterior.lag.pmf.tolist() == [0.5, 0.5]
    assert params.posterior.pool_by_creator is False
    assert params.decisions == DecisionParams(p_best_to_scale=0.9)
    assert params.guardrails == GuardrailParams(max_step_up=0.25, test_budget=30.0)


# ------------------------------------------------------------------------------ [job]


def test_the_job_section_defaults_put_the_store_next_to_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "jobs").mkdir()
    path = tmp_path / "jobs" / "job.toml"
    path.write_text(ACCOUNT + FILES, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    job = load_job_config(Path("jobs/job.toml")).job
    assert job == JobSection(store=tmp_path / "jobs" / "allocator.sqlite")
    assert (job.cadence, job.kill_switch, job.allow_stale) == ("daily", False, False)
    assert job.max_budget_moved is None
    assert job.report_md is None
    assert job.report_html is None


def test_the_job_section_takes_every_key(tmp_path: Path) -> None:
    job = _load(
        tmp_path,
        ACCOUNT + FILES + "[job]\nstore = 'state/a.sqlite'\ncadence = 'weekly'\n"
        "kill_switch = true\nmax_budget_moved = 250.5\nallow_stale = true\n"
        "report_md = '/var/reports/run.md'\nreport_html = 'out/report.html'\n",
    ).job
    assert job.store == tmp_path / "state" / "a.sqlite"
    assert job.cadence == "weekly"
    assert job.kill_switch is True
    assert job.max_budget_moved == 250.5
    assert job.allow_stale is True
    assert job.report_md == Path("/var/reports/run.md")
    assert job.report_html == tmp_path / "out" / "report.html"


@pytest.mark.parametrize(
    ("section", "key", "words"),
    [
        pytest.param("cadence = 'hourly'\n", "job.cadence", ["'daily'"], id="cadence"),
        pytest.param("max_budget_moved = 0\n", "job.max_budget_moved", ["greater"], id="cap-0"),
        pytest.param("max_budget_moved = -5\n", "job.max_budget_moved", ["greater"], id="cap<0"),
        pytest.param("kill_swich = true\n", "job.kill_swich", ["'kill_switch'"], id="typo"),
        pytest.param(
            "store = 'a.sqlite'\nreport_md = 'a.sqlite'\n", "job.report_md", ["store"], id="clash"
        ),
        pytest.param(
            "store = 'a.sqlite'\nreport_html = 'a.sqlite'\n",
            "job.report_html",
            ["store"],
            id="clash-html",
        ),
        pytest.param("token = 'abc'\n", "job.token", ["secrets are never"], id="secret"),
    ],
)
def test_an_invalid_job_section_names_the_key(
    tmp_path: Path, section: str, key: str, words: list[str]
) -> None:
    error = _error(tmp_path, ACCOUNT + FILES + "[job]\n" + section)
    assert error.key == key
    for word in words:
        assert word in error.reason


def test_numbers_and_booleans_written_as_text_are_refused_each_by_key(tmp_path: Path) -> None:
    text = (ACCOUNT + FILES).replace("daily_budget = 1000.0", 'daily_budget = "300"')
    text += '\n[guardrails]\nmax_step_up = "0.3"\n\n[job]\nkill_switch = "true"\n'
    err = _error(tmp_path, text)
    found = {p.key: p.reason for p in err.problems}
    assert found["account.daily_budget"].startswith("must be a number, not text in quotes")
    assert found["guardrails.max_step_up"].startswith("must be a number, not text in quotes")
    assert found["job.kill_switch"].startswith("must be true or false, not text in quotes")
    assert all(p.line is not None for p in err.problems)


def test_the_data_bounds_and_breaker_shares_have_documented_defaults(tmp_path: Path) -> None:
    config = _load(tmp_path, ACCOUNT + FILES)
    assert (config.data.max_spend_multiple, config.data.max_conversions_per_click) == (3.0, 10.0)
    assert config.job.max_data_age_days == 2
    assert (config.job.max_disabled_share, config.job.max_unplanned_share) == (0.5, 0.5)
    err = _error(tmp_path, ACCOUNT + FILES + "\n[data]\nmax_daily_budget = 100.0\n")
    assert err.key == "account.daily_budget"
    assert "above data.max_daily_budget (100)" in err.reason
