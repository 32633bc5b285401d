"""An account with broker = "alpaca" trades through Alpaca live, and never in a backtest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from invest.runtime.adapters.alpaca.broker import AlpacaBroker
from invest.runtime.brokers.paper import PaperBroker
from invest.runtime.config import Settings, parse_config
from invest.runtime.cycle import AccountRuntime
from invest.runtime.errors import ConfigError, PolicyPackError
from invest.runtime.secrets import Secrets
from tests.runtime.policy.support import unpromoted_copy


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


def _hybrid_settings(paper: bool, **rl: Any) -> Settings:
    alpaca: dict[str, Any] = {"paper": paper}
    if not paper:
        alpaca |= {"live": True, "live_confirm": "I understand this trades real money"}
    account = {
        "universe": ["AAPL", "MSFT", "KO"],
        "broker": "alpaca",
        "strategy": "hybrid",
        "rl": {"pack": "default"} | rl,
    }
    return parse_config({"engine": {"alpaca": alpaca}, "accounts": {"live": account}})


KEYS = Secrets(alpaca_api_key=SecretStr("PKFAKE"), alpaca_secret_key=SecretStr("fake"))


def test_real_money_refuses_a_pack_that_failed_its_promotion_gate(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    pack = str(unpromoted_copy(tmp_path))  # the bundled pack, marked as failing its gate
    with pytest.raises(
        PolicyPackError, match=r"'default' did not pass its promotion gate.*real money"
    ):
        AccountRuntime.build("live", _hybrid_settings(paper=False, pack=pack), secrets=KEYS)
    # Accepted only when the account says so, with a warning in the log.
    acct = AccountRuntime.build(
        "live", _hybrid_settings(paper=False, pack=pack, allow_unpromoted=True), secrets=KEYS
    )
    assert "trading real money with it because rl.allow_unpromoted = true" in caplog.text
    acct.broker.close()  # type: ignore[attr-defined]


def test_the_bundled_pack_passed_its_gate_and_may_trade_real_money() -> None:
    acct = AccountRuntime.build("live", _hybrid_settings(paper=False), secrets=KEYS)
    assert acct.strategy.name == "hybrid"
    acct.broker.close()  # type: ignore[attr-defined]


def test_paper_trading_and_backtests_may_run_an_unpromoted_pack(tmp_path: Path) -> None:
    pack = str(unpromoted_copy(tmp_path))
    acct = AccountRuntime.build("live", _hybrid_settings(paper=True, pack=pack), secrets=KEYS)
    assert acct.strategy.name == "hybrid"
    acct.broker.close()  # type: ignore[attr-defined]
    backtest = AccountRuntime.build("live", _hybrid_settings(paper=False, pack=pack), paper=True)
    assert isinstance(backtest.broker, PaperBroker)
