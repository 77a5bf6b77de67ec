"""Scenario value objects: the distribution a simulated ad account is drawn from.

A :class:`Scenario` is a small frozen record. :meth:`Environment.reset
<allocator.sim.environment.Environment.reset>` draws one *world* per replication from it
(true rates, response curves, launch days, authorization expiries); the daily dynamics
then add delivery, auction and conversion noise. The config layer maps TOML keys 1:1 onto
the fields below, so the field names are a contract.

Default magnitudes and where they come from (USD, a DTC e-commerce account):

* ``cpm = 9.0`` USD per 1,000 impressions: middle of the 6-12 USD e-commerce range in
  Stackmatix, "TikTok CPM benchmarks 2026" (stackmatix.com/blog/tiktok-cpm-benchmarks-2026).
* ``ctr = 0.01`` (1.0%): Triple Whale's benchmark over ~5,000 e-commerce brands reports
  0.73% (quoted by strikedigital.ie/blog/tiktok-ctr-your-next-primary-metric); smaller
  accounts see more, and lebesgue.io's TikTok CTR/CR/CPM benchmarks sit near 1%. 1.0% is
  within the 0.8-1.5% range of those sources.
* ``cpa_dark = 24.0`` USD: the response curve's CPA at low spend for a median dark post.
  At a test spend of about 80 USD/day (saturation 1,500 USD/day) the average CPA is
  ``24 * (1 + 80/1500) ~ 25`` USD for a dark post and ``~15`` for Spark; scaled to 500
  USD/day they are ``~32`` and ``~19``; the mix sits in the 18-28 USD range the project
  brief quotes. The click-to-conversion rate is *derived*:
  ``cvr = cpm / (1000 * ctr * cpa_dark) = 3.75%``, inside the 1-5% landing-page range
  practitioners quote (an assumption, no single public source).
* ``spark_cpa_multiplier = 0.6``: TikTok's own study, as quoted by e.g.
  benly.ai/learn/tiktok-ads/spark-ads-guide, reports 30-50% lower CPA for Spark Ads than
  standard in-feed ads (so 0.5-0.7). Use 1.0 for "no effect" and > 1 for a negative one.
  It multiplies the CTR of Spark arms by ``1 / spark_cpa_multiplier``, so the CPA at any
  spend scales by exactly the multiplier.
* ``platform_min_budget = 20.0`` USD/day: TikTok's ad group daily budget minimum
  (shared/reference/tiktok-marketing-api.md, "Min daily budget").
* ``lag_pmf``: a 7-day window because TikTok's default attribution is 7-day click /
  1-day view (TikTok for Business blog, "flexible attribution windows", 2022-06-23).
  The *shape* (62% of a day's conversions reported the same day, then a decaying tail)
  is the engine's default and an assumption.
* Fatigue ``fatigue_half_impressions = 300_000``, ``fatigue_floor = 0.3``: TikTok
  recommends refreshing creatives about every 7 days (adquadrant.com, "How to overcome
  creative fatigue on TikTok", 2024) and practitioners see CTR fall below half its peak
  after 7-14 days (maniai.com playbook on creative cadence). With these values an arm
  spending ~500 USD/day at a 9 USD CPM reaches half its initial CTR after ~10 days.
  The curve's form is an assumption.
* Authorization durations 7/30/60/365 days: the codes creators can grant (DESIGN.md);
  the mix of durations and ``revocation_rate_per_day = 0.002`` (about 11% of codes
  revoked over 60 days) are assumptions.
* Learning phase (``learning_*``): TikTok's help article "learning phase" says an ad
  group learns for about 7 days (3 for manual campaigns) or until about 50 conversions,
  and advises against large budget edits meanwhile (shared/reference/
  tiktok-marketing-api.md, "Learning phase"). What restarts learning is not stated
  officially; a budget change above 50 % and re-enabling a paused ad group are the usual
  practitioner reading, hence ``learning_edit_fraction = 0.5``. The size of the penalty is
  not published: ``learning_penalty`` defaults to 0 (no learning phase) so that studies
  keep their numbers; the robustness suite sets 0.15 and 0.30 (the 15-35 % cost of a
  reset quoted in issue 11 is an assumption, not a measurement). ``learning_noise = 0.3``
  (the day-to-day coefficient of variation of the conversion rate while learning) is an
  assumption.
* ``saturation_spend = 1500`` USD/day, weekday multipliers, delivery and CPM noise, the
  value per conversion (a 45 USD average order) and the arrival interval are assumptions,
  chosen to be plausible for a mid-size DTC account; change them per study.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from allocator.core.lag import DEFAULT_LAG_PMF as CORE_DEFAULT_LAG_PMF
from allocator.errors import ConfigError

__all__ = ["DEFAULT_LAG_PMF", "DEFAULT_WEEKDAY_MULTIPLIERS", "Scenario"]

DEFAULT_LAG_PMF: tuple[float, ...] = CORE_DEFAULT_LAG_PMF
"""Share of a day's conversions reported 0..6 days later: the engine's own default
(:data:`allocator.core.lag.DEFAULT_LAG_PMF`), so a scenario is well specified unless
a study sets ``lag_pmf`` to something else on purpose."""

DEFAULT_WEEKDAY_MULTIPLIERS: tuple[float, ...] = (0.97, 0.96, 0.97, 0.99, 1.01, 1.05, 1.05)
"""Monday..Sunday multipliers of the conversion rate (mild weekend lift; an assumption)."""


@dataclass(frozen=True, slots=True)
class Scenario:
    """The distribution of simulated accounts, and the account's budget frame.

    Money is USD (or any account currency); budgets are currency per day; rates are
    per impression (CTR), per click (CVR) or conversions per currency unit.

    Attributes:
        n_arms: total number of ad groups ``K``, including those launched later.
        n_initial_arms: arms live on day 0 (``None``: all ``n_arms``); the others arrive
            one by one, ``arrival_interval_days`` apart on average (exponential gaps,
            rounded up to whole days).
        n_creators: creators the arms are spread over (consecutive blocks of arms).
        spark_share: share of Spark arms, spread evenly over the arm index
            (0.5 alternates dark, spark, dark, spark...).
        is_spark: explicit kind per arm, overrides ``spark_share`` (length ``n_arms``).
        creator: explicit creator code per arm (0-based, length ``n_arms``).
        launch_day: explicit launch day per arm (length ``n_arms``), overrides the random
            arrivals.
        daily_budget: total budget, currency per day.
        platform_min_budget: the platform's ad group daily minimum, currency per day.
        target_cpa: the account's target CPA, currency per conversion.
        horizon_days: days a simulation runs.
        cpm: median cost per 1,000 impressions, currency.
        cpm_arm_sigma: log-sd of the per-arm CPM multiplier.
        cpm_daily_sigma: log-sd of the daily auction noise on CPM.
        ctr: median click-through rate of a dark post (clicks per impression).
        ctr_arm_sigma: log-sd of the per-arm CTR multiplier (hook quality).
        cpa_dark: median dark-post CPA at vanishing spend, currency; sets the median CVR.
        cvr_arm_sigma: log-sd of the per-arm CVR multiplier (offer and landing fit).
        creator_sigma: log-sd of a creator effect shared by all of a creator's arms.
        spark_cpa_multiplier: CPA of a Spark arm relative to the same arm as a dark post.
        saturation_spend: median half-saturation spend ``h``, currency per day: at a daily
            budget ``b`` the expected conversions are ``rate * b / (1 + b / h)``.
        saturation_sigma: log-sd of ``h`` across arms.
        fatigue_half_impressions: cumulative impressions after which the fatigable part
            of the CTR has halved.
        fatigue_floor: share of the CTR that never fatigues, in [0, 1]; 1 disables fatigue.
        weekday_multipliers: Monday..Sunday multipliers of the CVR (7 values, mean 1).
        start_weekday: weekday of day 0, 0 = Monday.
        lag_pmf: ``lag_pmf[j]`` = share of a day's conversions reported ``j`` days later;
            its length is the attribution window in days.
        delivery_mean: mean share of the daily budget the platform manages to spend.
        delivery_concentration: Beta concentration of that share (higher = steadier).
        value_per_conversion: median conversion value (order value), currency.
        value_arm_sigma: log-sd of the per-arm value multiplier.
        value_shape: Gamma shape of one order's value (coefficient of variation
            ``1 / sqrt(value_shape)``).
        auth_duration_days: durations a creator can grant a Spark code, days.
        auth_duration_probs: probability of each duration.
        revocation_rate_per_day: hazard of a creator revoking a live code, per day.
        arrival_interval_days: mean days between new creatives after day 0.
        large_edit_fraction: a budget change above this fraction of the previous budget
            restarts the platform's learning phase (tracked as ``days_since_edit``, which
            the engine reads; the simulated learning phase uses ``learning_edit_fraction``).
        learning_penalty: share of an ad group's conversions lost while it learns, in
            [0, 1); 0 disables the learning phase (see :mod:`allocator.sim.learning`).
        learning_conversions: conversions after which an ad group leaves learning.
        learning_days: delivered days after which an ad group leaves learning.
        learning_edit_fraction: a budget change above this fraction of the previous
            day's budget restarts learning (so does (re-)enabling an ad group).
        learning_noise: coefficient of variation of the day-level Gamma noise on the
            conversion rate of a learning ad group (0 = no extra noise).
    """

    n_arms: int = 12
    n_initial_arms: int | None = None
    n_creators: int = 6
    spark_share: float = 0.5
    is_spark: tuple[bool, ...] | None = None
    creator: tuple[int, ...] | None = None
    launch_day: tuple[int, ...] | None = None
    daily_budget: float = 1000.0
    platform_min_budget: float = 20.0
    target_cpa: float = 25.0
    horizon_days: int = 60
    cpm: float = 9.0
    cpm_arm_sigma: float = 0.15
    cpm_daily_sigma: float = 0.10
    ctr: float = 0.01
    ctr_arm_sigma: float = 0.3
    cpa_dark: float = 24.0
    cvr_arm_sigma: float = 0.3
    creator_sigma: float = 0.15
    spark_cpa_multiplier: float = 0.6
    saturation_spend: float = 1500.0
    saturation_sigma: float = 0.3
    fatigue_half_impressions: float = 300_000.0
    fatigue_floor: float = 0.3
    weekday_multipliers: tuple[float, ...] = DEFAULT_WEEKDAY_MULTIPLIERS
    start_weekday: int = 0
    lag_pmf: tuple[float, ...] = DEFAULT_LAG_PMF
    delivery_mean: float = 0.97
    delivery_concentration: float = 50.0
    value_per_conversion: float = 45.0
    value_arm_sigma: float = 0.15
    value_shape: float = 4.0
    auth_duration_days: tuple[int, ...] = (7, 30, 60, 365)
    auth_duration_probs: tuple[float, ...] = (0.05, 0.3, 0.3, 0.35)
    revocation_rate_per_day: float = 0.002
    arrival_interval_days: float = 5.0
    large_edit_fraction: float = 0.3
    learning_penalty: float = 0.0
    learning_conversions: float = 50.0
    learning_days: int = 7
    learning_edit_fraction: float = 0.5
    learning_noise: float = 0.3

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"must be finite, got {value!r}", key=f.name)
        self._check_counts()
        self._check_positive()
        self._check_shares()
        self._check_arm_tuples()
        self._check_distributions()

    def _check_counts(self) -> None:
        if self.n_arms < 1:
            raise ConfigError("must be >= 1", key="n_arms")
        if self.n_initial_arms is not None and not 0 <= self.n_initial_arms <= self.n_arms:
            raise ConfigError(f"must be in [0, n_arms={self.n_arms}]", key="n_initial_arms")
        if not 1 <= self.n_creators <= self.n_arms:
            raise ConfigError(f"must be in [1, n_arms={self.n_arms}]", key="n_creators")
        if self.horizon_days < 1:
            raise ConfigError("must be >= 1", key="horizon_days")
        if not 0 <= self.start_weekday <= 6:
            raise ConfigError("must be in 0..6 (0 = Monday)", key="start_weekday")

    def _check_positive(self) -> None:
        for key in (
            "daily_budget",
            "platform_min_budget",
            "target_cpa",
            "cpm",
            "ctr",
            "cpa_dark",
            "spark_cpa_multiplier",
            "saturation_spend",
            "fatigue_half_impressions",
            "delivery_concentration",
            "value_per_conversion",
            "value_shape",
            "arrival_interval_days",
            "large_edit_fraction",
            "learning_conversions",
            "learning_edit_fraction",
        ):
            if not getattr(self, key) > 0:
                raise ConfigError(f"must be > 0, got {getattr(self, key)!r}", key=key)
        for key in (
            "cpm_arm_sigma",
            "cpm_daily_sigma",
            "ctr_arm_sigma",
            "cvr_arm_sigma",
            "creator_sigma",
            "saturation_sigma",
            "value_arm_sigma",
            "revocation_rate_per_day",
            "learning_noise",
        ):
            if getattr(self, key) < 0:
                raise ConfigError(f"must be >= 0, got {getattr(self, key)!r}", key=key)
        if self.daily_budget < self.platform_min_budget:
            raise ConfigError(
                f"{self.daily_budget} is below platform_min_budget {self.platform_min_budget}",
                key="daily_budget",
            )

    def _check_shares(self) -> None:
        if not 0.0 <= self.spark_share <= 1.0:
            raise ConfigError("must be in [0, 1]", key="spark_share")
        if not 0.0 <= self.fatigue_floor <= 1.0:
            raise ConfigError("must be in [0, 1]", key="fatigue_floor")
        if not 0.0 <= self.learning_penalty < 1.0:
            raise ConfigError("must be in [0, 1)", key="learning_penalty")
        if self.learning_days < 1:
            raise ConfigError("must be >= 1", key="learning_days")
        if not 0.0 < self.delivery_mean <= 1.0:
            raise ConfigError("must be in (0, 1]", key="delivery_mean")
        if self.ctr >= 1.0:
            raise ConfigError("must be a rate below 1", key="ctr")
        if self.cvr >= 1.0:
            raise ConfigError(
                f"implies a click-to-conversion rate {self.cvr:.3f} >= 1; raise cpa_dark",
                key="cpa_dark",
            )

    def _check_arm_tuples(self) -> None:
        for key in ("is_spark", "creator", "launch_day"):
            value = getattr(self, key)
            if value is not None and len(value) != self.n_arms:
                raise ConfigError(f"needs {self.n_arms} entries, got {len(value)}", key=key)
        if self.creator is not None and any(c < 0 for c in self.creator):
            raise ConfigError("creator codes must be >= 0", key="creator")
        if self.launch_day is not None and any(d < 0 for d in self.launch_day):
            raise ConfigError("launch days must be >= 0", key="launch_day")

    def _check_distributions(self) -> None:
        if len(self.weekday_multipliers) != 7 or any(m <= 0 for m in self.weekday_multipliers):
            raise ConfigError("needs 7 positive values (Monday..Sunday)", key="weekday_multipliers")
        if not self.lag_pmf or any(p < 0 for p in self.lag_pmf):
            raise ConfigError("needs >= 1 non-negative shares", key="lag_pmf")
        if abs(sum(self.lag_pmf) - 1.0) > 1e-9:
            raise ConfigError(f"must sum to 1, sums to {sum(self.lag_pmf)!r}", key="lag_pmf")
        if len(self.auth_duration_days) != len(self.auth_duration_probs) or not (
            self.auth_duration_days
        ):
            raise ConfigError("needs one probability per duration", key="auth_duration_probs")
        if any(d < 1 for d in self.auth_duration_days):
            raise ConfigError("durations must be >= 1 day", key="auth_duration_days")
        probs = self.auth_duration_probs
        if any(p < 0 for p in probs) or abs(sum(probs) - 1.0) > 1e-9:
            raise ConfigError("must be non-negative and sum to 1", key="auth_duration_probs")

    @property
    def cvr(self) -> float:
        """Median click-to-conversion rate of a dark post, derived from CPM, CTR and CPA."""
        return self.cpm / (1000.0 * self.ctr * self.cpa_dark)

    @property
    def attribution_window_days(self) -> int:
        """Days over which a day's conversions are reported (``len(lag_pmf)``)."""
        return len(self.lag_pmf)

    @property
    def initial_arms(self) -> int:
        """Number of arms live on day 0."""
        return self.n_arms if self.n_initial_arms is None else self.n_initial_arms
