"""Vectorized ground truth of simulated TikTok ad accounts, one day at a time.

An :class:`Environment` holds ``R`` independent simulated accounts (replications) of
``K`` ad groups (arms) each, as arrays of shape ``(R, K)``. Each simulated day the caller
sets budgets and statuses, :meth:`Environment.advance_day` delivers them and returns the
*true* results (:class:`~allocator.sim.truth.DayReport`), and :meth:`Environment.observe`
returns what the platform would report the next morning in the core types
(:class:`ArmState`, :class:`History`): lagged, noisy, no truth. The oracle reads
:meth:`Environment.truth`. The sandbox server drives the same class with ``R = 1``. The
worlds are drawn by :func:`~allocator.sim.world.draw_world`, the reported view is kept in
a :class:`~allocator.sim.ledger.Ledger`, and the seeding of a batch of replications is
described in :mod:`allocator.sim.replication`.

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
* **learning phase**: while an ad group learns (after launch, a re-enable or a budget
  edit above ``learning_edit_fraction``) it loses a share ``learning_penalty`` of its
  conversions, with extra day-level noise (:mod:`allocator.sim.learning`; off by default).
* **lag**: each day's conversions are split ``Multinomial(conversions, lag_pmf)`` over the
  attribution window; the share with lag ``j`` becomes visible ``j + 1`` days later, so
  at age 1 (yesterday) only lag 0 is reported and a day is complete at age
  ``len(lag_pmf)``. Totals are conserved exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from allocator._types import BoolArray, FloatArray, IntArray
from allocator.core.arms import ArmState, History, Stage
from allocator.sim.learning import LearningPhase, expected_keep_share
from allocator.sim.ledger import Ledger
from allocator.sim.scenario import Scenario
from allocator.sim.truth import DayReport, Truth
from allocator.sim.world import World, draw_world

__all__ = ["ACCEPTABLE_CPA_MULTIPLE", "Environment"]

ACCEPTABLE_CPA_MULTIPLE = 2.0
"""Acceptable arm (``underspend`` metric): true CPA at the platform minimum at most this
multiple of the target (the ``rules`` default pause threshold; an assumption)."""


@dataclass(slots=True)
class _Dynamic:
    """The mutable part of the environment's state."""

    day: int
    cumulative_impressions: FloatArray
    budget: FloatArray
    enabled: BoolArray
    days_since_edit: FloatArray
    ledger: Ledger = field(repr=False)


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
        s = scenario
        self._learning = LearningPhase.start(
            (n_runs, n_arms),
            s.learning_penalty,
            s.learning_conversions,
            s.learning_days,
            s.learning_edit_fraction,
            s.learning_noise,
        )
        self._keep_share = expected_keep_share(s.learning_penalty, s.learning_noise)
        # spawning reads the seed sequence only: the main noise stream is unchanged
        self._learn_rngs = tuple(noise_rng.spawn(3)) if self._learning.active else ()
        self._state = _Dynamic(
            day=0,
            cumulative_impressions=np.zeros((n_runs, n_arms)),
            budget=np.zeros((n_runs, n_arms)),
            enabled=np.zeros((n_runs, n_arms), dtype=bool),
            days_since_edit=np.full((n_runs, n_arms), np.inf),
            ledger=Ledger.allocate(n_runs, n_arms, capacity, window),
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
                or :meth:`~allocator.sim.replication.ReplicationBlock.env_rng`).

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
        st = self._state
        truth = self.truth()
        live = np.where(enabled & truth.launched, budgets, 0.0)
        learning, entered = self._learning.today(live)
        spend, impressions, clicks, conversions = self._deliver(live, truth)
        expected = truth.expected_conversions(live)
        shape = self.scenario.value_shape
        value = self.world.value_per_conversion * self._rng.gamma(conversions * shape, 1 / shape)
        split = self._rng.multinomial(conversions, self._pmf).astype(float)  # (R, K, W)
        if self._learning.active:  # own generators: the main stream ignores the penalty
            kept = self._learning.thin(conversions, learning, self._learn_rngs)
            expected = expected * np.where(learning, self._keep_share, 1.0)
            value = value * np.divide(
                kept, conversions, out=np.zeros(value.shape), where=conversions > 0
            )
            resplit = self._learn_rngs[2].multinomial(kept, self._pmf).astype(float)
            split = np.where(learning[..., None], resplit, split)
            conversions = kept
        st.ledger.record(st.day, spend, impressions, clicks, split, conversions, value)
        self._learning.end_day(live, entered, conversions)
        self._track_edits(budgets, enabled)
        report = DayReport(
            day=st.day,
            budget=np.where(enabled, budgets, 0.0),
            enabled=enabled.copy(),
            spend=spend,
            impressions=impressions,
            clicks=clicks,
            conversions=conversions.astype(float),
            value=value,
            expected_conversions=expected,
            stranded=live * (1.0 - truth.available),
            available=truth.available,
            best=self._best_arms(truth),
            learning=learning,
            acceptable=self._acceptable(truth),
        )
        st.cumulative_impressions = st.cumulative_impressions + impressions
        st.day += 1
        return report

    def _deliver(
        self, live: FloatArray, truth: Truth
    ) -> tuple[FloatArray, FloatArray, FloatArray, IntArray]:
        """Draw today's delivery of the live budgets ``(R, K)`` (see the module docstring).

        Returns:
            ``(spend, impressions, clicks, conversions)``, each ``(R, K)``; conversions
            before the learning phase.
        """
        w, s = self.world, self.scenario
        a, c = s.delivery_mean * s.delivery_concentration, s.delivery_concentration
        delivery = self._rng.beta(a, c - a, size=live.shape) if s.delivery_mean < 1 else 1.0
        spend = live * truth.available * delivery
        sigma = s.cpm_daily_sigma
        auction = np.exp(sigma * self._rng.standard_normal(live.shape) + 0.5 * sigma**2)
        cpm_eff = w.cpm * auction * (1.0 + live / w.half_saturation)
        impressions = self._rng.poisson(1000.0 * spend / cpm_eff).astype(float)
        clicks = self._rng.binomial(impressions.astype(np.int64), w.ctr * truth.fatigue)
        cvr = np.minimum(w.cvr * self._weekday_multiplier(self._state.day), 1.0)
        conversions = self._rng.binomial(clicks, cvr)
        return spend, impressions, clicks.astype(float), conversions

    def _acceptable(self, truth: Truth) -> BoolArray:
        """Arms able to deliver today at an acceptable true CPA (see the constant)."""
        s = self.scenario
        rate_at_min = truth.rate / (1.0 + s.platform_min_budget / truth.half_saturation)
        ok: BoolArray = (truth.available > 0) & (
            rate_at_min * ACCEPTABLE_CPA_MULTIPLE * s.target_cpa >= 1.0
        )
        return ok

    def _best_arms(self, truth: Truth) -> BoolArray:
        """Arms with the highest true rate today among those that can deliver."""
        deliverable = truth.available > 0
        best_rate = np.where(
            deliverable, self.world.base_rate * truth.fatigue * truth.available, -np.inf
        )
        best: BoolArray = (best_rate == best_rate.max(axis=-1, keepdims=True)) & deliverable
        return best

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
        buf = st.ledger
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
        return _frozen(self._state.ledger.clicks[..., t - d : t])


def _frozen(view: FloatArray) -> FloatArray:
    """A read-only view (columns of past days never change for these fields)."""
    out = view.view()
    out.flags.writeable = False
    return out
