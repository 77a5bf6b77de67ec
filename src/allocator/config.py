"""The job config: strict, frozen pydantic models for a TOML file, and its loader.

A job config names the account (``[account]``), where its data comes from (``[platform]``,
a union picked by ``kind``: ``files``, ``sandbox`` or ``tiktok``) and, optionally, the
engine's tuning (``[engine]``, ``[posterior]``, ``[decisions]``, ``[guardrails]``; their
models live in :mod:`allocator.engine_config`) whose keys and defaults mirror the core
parameter dataclasses one to one, and how the scheduled job applies plans (``[job]``:
store, cadence, kill switch, cap). Unknown keys are errors.

Access tokens are never config values: a platform names the environment variable
(``token_env``) or the file (``token_file``) that holds it.

:func:`load_job_config` reads the file with :mod:`tomllib` and turns every problem into one
:class:`~allocator.errors.ConfigError` naming the file, the dotted key and the reason.
Relative paths in the file are relative to the file's directory.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from allocator.config_base import (
    Positive,
    StrictModel,
    cross_field_error,
    dotted_key,
    nested_model,
    ranked_errors,
    read_toml,
)
from allocator.core.arms import Objective, Portfolio
from allocator.core.engine import EngineParams
from allocator.engine_config import (
    DecisionsConfig,
    EngineConfig,
    GuardrailsConfig,
    PosteriorConfig,
    linear_if_unset,
)
from allocator.errors import ConfigError

__all__ = [
    "AccountConfig",
    "FilesPlatform",
    "JobConfig",
    "JobSection",
    "PlatformConfig",
    "SandboxPlatform",
    "TikTokPlatform",
    "load_job_config",
]

_SECRET_KEY = re.compile(r"token|secret|password|api_key|apikey|credential", re.IGNORECASE)

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
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from exc
        return value

    @model_validator(mode="after")
    def _target_matches_objective(self) -> Self:
        if self.objective is Objective.CPA:
            if self.target_cpa is None:
                raise cross_field_error("account.target_cpa", "objective 'cpa' needs target_cpa")
            if self.target_roas is not None:
                raise cross_field_error(
                    "account.target_roas", "target_roas is set but objective is 'cpa'"
                )
        else:
            if self.target_roas is None:
                raise cross_field_error("account.target_roas", "objective 'roas' needs target_roas")
            if self.target_cpa is not None:
                raise cross_field_error(
                    "account.target_cpa", "target_cpa is set but objective is 'roas'"
                )
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


class JobConfig(StrictModel):
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
        if self.job.report_md is not None and self.job.report_md == self.job.store:
            raise cross_field_error("job.report_md", "must not be the store file")
        return self

    def engine_params(self) -> EngineParams:
        """The engine's settings as the core parameter objects."""
        return EngineParams(
            posterior=self.posterior.params(),
            decisions=self.decisions.params(),
            guardrails=self.guardrails.params(),
            n_draws=self.engine.n_draws,
            half_saturation_spend=linear_if_unset(self.engine.half_saturation_spend),
            spend_reserve=self.engine.spend_reserve,
            marginal_stop=self.engine.marginal_stop,
            lift_step_cap_for_shortfall=self.engine.lift_step_cap_for_shortfall,
            allocation_draws=self.engine.allocation_draws,
        )

    def portfolio(self) -> Portfolio:
        """The account as the core's :class:`~allocator.core.arms.Portfolio`."""
        a = self.account
        return Portfolio(a.currency, a.daily_budget, a.objective, a.target_cpa, a.target_roas)


# --------------------------------------------------------------------------- loading

_KIND_TO_PLATFORM: dict[str, type[BaseModel]] = {
    "files": FilesPlatform,
    "sandbox": SandboxPlatform,
    "tiktok": TikTokPlatform,
}


def _model_at(loc: tuple[int | str, ...], data: object) -> type[BaseModel] | None:
    """The model class that holds the key at ``loc`` (for "did you mean" hints)."""
    if loc[:1] != ("platform",):
        return nested_model(JobConfig, map(str, loc))
    kind = data.get("platform", {}).get("kind") if isinstance(data, dict) else None
    if kind not in _KIND_TO_PLATFORM:
        return None
    return nested_model(_KIND_TO_PLATFORM[kind], map(str, loc[1:]))


def _unknown_key(loc: tuple[int | str, ...], data: object) -> str:
    """Why the key at ``loc`` is refused: a secret, or unknown (with a close match)."""
    name = str(loc[-1])
    if _SECRET_KEY.search(name):
        return (
            "secrets are never config values: put the token in the environment variable "
            "named by token_env (or a file named by token_file)"
        )
    model = _model_at(loc[:-1], data)
    close = difflib.get_close_matches(name, list(model.model_fields), n=1) if model else []
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown key{hint}"


def _explain(error: ErrorDetails, data: object) -> tuple[str, str]:
    """``(dotted key, reason)`` for one pydantic error, never echoing the input value."""
    loc = tuple(error["loc"])
    if loc[:1] == ("platform",) and len(loc) > 1 and loc[1] in _KIND_TO_PLATFORM:
        loc = loc[:1] + loc[2:]
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "cross_field":
        return str(ctx["key"]), str(ctx["reason"])
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return dotted_key((*loc, "kind")), "must be one of 'files', 'sandbox', 'tiktok'"
    if kind == "missing":
        return dotted_key(loc), "required key is missing"
    if kind == "extra_forbidden":
        return dotted_key(loc), _unknown_key(loc, data)
    return dotted_key(loc), error["msg"]


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
    data = read_toml(path)
    try:
        return JobConfig.model_validate(data, context={"base_dir": path.parent.resolve()})
    except ValidationError as exc:
        errors = ranked_errors(exc)
        key, reason = _explain(errors[0], data)
        n_more = len(errors) - 1
        more = f" (and {n_more} more problem{'s' if n_more > 1 else ''})" if n_more else ""
        # Not chained: the pydantic error quotes input values, which could be a secret.
        raise ConfigError(reason + more, path=path, key=key) from None
