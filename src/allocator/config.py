"""The job config: strict, frozen pydantic models for a TOML file, and its loader.

A job config names the account (``[account]``), where its data comes from (``[platform]``,
a union picked by ``kind``: ``files``, ``sandbox`` or ``tiktok``) and, optionally, the
engine's tuning (``[engine]``, ``[posterior]``, ``[decisions]``, ``[guardrails]``: the
schema of :mod:`allocator.engine_config`, whose tables are the core parameter
dataclasses themselves), and how the scheduled job applies plans (``[job]``:
store, cadence, kill switch, cap). Unknown keys are errors.

Access tokens are never config values: a platform names the environment variable
(``token_env``) or the file (``token_file``) that holds it.

:func:`load_job_config` reads the file with :func:`allocator.toml_loader.load_toml`: one
:class:`~allocator.errors.ConfigError` lists every problem, each naming the file, the
line, the dotted key and the reason.
Relative paths in the file are relative to the file's directory.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BeforeValidator,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from allocator.config_base import Positive, StrictModel, cross_field_error
from allocator.core.arms import Objective, Portfolio
from allocator.engine_config import EngineSampling, EngineSections
from allocator.toml_loader import load_toml

__all__ = [
    "AccountConfig",
    "DataSection",
    "FilesPlatform",
    "JobConfig",
    "JobSection",
    "PlatformConfig",
    "SandboxPlatform",
    "TikTokPlatform",
    "load_job_config",
]

EnvVarName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


def _id_text(value: object) -> object:
    """TOML users write advertiser ids as numbers or strings; keep them as strings."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


AdvertiserId = Annotated[str, BeforeValidator(_id_text), Field(min_length=1)]


def _resolve(path: Path, info: ValidationInfo) -> Path:
    """A path from the file, made absolute against the config file's directory."""
    base = (info.context or {}).get("base_dir")
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    return path.expanduser().resolve()


class AccountConfig(StrictModel):
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
            raise ValueError("unknown time zone (use an IANA name such as Europe/Paris)") from exc
        return value

    @model_validator(mode="after")
    def _target_matches_objective(self) -> Self:
        if self.objective is Objective.CPA:
            if self.target_cpa is None:
                raise cross_field_error("target_cpa", "objective 'cpa' needs target_cpa")
            if self.target_roas is not None:
                raise cross_field_error("target_roas", "target_roas is set but objective is 'cpa'")
        else:
            if self.target_roas is None:
                raise cross_field_error("target_roas", "objective 'roas' needs target_roas")
            if self.target_cpa is not None:
                raise cross_field_error("target_cpa", "target_cpa is set but objective is 'roas'")
        return self


class FilesPlatform(StrictModel):
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


class _ApiPlatform(StrictModel):
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


class DataSection(StrictModel):
    """``[data]``: plausibility bounds; input beyond them is an error naming file, line, column.

    Exports go wrong in ways that parse fine: a spend of ``1e308``, a million conversions
    from ten clicks. Such rows stop the run before anything is planned.

    Attributes:
        max_spend_multiple: an ad group-day's spend (or an ad group's budget) above this
            many times ``account.daily_budget`` is an error.
        max_conversions_per_click: conversions above this many times the clicks of the
            same row (at least 1 click counted) are an error; conversions above clicks
            within it are a warning (view-through attribution). Conversions above
            impressions are always an error.
        max_daily_budget: the largest plausible ``account.daily_budget``, currency per
            day (the default allows large accounts in currencies such as IDR or VND).
    """

    max_spend_multiple: float = Field(default=3.0, ge=1.0, le=1000.0)
    max_conversions_per_click: float = Field(default=10.0, ge=1.0, le=1e6)
    max_daily_budget: Positive = 1e9


class JobSection(StrictModel):
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
        report_html: write the account's HTML report (:mod:`allocator.reports`) to this
            file after each run, on every platform; ``None``: none.
        max_data_age_days: refuse to plan when the newest observation is more than this
            many days before the planning day (``--allow-stale-data`` overrides).
        max_disabled_share: circuit breaker: ``--apply`` refuses (unless ``--force``) a
            plan that disables ad groups holding more than this share of today's budgets.
        max_unplanned_share: circuit breaker: ``--apply`` refuses (unless ``--force``) a
            plan that leaves more than this share of the daily budget unplanned.
    """

    store: Path = Field(default=Path("allocator.sqlite"), validate_default=True)
    cadence: Literal["daily", "weekly"] = "daily"
    kill_switch: bool = False
    max_budget_moved: Positive | None = None
    allow_stale: bool = False
    report_md: Path | None = None
    report_html: Path | None = None
    max_data_age_days: int = Field(default=2, ge=1, le=366)
    max_disabled_share: float = Field(default=0.5, gt=0.0, le=1.0)
    max_unplanned_share: float = Field(default=0.5, gt=0.0, le=1.0)

    @field_validator("store", "report_md", "report_html")
    @classmethod
    def _absolute(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return None if value is None else _resolve(value, info)


class EngineSection(EngineSampling):
    """``[engine]``: sampling, data window and the run's seed.

    Attributes:
        seed: seed of the run's ``numpy.random.Generator`` (same seed, same plan).
    """

    seed: int = Field(default=0, ge=0)


class JobConfig(EngineSections):
    """A whole job config file.

    Attributes:
        account: ``[account]``.
        platform: ``[platform]`` (one of :data:`PlatformConfig`).
        engine: ``[engine]``.
        posterior: ``[posterior]`` (from :class:`~allocator.engine_config.EngineSections`).
        decisions: ``[decisions]`` (idem).
        guardrails: ``[guardrails]`` (idem).
        job: ``[job]``.
        data: ``[data]``.
    """

    account: AccountConfig
    platform: PlatformConfig
    engine: EngineSection = Field(default_factory=EngineSection)
    job: JobSection = Field(default_factory=JobSection)
    data: DataSection = Field(default_factory=DataSection)

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
        if budget > self.data.max_daily_budget:
            raise cross_field_error(
                "account.daily_budget",
                f"{budget:g} is above data.max_daily_budget ({self.data.max_daily_budget:g}): "
                "not a plausible daily budget (raise data.max_daily_budget if it is meant)",
            )
        if budget < rails.platform_min_budget:
            raise cross_field_error(
                "account.daily_budget",
                f"{budget:g} is below guardrails.platform_min_budget "
                f"({rails.platform_min_budget:g})",
            )
        if rails.max_budget_share * budget < rails.platform_min_budget:
            raise cross_field_error(
                "guardrails.max_budget_share",
                "max_budget_share x daily_budget is below platform_min_budget: "
                "no ad group could run",
            )
        for key in ("test_budget", "new_arm_budget"):
            value = getattr(rails, key)
            if value is not None and value > budget:
                raise cross_field_error(
                    f"guardrails.{key}", f"{value:g} exceeds account.daily_budget"
                )
        for key in ("report_md", "report_html"):
            if getattr(self.job, key) is not None and getattr(self.job, key) == self.job.store:
                raise cross_field_error(f"job.{key}", "must not be the store file")
        return self

    @property
    def sampling(self) -> EngineSampling:
        """The ``[engine]`` table (the engine's sampling keys sit there)."""
        return self.engine

    def portfolio(self) -> Portfolio:
        """The account as the core's :class:`~allocator.core.arms.Portfolio`."""
        a = self.account
        return Portfolio(a.currency, a.daily_budget, a.objective, a.target_cpa, a.target_roas)


def load_job_config(path: str | Path) -> JobConfig:
    """Read and validate a job config TOML file.

    Args:
        path: the TOML file; relative paths inside it are relative to its directory.

    Returns:
        The validated, frozen :class:`JobConfig` (file paths absolute).

    Raises:
        ConfigError: the file is missing or unreadable, is not valid TOML (the reason
            names line and column), or keys are unknown, missing or invalid: one error
            lists them all, each with its line and dotted key (e.g.
            ``account.daily_budget``), first in :attr:`~ConfigError.key`.
    """
    path = Path(path)
    return load_toml(path, JobConfig, context={"base_dir": path.parent.resolve()})
