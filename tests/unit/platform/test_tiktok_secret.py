"""The access token never appears in logs, exception messages or repr output."""

from __future__ import annotations

import logging
import pickle
import traceback
from datetime import date
from pathlib import Path

import httpx
import pytest
from tiktok_fake import TOKEN, FakeClock, standard_account

from allocator.errors import AllocatorError, AuthError, ConfigError
from allocator.platform import BudgetChange, StatusChange
from allocator.platform.tiktok import (
    DEFAULT_TOKEN_ENV,
    Secret,
    TikTokClient,
    TikTokConfig,
    load_token,
)


def test_secret_masks_itself_everywhere_it_prints() -> None:
    secret = Secret(TOKEN)
    shown = [repr(secret), str(secret), f"{secret}", f"{secret!r}", f"{secret:>20}", f"{secret}"]
    assert all(TOKEN not in text and "***" in text for text in shown)
    assert repr([secret]) == "[Secret('***')]"
    assert secret.reveal() == TOKEN
    assert secret == Secret(TOKEN)
    assert secret != Secret(TOKEN + "x")
    assert secret.scrub(f"token {TOKEN} leaked") == "token *** leaked"


def test_secret_refuses_pickling_and_hashing() -> None:
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(Secret(TOKEN))
    with pytest.raises(TypeError):
        hash(Secret(TOKEN))


@pytest.mark.parametrize("value", ["", " padded ", "two\nlines"])
def test_secret_rejects_empty_or_padded_values_without_echoing_them(value: str) -> None:
    with pytest.raises(ConfigError) as info:
        Secret(value)
    assert value.strip() == "" or value.strip() not in str(info.value)


def test_token_loads_from_the_environment_variable() -> None:
    env = {DEFAULT_TOKEN_ENV: f"  {TOKEN}\n", "OTHER": "x"}
    assert load_token(environ=env).reveal() == TOKEN
    assert load_token("OTHER", environ=env).reveal() == "x"


def test_missing_token_names_the_variable() -> None:
    with pytest.raises(ConfigError) as info:
        load_token("MY_TIKTOK_TOKEN", environ={})
    assert "MY_TIKTOK_TOKEN" in str(info.value)
    assert info.value.key == "MY_TIKTOK_TOKEN"


def test_token_loads_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n", encoding="utf-8")
    assert load_token(file=path, environ={}).reveal() == TOKEN
    (tmp_path / "empty").write_text("\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="empty"):
        load_token(file=tmp_path / "empty")
    with pytest.raises(ConfigError) as info:
        load_token(file=tmp_path / "missing")
    assert info.value.path == tmp_path / "missing"


def test_client_and_request_reprs_do_not_show_the_token() -> None:
    fake = standard_account()
    client = fake.client()
    assert TOKEN not in repr(client)
    assert "***" in repr(client)
    assert TOKEN not in repr(client.config)
    assert TOKEN not in repr(vars(client))
    request = httpx.Request("GET", "https://x.test/", headers={"Access-Token": TOKEN})
    assert TOKEN not in repr(request)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _assert_clean(exc: BaseException) -> None:
    for link in _chain(exc):
        assert TOKEN not in str(link)
        assert TOKEN not in repr(link)
        assert all(TOKEN not in repr(arg) for arg in link.args)
    assert TOKEN not in "".join(traceback.format_exception(exc))


def test_token_never_reaches_logs_exceptions_or_results(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fake = standard_account()
    clock = FakeClock()
    client = fake.client(clock)
    fake.inject("/adgroup/get/", "40100", "http500", "read_timeout")
    fake.inject("/adgroup/budget/update/", "applied_then_dropped", "40002")
    fake.inject("/adgroup/status/update/", "connect_error")
    fake.status_reject = {"103": "rejected"}
    client.list_adgroups()
    client.fetch_observations(date(2026, 1, 1), date(2026, 2, 15))
    results = client.update_budgets([BudgetChange("101", 70.0)])
    results += client.update_budgets([BudgetChange("101", 80.0)])
    results += client.update_statuses([StatusChange("101", False), StatusChange("103", True)])
    errors: list[AllocatorError] = []
    fake.inject("/adgroup/get/", *["dropped"] * 10)
    with pytest.raises(AllocatorError) as transport_info:
        client.list_adgroups()
    errors.append(transport_info.value)
    fake.inject("/adgroup/get/", "bad_token")  # the fake echoes the token in its message
    with pytest.raises(AuthError) as auth_info:
        client.list_adgroups()
    errors.append(auth_info.value)
    assert "***" in auth_info.value.api_message
    for exc in errors:
        _assert_clean(exc)
    assert any(not r.ok for r in results)
    assert all(TOKEN not in repr(r) for r in results)
    assert caplog.records, "the run should have logged retries"
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
        assert TOKEN not in repr(record.args)
        assert record.exc_text is None or TOKEN not in record.exc_text


def test_a_wrong_token_is_refused_and_the_real_one_never_echoed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    fake = standard_account()
    http = httpx.Client(transport=httpx.MockTransport(fake.handler))
    wrong = "wrong-" + TOKEN
    client = TikTokClient(
        http, TikTokConfig("7000000000001", base_url="http://fake.test"), Secret(wrong)
    )
    with pytest.raises(AuthError) as info:
        client.update_budgets([BudgetChange("101", 70.0)])
    assert info.value.code == 40105
    assert fake.applied == []
    assert wrong not in str(info.value)
    assert all(wrong not in r.getMessage() for r in caplog.records)
