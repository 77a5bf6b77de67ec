"""The job config: strict, frozen pydantic models for a TOML file, and its loader.

A job config names the account (``[account]``), where its data comes from (``[platform]``,
a union picked by ``kind``: ``files``, ``sandbox`` or ``tiktok``) and, optionally, the
engine's tuning (``[engine]``, ``[posterior]``, ``[decisions]``, ``[guardrails]``) whose
keys and defaults mirror the core parameter dataclasses one to one, and how the scheduled
job applies plans (``[job]``: store, cadence, kill switch, cap). Unknown keys are errors.

Access tokens are never config values: a platform names the environment variable
(``token_env``) or the file (``token_file``) that holds it.

:func:`load_job_config` reads the file with :mod:`tomllib` and turns every problem into one
:class:`~allocator.errors.ConfigError` naming the file, the dotted key and the reason.
Relative paths in the file are relative to the file's directory.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from allocator.core.arms import Objective, Portfolio
from allocator.core.decisions import DecisionParams
from allocator.core.engine import EngineParams
from allocator.core.guardrail_params import GuardrailParams
from allocator.core.posterior import LagModel, PosteriorParams
from allocator.errors import ConfigError

__all__ = [
    "AccountConfig",
    "DecisionsConfig",
    "EngineConfig",
    "FilesPlatform",
    "GuardrailsConfig",
    "JobConfig",
    "JobSection",
    "PlatformConfig",
    "PosteriorConfig",
    "SandboxPlatform",
    "TikTokPlatform",
    "load_job_config",
]

_SECRET_KEY = re.compile(r"token|secret|password|api_key|apikey|credential", re.IGNORECASE)

Probability = Annotated[float, Field(gt=0.0, lt=1.0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
EnvVarName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


def _id_text(value: object) -> object:
    """TOML users write advertiser ids as numbers or strings; keep them as strings."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


AdvertiserId = Annotated[str, BeforeValidator(_id_text), Field(min_length=1)]


def _cross(key: str, reason: str) -> PydanticCustomError:
    """A cross-field error that still names the offending dotted key."""
    return PydanticCustomError("cross_field", "{reason}", {"key": key, "reason": reason})


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _core_accepts(section: str, build: Callable[[], object]) -> None:
    """Surface any rule the core dataclass enforces beyond ours as an error on ``section``."""
    try:
        build()
    except ValueError as exc:
        raise _cross(section, str(exc)) from exc


def _resolve(path: Path, info: ValidationInfo) -> Path:
    """A path from the file, made absolute against the config file's directory."""
    base = (info.context or {}).get("base_dir")
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    return path.expanduser().resolve()


class AccountConfig(_Strict):
    """``[account]``: the portfolio the job manages.

    Attributes:
        name: account label used in plans, the store and alerts.
        currency: ISO 4217 code of the ad account (all money is in it).
        daily_budget: total daily budget across the managed ad groups, currency per day.
        objective: ``cpa`` (conversions per spend) or ``roas`` (value per spend).
        target_cpa: target cost per conversion, currency (needed for ``cpa``).
        target_roas: target value per currency spent (needed for ``roas``).
        timezone: the ad account's IANA time zone (days and expiries are judged in it).
    """

    name: str = Field(min_length=1)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    daily_budget: Positive
    objective: Objective = Objective.CPA
    target_cpa: Positive | None = None
    target_roas: Positive | None = None
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from exc
        return value

    @model_validator(mode="after")
    def _target_matches_objective(self) -> Self:
        if self.objective is Objective.CPA:
            if self.target_cpa is None:
                raise _cross("account.target_cpa", "objective 'cpa' needs target_cpa")
            if self.target_roas is not None:
                raise _cross("account.target_roas", "target_roas is set but objective is 'cpa'")
        else:
            if self.target_roas is None:
                raise _cross("account.target_roas", "objective 'roas' needs target_roas")
            if self.target_cpa is not None:
                raise _cross("account.target_cpa", "target_cpa is set but objective is 'roas'")
        return self


class FilesPlatform(_Strict):
    """``[platform] kind = "files"``: two CSV files (plan only, nothing is applied).

    Attributes:
        adgroups: the ad groups CSV file (absolute after loading).
        observations: the daily observations CSV file (absolute after loading).
    """

    kind: Literal["files"]
    adgroups: Path
    observations: Path

    @field_validator("adgroups", "observations")
    @classmethod
    def _absolute(cls, value: Path, info: ValidationInfo) -> Path:
        return _resolve(value, info)


class _ApiPlatform(_Strict):
    advertiser_id: AdvertiserId

    @field_validator("base_url", check_fields=False)
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")


class SandboxPlatform(_ApiPlatform):
    """``[platform] kind = "sandbox"``: the local emulation of the TikTok API.

    Attributes:
        base_url: where the sandbox listens (127.0.0.1 by default).
        advertiser_id: the sandbox advertiser.
        token_env: name of the environment variable holding the sandbox token.
    """

    kind: Literal["sandbox"]
    base_url: str = "http://127.0.0.1:8765"
    token_env: EnvVarName = "ALLOCATOR_SANDBOX_TOKEN"


class TikTokPlatform(_ApiPlatform):
    """``[platform] kind = "tiktok"``: the TikTok Marketing API.

    Attributes:
        base_url: API host (https only: the token travels with each request).
        advertiser_id: the ad account.
        token_env: name of the environment variable holding the access token.
        token_file: a file holding the access token instead (e.g. a mounted secret).
    """

    kind: Literal["tiktok"]
    base_url: str = "https://business-api.tiktok.com"
    token_env: EnvVarName = "TIKTOK_ACCESS_TOKEN"
    token_file: Path | None = None

    @field_validator("base_url")
    @classmethod
    def _https(cls, value: str) -> str:
        if not value.startswith("https://"):
            raise ValueError("must use https:// (the access token travels with each request)")
        return value

    @field_validator("token_file")
    @classmethod
    def _absolute(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return None if value is None else _resolve(value, info)


PlatformConfig = Annotated[
    FilesPlatform | SandboxPlatform | TikTokPlatform, Field(discriminator="kind")
]
"""``[platform]``: one of the platform models, picked by ``kind``."""


class EngineConfig(_Strict):
    """``[engine]``: sampling and data window.

    Attributes:
        n_draws: posterior draws per decision (``S``).
        seed: seed of the run's ``numpy.random.Generator`` (same seed, same plan).
        lookback_days: most days of history the engine reads.
        half_saturation_spend: daily spend at which an ad group's average conversion
            rate halves (diminishing returns), currency per day; unset = linear response.
    """

    n_draws: int = Field(default=1000, ge=10, le=100_000)
    seed: int = Field(default=0, ge=0)
    lookback_days: int = Field(default=60, ge=1, le=366)
    half_saturation_spend: float | None = Field(default=None, gt=0, allow_inf_nan=False)


class PosteriorConfig(_Strict):
    """``[posterior]``: mirrors ``PosteriorParams`` (lag given as ``lag_pmf``).

    Attributes:
        half_life_days: time-discount half-life, days (``inf`` disables discounting).
        prior_strength: pooled prior's weight, in conversions of evidence.
        lag_pmf: share of a day's eventual conversions reported 0, 1, ... days later
            (sums to 1; its length is the attribution window); ``None`` = the default.
        pool_by_creator: pool priors by kind, then creators shrink to their kind.
        value_shape: shape of the per-conversion value distribution (ROAS objective);
            ``value_shape * prior_strength`` must exceed 1.
    """

    half_life_days: float = Field(default=14.0, gt=0.0)
    prior_strength: Positive = 2.0
    lag_pmf: tuple[NonNegative, ...] | None = Field(default=None, min_length=1, max_length=90)
    pool_by_creator: bool = True
    value_shape: Positive = 2.0

    @field_validator("half_life_days")
    @classmethod
    def _not_nan(cls, value: float) -> float:
        if math.isnan(value):
            raise ValueError("must be a number of days (inf disables discounting)")
        return value

    @field_validator("lag_pmf")
    @classmethod
    def _sums_to_one(cls, value: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if value is not None and not math.isclose(math.fsum(value), 1.0, abs_tol=1e-6):
            raise ValueError(f"must sum to 1 (sums to {math.fsum(value):.6g})")
        return value

    @model_validator(mode="after")
    def _finite_prior_value(self) -> Self:
        if self.value_shape * self.prior_strength <= 1.0:
            raise _cross(
                "posterior.value_shape",
                "value_shape x prior_strength must exceed 1 (else the prior mean value "
                "per conversion is infinite)",
            )
        _core_accepts("posterior", self.params)
        return self

    def params(self) -> PosteriorParams:
        """The core's :class:`~allocator.core.posterior.PosteriorParams`."""
        lag = LagModel.default() if self.lag_pmf is None else LagModel(np.array(self.lag_pmf))
        return PosteriorParams(
            half_life_days=self.half_life_days,
            prior_strength=self.prior_strength,
            lag=lag,
            pool_by_creator=self.pool_by_creator,
            value_shape=self.value_shape,
        )


class DecisionsConfig(_Strict):
    """``[decisions]``: mirrors ``DecisionParams`` (names, defaults and units)."""

    p_best_to_scale: Probability = 0.95
    value_remaining_to_scale: NonNegative = 0.01
    value_remaining_quantile: Probability = 0.95
    min_conversions_to_scale: NonNegative = 10.0
    min_spend_to_stop: NonNegative = 10.0
    min_spend_to_kill: NonNegative = 3.0
    p_best_to_stop: Probability = 0.01
    p_meets_target_to_keep: Probability = 0.1
    kill_cpa_multiple: float = Field(default=2.0, ge=1.0, allow_inf_nan=False)
    kill_probability: Probability = 0.9
    fatigue_drop: Probability = 0.3
    fatigue_probability: Probability = 0.9
    fatigue_half_life_days: Positive = 3.0
    min_remaining_days: NonNegative = 3.0
    renew_warning_days: NonNegative = 7.0
    cpa_interval: Probability = 0.90

    @model_validator(mode="after")
    def _warning_before_block(self) -> Self:
        if self.renew_warning_days < self.min_remaining_days:
            raise _cross(
                "decisions.renew_warning_days",
                "must be >= min_remaining_days (warn before an arm is blocked)",
            )
        _core_accepts("decisions", self.params)
        return self

    def params(self) -> DecisionParams:
        """The core's :class:`~allocator.core.decisions.DecisionParams`."""
        return DecisionParams(**self.model_dump())


class GuardrailsConfig(_Strict):
    """``[guardrails]``: mirrors ``GuardrailParams`` (budgets in currency per day)."""

    platform_min_budget: Positive = 20.01
    max_budget_share: float = Field(default=1.0, gt=0.0, le=1.0)
    max_step_up: NonNegative = 0.3
    max_step_down: float = Field(default=0.5, ge=0.0, le=1.0, allow_inf_nan=False)
    learning_days: NonNegative = 3.0
    learning_conversions: NonNegative = 50.0
    learning_max_days: NonNegative = 14.0
    large_edit_fraction: NonNegative = 0.3
    test_budget: Positive | None = None
    new_arm_budget: Positive | None = None
    exploration_share: float = Field(default=0.5, ge=0.0, lt=1.0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.learning_max_days < self.learning_days:
            raise _cross("guardrails.learning_max_days", "must be >= learning_days")
        for key in ("test_budget", "new_arm_budget"):
            value = getattr(self, key)
            if value is not None and value < self.platform_min_budget:
                raise _cross(f"guardrails.{key}", "must be >= platform_min_budget")
        _core_accepts("guardrails", self.params)
        return self

    def params(self) -> GuardrailParams:
        """The core's :class:`~allocator.core.guardrail_params.GuardrailParams`."""
        return GuardrailParams(**self.model_dump())


class JobSection(_Strict):
    """``[job]``: how the scheduled rebalancing job records and applies plans.

    Attributes:
        store: the job's SQLite store (relative to the config file's directory;
            default ``allocator.sqlite`` next to it).
        cadence: one run per account per ``daily`` or ``weekly`` (ISO week) period.
        kill_switch: when true, ``--apply`` refuses to change anything (dry runs still
            plan and print).
        max_budget_moved: cap on the total budget moved by one run, currency per day
            (sum over ad groups of ``|to_budget - from_budget|``); ``None``: no cap.
        allow_stale: apply even when the live budgets or statuses differ from those the
            plan was computed from (someone edited them in Ads Manager meanwhile).
        report_md: write a Markdown report of each run to this file; ``None``: none.
    """

    store: Path = Field(default=Path("allocator.sqlite"), validate_default=True)
    cadence: Literal["daily", "weekly"] = "daily"
    kill_switch: bool = False
    max_budget_moved: Positive | None = None
    allow_stale: bool = False
    report_md: Path | None = None

    @field_validator("store", "report_md")
    @classmethod
    def _absolute(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return None if value is None else _resolve(value, info)


class JobConfig(_Strict):
    """A whole job config file.

    Attributes:
        account: ``[account]``.
        platform: ``[platform]`` (one of :data:`PlatformConfig`).
        engine: ``[engine]``.
        posterior: ``[posterior]``.
        decisions: ``[decisions]``.
        guardrails: ``[guardrails]``.
        job: ``[job]``.
    """

    account: AccountConfig
    platform: PlatformConfig
    engine: EngineConfig = Field(default_factory=EngineConfig)
    posterior: PosteriorConfig = Field(default_factory=PosteriorConfig)
    decisions: DecisionsConfig = Field(default_factory=DecisionsConfig)
    guardrails: GuardrailsConfig = Field(default_factory=GuardrailsConfig)
    job: JobSection = Field(default_factory=JobSection)

    @model_validator(mode="before")
    @classmethod
    def _job_section_in_context(cls, data: object) -> object:
        """Validate a missing ``[job]`` too, so its default store sits next to the file."""
        if isinstance(data, dict) and "job" not in data:
            return {**data, "job": {}}
        return data

    @model_validator(mode="after")
    def _budget_fits(self) -> Self:
        budget, rails = self.account.daily_budget, self.guardrails
        if budget < rails.platform_min_budget:
            raise _cross(
                "account.daily_budget",
                f"{budget:g} is below guardrails.platform_min_budget "
                f"({rails.platform_min_budget:g})",
            )
        if rails.max_budget_share * budget < rails.platform_min_budget:
            raise _cross(
                "guardrails.max_budget_share",
                "max_budget_share x daily_budget is below platform_min_budget: "
                "no ad group could run",
            )
        for key in ("test_budget", "new_arm_budget"):
            value = getattr(rails, key)
            if value is not None and value > budget:
                raise _cross(f"guardrails.{key}", f"{value:g} exceeds account.daily_budget")
        if self.job.report_md is not None and self.job.report_md == self.job.store:
            raise _cross("job.report_md", "must not be the store file")
        return self

    def engine_params(self) -> EngineParams:
        """The engine's settings as the core parameter objects."""
        return EngineParams(
            posterior=self.posterior.params(),
            decisions=self.decisions.params(),
            guardrails=self.guardrails.params(),
            n_draws=self.engine.n_draws,
            half_saturation_spend=linear_if_unset(self.engine.half_saturation_spend),
        )

    def portfolio(self) -> Portfolio:
        """The account as the core's :class:`~allocator.core.arms.Portfolio`."""
        a = self.account
        return Portfolio(a.currency, a.daily_budget, a.objective, a.target_cpa, a.target_roas)


def linear_if_unset(value: float | None) -> float:
    """The engine's ``half_saturation_spend``: unset means a linear response (``inf``)."""
    return math.inf if value is None else value


# --------------------------------------------------------------------------- loading


def _dotted(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _model_at(loc: tuple[int | str, ...], data: object) -> type[BaseModel] | None:
    """The model class that holds the key at ``loc`` (for "did you mean" hints)."""
    model: type[BaseModel] = JobConfig
    for part in loc:
        if part == "platform" and model is JobConfig:
            kind = data.get("platform", {}).get("kind") if isinstance(data, dict) else None
            models: dict[str, type[BaseModel]] = {
                "files": FilesPlatform,
                "sandbox": SandboxPlatform,
                "tiktok": TikTokPlatform,
            }
            if kind not in models:
                return None
            model = models[kind]
            continue
        field = model.model_fields.get(str(part))
        nested = field.annotation if field is not None else None
        if not (isinstance(nested, type) and issubclass(nested, BaseModel)):
            return None
        model = nested
    return model


def _explain(error: ErrorDetails, data: object) -> tuple[str, str]:
    """``(dotted key, reason)`` for one pydantic error, never echoing the input value."""
    loc = tuple(error["loc"])
    if loc[:1] == ("platform",) and len(loc) > 1 and loc[1] in ("files", "sandbox", "tiktok"):
        loc = loc[:1] + loc[2:]
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "cross_field":
        return str(ctx["key"]), str(ctx["reason"])
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return _dotted((*loc, "kind")), "must be one of 'files', 'sandbox', 'tiktok'"
    if kind == "missing":
        return _dotted(loc), "required key is missing"
    if kind == "extra_forbidden":
        name = str(loc[-1])
        if _SECRET_KEY.search(name):
            return _dotted(loc), (
                "secrets are never config values: put the token in the environment variable "
                "named by token_env (or a file named by token_file)"
            )
        model = _model_at(loc[:-1], data)
        close = difflib.get_close_matches(name, list(model.model_fields), n=1) if model else []
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return _dotted(loc), f"unknown key{hint}"
    return _dotted(loc), error["msg"]


def load_job_config(path: str | Path) -> JobConfig:
    """Read and validate a job config TOML file.

    Args:
        path: the TOML file; relative paths inside it are relative to its directory.

    Returns:
        The validated, frozen :class:`JobConfig` (file paths absolute).

    Raises:
        ConfigError: the file is missing or unreadable, is not valid TOML (the reason
            names line and column), or a key is unknown, missing or invalid (``key`` is
            the dotted key, e.g. ``account.daily_budget``).
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError("file not found", path=path) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the file ({exc.__class__.__name__})", path=path) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", path=path) from exc
    try:
        return JobConfig.model_validate(data, context={"base_dir": path.parent.resolve()})
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        # An unknown key usually explains a "missing" one (a typo): report it first.
        errors.sort(key=lambda e: e["type"] != "extra_forbidden")
        key, reason = _explain(errors[0], data)
        n_more = len(errors) - 1
        more = f" (and {n_more} more problem{'s' if n_more > 1 else ''})" if n_more else ""
        # Not chained: the pydantic error quotes input values, which could be a secret.
        raise ConfigError(reason + more, path=path, key=key) from None
