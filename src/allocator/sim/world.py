"""The hidden truth of simulated accounts: one drawn world per replication.

:func:`draw_world` draws, from a :class:`~allocator.sim.scenario.Scenario`, each arm's
fixed characteristics (CPM, CTR, CVR, saturation, order value, launch day, Spark
authorization expiry and revocation) as arrays of shape ``(R, K)``: ``R`` replications of
``K`` arms. The day-by-day dynamics that use them live in
:mod:`allocator.sim.environment`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from allocator._types import BoolArray, FloatArray, IntArray
from allocator.sim.scenario import Scenario

__all__ = ["World", "draw_world"]


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
        rng: the block's environment generator (see
            :class:`~allocator.sim.replication.ReplicationBlock`).

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
