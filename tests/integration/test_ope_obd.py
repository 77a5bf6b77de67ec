"""Off-policy evaluation on the Open Bandit Dataset sample: random logs -> Bernoulli TS.

The target policy is the share of the ``bts`` logs' rows showing each item at each position;
estimated from the ``random`` logs, each estimator's 95% interval must cover the CTR the
``bts`` logs actually observed. The sample lives beside the clone in ``shared/data/obd``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allocator.backtest.logged_feedback import BanditLogs, LogFormat, read_logs
from allocator.backtest.ope import evaluate
from allocator.backtest.target_policy import (
    TargetPolicy,
    align_logs,
    load_target_policy,
    target_policy_from_logs,
)
from allocator.cli import EXIT_OK, main

REPO = Path(__file__).resolve().parents[2]
OBD = REPO / ".." / "shared" / "data" / "obd"
OBSERVED_BTS_CTR = {"all": 0.0042, "men": 0.0069, "women": 0.0046}

pytestmark = pytest.mark.skipif(
    not OBD.is_dir(), reason=f"Open Bandit Dataset sample not found at {OBD.resolve()}"
)


def _logs(policy: str, campaign: str) -> BanditLogs:
    return read_logs(OBD / policy / campaign / f"{campaign}.csv", log_format=LogFormat.OBD)


def _bts_target(campaign: str) -> TargetPolicy:
    items = pd.read_csv(OBD / "bts" / campaign / "item_context.csv")["item_id"]
    return target_policy_from_logs(_logs("bts", campaign), actions=[str(i) for i in items])


@pytest.mark.parametrize("campaign", sorted(OBSERVED_BTS_CTR))
def test_committed_target_csv_is_what_the_build_produces(campaign: str) -> None:
    built = _bts_target(campaign)
    committed = load_target_policy(REPO / "configs" / "ope" / f"obd_bts_{campaign}.csv")
    assert committed.actions == built.actions
    assert committed.positions == ("1", "2", "3")
    np.testing.assert_allclose(committed.probability, built.probability, atol=1e-11)


@pytest.mark.parametrize("campaign", sorted(OBSERVED_BTS_CTR))
@pytest.mark.parametrize("interval", ["clt", "bootstrap"])
def test_estimates_from_random_logs_cover_the_ctr_bts_observed(
    campaign: str, interval: str
) -> None:
    observed = float(_logs("bts", campaign).reward.mean())
    assert round(observed, 4) == OBSERVED_BTS_CTR[campaign]
    aligned = align_logs(_logs("random", campaign), _bts_target(campaign))
    results = evaluate(
        aligned,
        rng=np.random.default_rng(0),
        interval="clt" if interval == "clt" else "bootstrap",
    )
    for name, result in results.items():
        assert result.n == 10_000
        assert result.ci_low <= observed <= result.ci_high, (name, result)
        # the interval is informative, not the whole unit range
        assert result.ci_high - result.ci_low < 2.0 * observed, (name, result)


def test_the_whole_sample_evaluates_in_well_under_a_second() -> None:
    target = _bts_target("all")
    start = time.perf_counter()
    aligned = align_logs(_logs("random", "all"), target)
    evaluate(aligned, rng=np.random.default_rng(0))
    elapsed = time.perf_counter() - start
    assert elapsed < 0.5, f"reading and evaluating 10,000 rows took {elapsed:.3f} s"


def test_the_command_line_reads_the_obd_layout(capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "backtest", "ope",
        "--logs", str(OBD / "random" / "men" / "men.csv"),
        "--target", str(REPO / "configs" / "ope" / "obd_bts_men.csv"),
        "--format", "obd", "--json",
    ]  # fmt: skip
    assert main(args) == EXIT_OK
    out = json.loads(capsys.readouterr().out)
    for name in ("ips", "snips", "dr"):
        assert out[name]["ci_low"] <= OBSERVED_BTS_CTR["men"] <= out[name]["ci_high"]
