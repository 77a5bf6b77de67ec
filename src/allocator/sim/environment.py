"""Vectorized ground truth of simulated TikTok ad accounts, one day at a time.

An :class:`Environment` holds ``R`` independent simulated accounts (replications) of
``K`` ad groups (arms) each, as arrays of shape ``(R, K)``. Each simulated day the caller
sets budgets and statuses, :meth:`Environment.advance_day` delivers them and returns the
*true* results (:class:`DayReport`), and :meth:`Environment.observe` returns what the
platform would report the next morning in the core types (:class:`ArmState`,
:class:`History`): lagged, noisy, no truth. The oracle reads :meth:`Environment.truth`.
The sandbox server drives the same class with ``R = 1``.

Daily dynamics for arm ``k`` with daily budget ``b`` (currency per day):

* **availability** ``u`` in [0, 1]: 0 before the arm's launch day and after its Spark
  authorization lapsed; the share of the day still authorized on the day a creator
  revokes (revocations happen at a random time of day, expiries at midnight).
* **spend** ``= b * u * d`` where ``d ~ Beta`` is the delivery share (underdelivery:
  spend never exceeds the budget). TikTok does not charge for budget it could not
  deliver, so nothing is lost in cash; the budget left on a lapsed arm, ``b * (1 - u)``,
  is reported as **stranded spend**: money the account meant to spend that did no work
  (an opportunity cost, the amount a policy should have moved elsewhere).
* **impressions** ``~ Poisson(1000 * spend / cpm_eff)`` with ``cpm_eff = cpm_k * e *
  (1 + b / h_k)``: the daily auction noise ``e`` is log-normal with ``E[1/e] = 1`` and
  the factor ``(1 + b / h_k)`` is the **diminishing return** (a higher daily budget buys
  costlier impressions), so expected conversions are the saturating curve
  ``rate * u * mean(d) * b / (1 + b / h_k)`` (a Michaelis-Menten / Hill curve of
  exponent 1 whose average rate halves at ``b = h_k``).
* **clicks** ``~ Binomial(impressions, ctr_k * fatigue)``; **fatigue** ``= floor + (1 -
  floor) * 0.5 ** (cumulative impressions / half)`` never increases.
* **conversions** ``~ Binomial(clicks, cvr_k * weekday multiplier)`` and their **value**
  ``~ value_k * Gamma(conversions * shape, 1 / shape)``.
* **lag**: each day's conversions are split ``Multinomial(conversions, lag_pmf)`` over the
  attribution window; the share with lag ``j`` becomes visible ``j + 1`` days later, so
  at age 1 (yesterday) only lag 0 is reported and a day is complete at age
  ``len(lag_pmf)``. Totals are conserved exactly.

Seeding and reproducibility (see :class:`ReplicationBlock`): the unit of randomness is a
fixed-size block of replications. Vectorizing over replications needs one
``numpy.random.Generator`` per batch (numpy's samplers consume a variable number of
random bits per element, so one replication's draws depend on its neighbours'), and the
engine's posterior sampling draws ``(R, S, K)`` Gamma variates from one generator too.
So an experiment is cut into blocks of ``block_size`` replications, block ``i`` seeded
from ``SeedSequence(base_seed, spawn_key=(i,))``; workers receive whole blocks, so the
numbers are identical whatever the executor or the number of workers. A replication's
numbers depend on ``(base_seed, block_size, its index)`` only: a partial last block is
simulated at full size and truncated.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from allocator._types import BoolArray, FloatArray, IntArray
from allocator.core import response
from allocator.core.arms import ArmState, History, Stage
from allocator.sim.scenario import Scenario

__all__ = [
    "DayReport",
    "Environment",
    "ReplicationBlock",
    "Truth",
    "World",
    "draw_world",
    "replication_blocks",
]


@dataclass(frozen=True, slots=True)
class ReplicationBlock:
    """A fixed block of replications: the unit of randomness and of work.

    Attributes:
        base_seed: the experiment's seed.
        index: block number ``i``; it holds replications ``i * size .. i * size + size - 1``.
        size: replications simulated in the block (always the experiment's block size).
        keep: replications of the block that belong to the experiment (``<= size``; less
            only for the last block).
    """

    base_seed: int
    index: int
    size: int
    keep: int

    @property
    def replications(self) -> range:
        """Global replication ids kept from this block."""
        return range(self.index * self.size, self.index * self.size + self.keep)

    def env_rng(self) -> np.random.Generator:
        """Generator of the block's worlds and daily noise (same for every policy)."""
        seq = np.random.SeedSequence(self.base_seed, spawn_key=(self.index, 0))
        return np.random.default_rng(seq)

    def policy_rng(self) -> np.random.Generator:
        """Generator of the policies' own randomness (exploration, posterior draws)."""
        seq = np.random.SeedSequence(self.base_seed, spawn_key=(self.index, 1))
        return np.random.default_rng(seq)


def replication_blocks(
    base_seed: int, n_replications: int, block_size: int
) -> Iterator[ReplicationBlock]:
    """Cut ``n_replications`` into fixed-size blocks (executors distribute these).

    Args:
        base_seed: the experiment's seed (>= 0).
        n_replications: replications wanted (>= 1).
        block_size: replications per block (>= 1); part of the experiment's identity.

    Yields:
        Blocks in order; the last one keeps only the replications still wanted.
    """
    if n_replications < 1 or block_size < 1 or base_seed < 0:
        raise ValueError("need n_replications >= 1, block_size >= 1 and base_seed >= 0")
    n_blocks = -(-n_replications // block_size)
    for i in range(n_blocks):
        keep = min(block_size, n_replications - i * block_size)
        yield ReplicationBlock(base_seed=base_seed, index=i, size=block_size, keep=keep)


@dataclass(frozen=True, slots=True)
class World:
    """One drawn world per replication: the hidden truth, arrays of shape ``(R, K)``.

    Attributes:
        is_spark: Spark arm (same for every replication).
        creator: creator code (same for every replication).
        launch_day: first day the arm can deliver.
        cpm: the arm's median CPM, currency per 1,000 impressions.
        ctr: click-through rate before fatigue, clicks per impression.
        cvr: conversion rate per click before the weekday multiplier.
        half_saturation: ``h``, currency per day.
        value_per_conversion: mean order value, currency.
        expiry: day the authorization expires (midnight); ``inf`` for dark posts.
        revocation: time (days, fractional) a creator revokes; ``inf`` if never.
    """

    is_spark: BoolArray
    creator: IntArray
    launch_day: IntArray
    cpm: FloatArray
    ctr: FloatArray
    cvr: FloatArray
    half_saturation: FloatArray
    value_per_conversion: FloatArray
    expiry: FloatArray
    revocation: FloatArray

    @property
    def base_rate(self) -> FloatArray:
        """Conversions per currency unit at vanishing spend, before fatigue/weekday."""
        return 1000.0 * self.ctr * self.cvr / self.cpm


def _arm_layout(scenario: Scenario) -> tuple[BoolArray, IntArray]:
    k = np.arange(scenario.n_arms)
    if scenario.is_spark is not None:
        is_spark = np.asarray(scenario.is_spark, dtype=bool)
    else:
        p = scenario.spark_share
        is_spark = np.floor((k + 1) * p + 1e-9) > np.floor(k * p + 1e-9)
    if scenario.creator is not None:
        creator = np.asarray(scenario.creator, dtype=np.int64)
    else:
        creator = (k * scenario.n_creators // scenario.n_arms).astype(np.int64)
    return is_spark, creator


def _launch_days(scenario: Scenario, n_runs: int, rng: np.random.Generator) -> IntArray:
    shape = (n_runs, scenario.n_arms)
    if scenario.launch_day is not None:
        return np.broadcast_to(np.asarray(scenario.launch_day, dtype=np.int64), shape).copy()
    n_later = scenario.n_arms - scenario.initial_arms
    gaps = np.ceil(rng.exponential(scenario.arrival_interval_days, size=(n_runs, n_later)))
    later = np.cumsum(np.maximum(gaps, 1.0), axis=1).astype(np.int64)
    return np.concatenate([np.zeros((n_runs, scenario.initial_arms), np.int64), later], axis=1)


def _lognormal(rng: np.random.Generator, sigma: float, shape: tuple[int, ...]) -> FloatArray:
    """Multipliers with median 1 and log-sd ``sigma``."""
    return np.exp(sigma * rng.standard_normal(shape))


def draw_world(scenario: Scenario, n_runs: int, rng: np.random.Generator) -> World:
    """Draw one world per replication from ``scenario``.

    Args:
        scenario: the distribution.
        n_runs: replications ``R``.
        rng: the block's environment generator (see :class:`ReplicationBlock`).

    Returns:
        The world, arrays of shape ``(R, K)``.
    """
    s, k = scenario, scenario.n_arms
    shape = (n_runs, k)
    is_spark, creator = _arm_layout(s)
    n_creators = int(creator.max()) + 1
    creator_effect = _lognormal(rng, s.creator_sigma, (n_runs, n_creators))
    spark_lift = np.where(is_spark, 1.0 / s.spark_cpa_multiplier, 1.0)
    ctr = s.ctr * _lognormal(rng, s.ctr_arm_sigma, shape) * spark_lift
    cvr = s.cvr * _lognormal(rng, s.cvr_arm_sigma, shape) * creator_effect[:, creator]
    launch = _launch_days(s, n_runs, rng)
    durations = rng.choice(
        np.asarray(s.auth_duration_days, dtype=float), size=shape, p=s.auth_duration_probs
    )
    if s.revocation_rate_per_day > 0:
        to_revoke = rng.exponential(1.0 / s.revocation_rate_per_day, size=shape)
    else:
        to_revoke = np.full(shape, np.inf)
    spark = np.broadcast_to(is_spark, shape)
    return World(
        is_spark=spark.copy(),
        creator=np.broadcast_to(creator, shape).copy(),
        launch_day=launch,
        cpm=s.cpm * _lognormal(rng, s.cpm_arm_sigma, shape),
        ctr=np.minimum(ctr, 1.0),
        cvr=np.minimum(cvr, 1.0),
        half_saturation=s.saturation_spend * _lognormal(rng, s.saturation_sigma, shape),
        value_per_conversion=s.value_per_conversion * _lognormal(rng, s.value_arm_sigma, shape),
        expiry=np.where(spark, launch + durations, np.inf),
        revocation=np.where(spark, launch + to_revoke, np.inf),
    )


@dataclass(frozen=True, slots=True)
class Truth:
    """What the oracle knows about today (the planning day), arrays of shape ``(R, K)``.

    Expected conversions of a daily budget ``b`` on arm ``k`` today are
    ``rate * b / (1 + b / half_saturation)`` (see :meth:`expected_conversions`); ``rate``
    already includes availability, fatigue, the weekday and the mean delivery share.

    Attributes:
        day: the planning day (0-based).
        rate: expected conversions per currency unit at vanishing budget.
        half_saturation: ``h``, currency per day.
        available: share of today the arm can deliver (0 before launch / after lapse).
        launched: the arm exists today.
        fatigue: today's CTR multiplier from fatigue, in (0, 1].
        value_per_conversion: mean order value, currency.
        lapse: time the authorization lapses (min of expiry and revocation), days.
    """

    day: int
    rate: FloatArray
    half_saturation: FloatArray
    available: FloatArray
    launched: BoolArray
    fatigue: FloatArray
    value_per_conversion: FloatArray
    lapse: FloatArray

    def expected_conversions(self, budgets: FloatArray) -> FloatArray:
        """Expected conversions today for daily budgets ``(..., R, K)`` (currency/day)."""
        return response.expected_conversions(
            self.rate, self.half_saturation, np.maximum(budgets, 0.0)
        )

    def marginal_rate(self, budgets: FloatArray) -> FloatArray:
        """Derivative of :meth:`expected_conversions`, conversions per currency unit."""
        return response.marginal_rate(self.rate, self.half_saturation, np.maximum(budgets, 0.0))


@dataclass(frozen=True, slots=True)
class DayReport:
    """True results of one simulated day, arrays of shape ``(R, K)``.

    Attributes:
        day: the simulated day (0-based).
        budget: effective daily budget (0 where disabled), currency per day.
        enabled: the status the policy set.
        spend: currency spent (<= budget).
        impressions: impressions delivered.
        clicks: clicks.
        conversions: conversions that the day will eventually be credited with.
        value: their value, currency.
        expected_conversions: the expectation of ``conversions`` given the budgets.
        stranded: budget on enabled arms that could not deliver because the Spark
            authorization had lapsed (before or during the day), currency.
        available: share of the day each arm could deliver.
        best: the arm(s) with the highest true rate today (base rate x fatigue x
            availability) among those that can deliver; all False if none can.
    """

    day: int
    budget: FloatArray
    enabled: BoolArray
    spend: FloatArray
    impressions: FloatArray
    clicks: FloatArray
    conversions: FloatArray
    value: FloatArray
    expected_conversions: FloatArray
    stranded: FloatArray
    available: FloatArray
    best: BoolArray


@dataclass(slots=True)
class _Buffers:
    """Growing ``(R, K, capacity)`` arrays of the reported view, one column per day."""

    spend: FloatArray
    impressions: FloatArray
    clicks: FloatArray
    conversions: FloatArray
    value: FloatArray
    lag_conversions: FloatArray  # (R, K, W, W) ring: [day % W, lag]
    lag_value: FloatArray

    @classmethod
    def allocate(cls, n_runs: int, n_arms: int, capacity: int, window: int) -> _Buffers:
        def z(*tail: int) -> FloatArray:
            return np.zeros((n_runs, n_arms, *tail))

        return cls(
            z(capacity), z(capacity), z(capacity), z(capacity), z(capacity),
            z(window, window), z(window, window),
        )  # fmt: skip

    def ensure(self, n_days: int) -> None:
        capacity = self.spend.shape[-1]
        if n_days <= capacity:
            return
        new = max(n_days, 2 * capacity)
        for name in ("spend", "impressions", "clicks", "conversions", "value"):
            old = getattr(self, name)
            grown = np.zeros((*old.shape[:-1], new))
            grown[..., :capacity] = old
            setattr(self, name, grown)


@dataclass(slots=True)
class _Dynamic:
    """The mutable part of the environment's state."""

    day: int
    cumulative_impressions: FloatArray
    budget: FloatArray
    enabled: BoolArray
    days_since_edit: FloatArray
    buffers: _Buffers = field(repr=False)


class Environment:
    """``R`` simulated accounts of ``K`` arms each, advanced one day at a time.

    Build one with :meth:`reset`. A day is: :meth:`observe` (what the policy may see),
    the policy decides, :meth:`advance_day` (delivery; returns the truth). The sandbox
    uses ``n_runs = 1`` and :meth:`revoke` / :meth:`expire` / :meth:`renew`.
    """

    def __init__(self, scenario: Scenario, world: World, noise_rng: np.random.Generator) -> None:
        """Wrap a drawn world; prefer :meth:`reset`.

        Args:
            scenario: the scenario the world was drawn from.
            world: the drawn truth, arrays ``(R, K)``.
            noise_rng: generator of the daily noise.
        """
        self.scenario = scenario
        self.world = world
        self._rng = noise_rng
        n_runs, n_arms = world.cpm.shape
        window = scenario.attribution_window_days
        self._pmf = np.asarray(scenario.lag_pmf, dtype=float)
        self._weekday = np.asarray(scenario.weekday_multipliers, dtype=float)
        self._weekday = self._weekday / self._weekday.mean()
        # mutable copies: the sandbox may revoke, expire or renew authorizations
        self._expiry = world.expiry.copy()
        self._revocation = world.revocation.copy()
        capacity = max(scenario.horizon_days, window)
        self._state = _Dynamic(
            day=0,
            cumulative_impressions=np.zeros((n_runs, n_arms)),
            budget=np.zeros((n_runs, n_arms)),
            enabled=np.zeros((n_runs, n_arms), dtype=bool),
            days_since_edit=np.full((n_runs, n_arms), np.inf),
            buffers=_Buffers.allocate(n_runs, n_arms, capacity, window),
        )

    @classmethod
    def reset(cls, scenario: Scenario, n_runs: int, rng: np.random.Generator) -> Environment:
        """Draw ``n_runs`` worlds from ``scenario`` and start them at day 0.

        The worlds are drawn from ``rng`` first; the daily noise comes from a child
        generator spawned from it, so two environments reset from identically seeded
        generators face the same worlds whatever the policies do.

        Args:
            scenario: the distribution of accounts.
            n_runs: replications ``R`` (>= 1).
            rng: a generator created from a ``SeedSequence`` (e.g. ``default_rng(seed)``
                or :meth:`ReplicationBlock.env_rng`).

        Returns:
            A fresh environment at day 0, nothing delivered yet.
        """
        if n_runs < 1:
            raise ValueError(f"n_runs must be >= 1, got {n_runs}")
        world = draw_world(scenario, n_runs, rng)
        (noise,) = rng.spawn(1)
        return cls(scenario, world, noise)

    # ----------------------------------------------------------------- properties
    @property
    def day(self) -> int:
        """The next day to simulate (= the planning day of :meth:`observe`)."""
        return self._state.day

    @property
    def n_runs(self) -> int:
        """Replications ``R``."""
        return int(self.world.cpm.shape[0])

    @property
    def n_arms(self) -> int:
        """Arms ``K``."""
        return int(self.world.cpm.shape[1])

    @property
    def lapse(self) -> FloatArray:
        """Time each authorization lapses, days ``(R, K)`` (``inf``: never / dark post)."""
        return np.minimum(self._expiry, self._revocation)

    # ------------------------------------------------------------- sandbox hooks
    def revoke(self, arm: int, replication: int = 0, at: float | None = None) -> None:
        """Revoke a Spark authorization at time ``at`` (default: the start of today)."""
        self._require_spark(arm, replication)
        when = float(self.day) if at is None else float(at)
        self._revocation[replication, arm] = min(self._revocation[replication, arm], when)

    def expire(self, arm: int, replication: int = 0) -> None:
        """Make a Spark authorization expire at the start of today."""
        self._require_spark(arm, replication)
        self._expiry[replication, arm] = min(self._expiry[replication, arm], float(self.day))

    def renew(self, arm: int, days: int, replication: int = 0) -> None:
        """Authorize a Spark arm again for ``days`` days from today (a new code)."""
        self._require_spark(arm, replication)
        if days < 1:
            raise ValueError(f"days must be >= 1, got {days}")
        self._expiry[replication, arm] = float(self.day + days)
        self._revocation[replication, arm] = np.inf

    def _require_spark(self, arm: int, replication: int) -> None:
        if not self.world.is_spark[replication, arm]:
            raise ValueError(f"arm {arm} is a dark post: it has no authorization")

    # ------------------------------------------------------------------- truth
    def _fatigue(self) -> FloatArray:
        s = self.scenario
        decay = 0.5 ** (self._state.cumulative_impressions / s.fatigue_half_impressions)
        return s.fatigue_floor + (1.0 - s.fatigue_floor) * decay

    def _available(self, day: int) -> FloatArray:
        launched = self.world.launch_day <= day
        return np.where(launched, np.clip(self.lapse - day, 0.0, 1.0), 0.0)

    def _weekday_multiplier(self, day: int) -> float:
        return float(self._weekday[(self.scenario.start_weekday + day) % 7])

    def truth(self) -> Truth:
        """The oracle's view of today (the next day to simulate)."""
        day = self.day
        fatigue = self._fatigue()
        available = self._available(day)
        rate = (
            self.world.base_rate
            * fatigue
            * self._weekday_multiplier(day)
            * available
            * self.scenario.delivery_mean
        )
        return Truth(
            day=day,
            rate=rate,
            half_saturation=self.world.half_saturation,
            available=available,
            launched=self.world.launch_day <= day,
            fatigue=fatigue,
            value_per_conversion=self.world.value_per_conversion,
            lapse=self.lapse,
        )

    # ------------------------------------------------------------------- step
    def advance_day(self, budgets: FloatArray, enabled: BoolArray) -> DayReport:
        """Deliver today's budgets, record the reported view, move to the next day.

        Args:
            budgets: daily budget per arm ``(R, K)``, currency per day (>= 0, finite).
                Budgets of disabled or not-yet-launched arms deliver nothing.
            enabled: operation status per arm ``(R, K)``.

        Returns:
            The day's true results.
        """
        budgets, enabled = self._check_action(budgets, enabled)
        st, w, s = self._state, self.world, self.scenario
        truth = self.truth()
        live = np.where(enabled & truth.launched, budgets, 0.0)
        stranded = live * (1.0 - truth.available)
        a, c = s.delivery_mean * s.delivery_concentration, s.delivery_concentration
        delivery = self._rng.beta(a, c - a, size=live.shape) if s.delivery_mean < 1 else 1.0
        spend = live * truth.available * delivery
        sigma = s.cpm_daily_sigma
        auction = np.exp(sigma * self._rng.standard_normal(live.shape) + 0.5 * sigma**2)
        cpm_eff = w.cpm * auction * (1.0 + live / w.half_saturation)
        impressions = self._rng.poisson(1000.0 * spend / cpm_eff).astype(float)
        clicks = self._rng.binomial(impressions.astype(np.int64), w.ctr * truth.fatigue)
        cvr = np.minimum(w.cvr * self._weekday_multiplier(st.day), 1.0)
        conversions = self._rng.binomial(clicks, cvr)
        shape = s.value_shape
        value = w.value_per_conversion * self._rng.gamma(conversions * shape, 1.0 / shape)
        self._record(spend, impressions, clicks.astype(float), conversions, value)
        self._track_edits(budgets, enabled)
        deliverable = truth.available > 0
        best_rate = np.where(deliverable, w.base_rate * truth.fatigue * truth.available, -np.inf)
        best = (best_rate == best_rate.max(axis=-1, keepdims=True)) & deliverable
        report = DayReport(
            day=st.day,
            budget=np.where(enabled, budgets, 0.0),
            enabled=enabled.copy(),
            spend=spend,
            impressions=impressions,
            clicks=clicks.astype(float),
            conversions=conversions.astype(float),
            value=value,
            expected_conversions=truth.expected_conversions(live),
            stranded=stranded,
            available=truth.available,
            best=best,
        )
        st.cumulative_impressions = st.cumulative_impressions + impressions
        st.day += 1
        return report

    def _check_action(
        self, budgets: FloatArray, enabled: BoolArray
    ) -> tuple[FloatArray, BoolArray]:
        shape = (self.n_runs, self.n_arms)
        b = np.asarray(budgets, dtype=float)
        e = np.asarray(enabled, dtype=bool)
        if b.shape != shape or e.shape != shape:
            raise ValueError(
                f"budgets and enabled must have shape {shape}, got {b.shape}, {e.shape}"
            )
        if not np.all(np.isfinite(b)) or np.any(b < 0):
            raise ValueError("budgets must be finite and >= 0")
        return b, e

    def _record(
        self,
        spend: FloatArray,
        impressions: FloatArray,
        clicks: FloatArray,
        conversions: IntArray,
        value: FloatArray,
    ) -> None:
        st = self._state
        buf, t, window = st.buffers, st.day, len(self._pmf)
        buf.ensure(t + 1)
        buf.spend[..., t] = spend
        buf.impressions[..., t] = impressions
        buf.clicks[..., t] = clicks
        split = self._rng.multinomial(conversions, self._pmf).astype(float)  # (R, K, W)
        share = np.divide(split, conversions[..., None], out=np.zeros_like(split),
                          where=conversions[..., None] > 0)  # fmt: skip
        buf.lag_conversions[..., t % window, :] = split
        buf.lag_value[..., t % window, :] = share * value[..., None]
        # lag j of day t - j becomes visible now (after day t, seen on day t + 1)
        lags = np.arange(min(window, t + 1))
        days = t - lags
        buf.conversions[..., days] += buf.lag_conversions[..., days % window, lags]
        buf.value[..., days] += buf.lag_value[..., days % window, lags]

    def _track_edits(self, budgets: FloatArray, enabled: BoolArray) -> None:
        st = self._state
        before = np.where(st.enabled, st.budget, 0.0)
        after = np.where(enabled, budgets, 0.0)
        large = (np.abs(after - before) > self.scenario.large_edit_fraction * before) & enabled
        st.days_since_edit = np.where(large, 1.0, st.days_since_edit + 1.0)
        st.budget = budgets.copy()
        st.enabled = enabled.copy()

    # ----------------------------------------------------------------- observe
    def observe(self, n_days: int | None = None) -> tuple[ArmState, History]:
        """What the platform reports on the planning day (no truth, lagged, noisy).

        Args:
            n_days: most recent days to include (default: every simulated day).

        Returns:
            ``(arms, history)``: arm state ``(R, K)`` and history ``(R, K, D)`` with
            columns in date order (oldest first), ``age_days`` ``D..1`` (1 = yesterday).
            Arms not launched yet have ``days_since_launch < 0`` (minus the days until
            launch), ``enabled`` False and ``observed`` False on every column; the
            platform will not deliver on them. A lapsed Spark authorization shows as
            ``auth_days_left <= 0``; a revocation later today is not known yet.
        """
        st, w, t = self._state, self.world, self._state.day
        d = t if n_days is None else max(0, min(n_days, t))
        cols = slice(t - d, t)
        days = np.arange(t - d, t)
        buf = st.buffers
        revoked = self._revocation <= t
        known_lapse = np.where(revoked, np.minimum(self._revocation, self._expiry), self._expiry)
        launched = w.launch_day <= t
        arms = ArmState(
            is_spark=w.is_spark,
            creator=w.creator,
            budget=np.where(st.enabled & launched, st.budget, 0.0),
            enabled=st.enabled & launched,
            auth_days_left=np.where(w.is_spark, known_lapse - t, np.inf),
            days_since_launch=(t - w.launch_day).astype(float),
            days_since_edit=st.days_since_edit.copy(),
            prev_stage=np.full(st.budget.shape, int(Stage.TESTING), dtype=np.int64),
        )
        history = History(
            spend=_frozen(buf.spend[..., cols]),
            conversions=buf.conversions[..., cols].copy(),
            value=buf.value[..., cols].copy(),
            impressions=_frozen(buf.impressions[..., cols]),
            observed=w.launch_day[..., None] <= days,
            age_days=(t - days).astype(float),
        )
        return arms, history

    def reported_clicks(self, n_days: int | None = None) -> FloatArray:
        """Clicks ``(R, K, D)`` aligned with the columns of :meth:`observe`."""
        t = self._state.day
        d = t if n_days is None else max(0, min(n_days, t))
        return _frozen(self._state.buffers.clicks[..., t - d : t])


def _frozen(view: FloatArray) -> FloatArray:
    """A read-only view (columns of past days never change for these fields)."""
    out = view.view()
    out.flags.writeable = False
    return out
