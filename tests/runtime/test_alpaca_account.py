"""An account with broker = "alpaca" trades through Alpaca live, and never in a backtest."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from invest.runtime.brokers.alpaca import AlpacaBroker
from invest.runtime.brokers.paper import PaperBroker
from invest.runtime.config import Settings, parse_config
from invest.runtime.cycle import AccountRuntime
from invest.runtime.errors import ConfigError
from invest.runtime.notify.secrets import Secrets


def alpaca_settings() -> Settings:
    return parse_config({"accounts": {"live": {"universe": ["SPY", "QQQ"], "broker": "alpaca"}}})


def test_an_alpaca_account_without_its_keys_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="ALPACA_API_KEY and ALPACA_SECRET_KEY"):
        AccountRuntime.build("live", alpaca_settings())
    half = Secrets(alpaca_api_key=SecretStr("PKFAKE"))
    with pytest.raises(ConfigError, match=r"'live'.*ALPACA_SECRET_KEY is not set"):
        AccountRuntime.build("live", alpaca_settings(), secrets=half)


def test_an_alpaca_account_with_keys_gets_an_alpaca_broker_without_a_network_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[Any] = []

    def no_network(self: Any, request: Any, **kw: Any) -> Any:
        calls.append(request)
        raise AssertionError("no HTTP call at construction")

    monkeypatch.setattr(httpx.Client, "send", no_network)
    monkeypatch.setattr("requests.Session.send", no_network)
    keys = Secrets(alpaca_api_key=SecretStr("PKFAKE"), alpaca_secret_key=SecretStr("fake"))
    acct = AccountRuntime.build("live", alpaca_settings(), secrets=keys)
    assert isinstance(acct.broker, AlpacaBroker)
    assert acct.broker.account == "live"
    assert acct.broker.config.paper
    assert "PKFAKE" not in repr(acct.broker)
    acct.broker.close()
    assert calls == []


def test_a_backtest_of_an_alpaca_account_replays_with_the_paper_broker() -> None:
    acct = AccountRuntime.build("live", alpaca_settings(), paper=True)
    assert isinstance(acct.broker, PaperBroker)


def test_a_paper_account_ignores_the_alpaca_keys() -> None:
    s = parse_config({"accounts": {"sim": {"universe": ["SPY"]}}})
    assert isinstance(AccountRuntime.build("sim", s).broker, PaperBroker)
