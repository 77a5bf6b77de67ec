from __future__ import annotations

import pytest

from allocator import errors


def test_data_error_names_file_line_and_column() -> None:
    err = errors.DataError("not a number: 'abc'", path="obs.csv", line=7, column="spend")
    assert str(err) == "obs.csv, line 7, column 'spend': not a number: 'abc'"
    assert (err.line, err.column) == (7, "spend")


def test_config_error_names_file_and_key() -> None:
    err = errors.ConfigError("must be > 0", path="job.toml", key="account.daily_budget")
    assert str(err) == "job.toml, key 'account.daily_budget': must be > 0"


@pytest.mark.parametrize(
    "cls",
    [errors.RateLimitedError, errors.ServerError, errors.AuthError, errors.ApiStatusError],
)
def test_api_status_errors_carry_code_and_request_id(cls: type[errors.ApiStatusError]) -> None:
    err = cls("boom", code=40100, request_id="r-1", http_status=200)
    assert isinstance(err, errors.ApiError)
    assert isinstance(err, errors.AllocatorError)
    assert (err.code, err.request_id) == (40100, "r-1")
    assert "r-1" in str(err)


def test_platform_errors_are_in_the_tree_and_name_the_ad_group() -> None:
    invalid = errors.InvalidChangeError("budget below the minimum", adgroup_id="42")
    assert isinstance(invalid, errors.AllocatorError)
    assert str(invalid) == "ad group 42: budget below the minimum"
    unsupported = errors.UnsupportedAdGroupError([("7", "campaign budget optimisation")])
    assert isinstance(unsupported, errors.ConfigError)
    assert unsupported.adgroup_ids == ("7",)
    assert "ad group 7: campaign budget optimisation" in str(unsupported)


def test_every_public_error_is_in_the_tree_and_the_platform_reexports_the_same() -> None:
    import allocator.platform.base as base

    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.AllocatorError), name
    assert base.InvalidChangeError is errors.InvalidChangeError
    assert base.UnsupportedAdGroupError is errors.UnsupportedAdGroupError
