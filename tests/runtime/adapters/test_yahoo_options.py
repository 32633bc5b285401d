"""The yfinance chain source, offline: a real yfinance.Ticker replaying recorded /v7/finance/options bodies."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd
import pytest

from invest.runtime.adapters.yahoo.options import YahooOptionChainSource, chain_from_yfinance
from invest.runtime.clock import FixedClock, TradingCalendar
from invest.runtime.errors import ConfigError, DataError, DataUnavailableError
from invest.runtime.options.chain import ChainSource
from invest.runtime.options.contracts import OptionContract, Right
from tests.runtime.adapters.yahoo_support import Replay, ticker_factory

AS_OF = date(2024, 3, 13)
CLOCK = FixedClock(datetime(2024, 3, 13, 20, 30, tzinfo=UTC))  # 16:30 New York


def recorded_aapl(url: str) -> str:
    if "?date=" in url:
        return f"yahoo_options_aapl_{url.rsplit('=', 1)[1]}.json"
    return "yahoo_options_aapl.json"


def source(replay: Replay, *, max_expiries: int = 2, clock: FixedClock = CLOCK) -> ChainSource:
    return YahooOptionChainSource(
        max_expiries=max_expiries,
        ticker_factory=ticker_factory(replay),
        clock=clock,
        calendar=TradingCalendar(date(2024, 1, 1), date(2024, 12, 31)),
    )


def test_recorded_expiries_become_one_chain_with_yahoos_quotes_and_iv() -> None:
    replay = Replay(recorded_aapl)
    chain = source(replay).chain("aapl", AS_OF)
    assert (chain.underlying, chain.as_of, chain.source, chain.modelled) == (
        "AAPL",
        AS_OF,
        "yfinance",
        False,
    )
    assert chain.spot == 171.13
    assert chain.expiries() == [date(2024, 3, 15), date(2024, 4, 19)]
    call = chain.quote(OptionContract.from_occ("AAPL240315C00170000"))
    assert call is not None
    assert call.contract.right is Right.CALL
    assert (call.bid, call.ask, call.last) == (1.95, 2.02, 1.98)
    assert call.iv == 0.22315
    assert (call.open_interest, call.volume) == (35310, 48213)
    assert (call.delta, call.gamma, call.theta, call.vega) == (None,) * 4  # Yahoo has no greeks
    put = chain.quote(OptionContract.from_occ("AAPL240419P00165000"))
    assert put is not None
    assert (put.bid, put.ask, put.iv, put.open_interest, put.volume) == (
        2.65,
        2.71,
        0.21902,
        22870,
        3311,
    )


def test_only_max_expiries_are_fetched_soonest_first() -> None:
    replay = Replay(recorded_aapl)
    source(replay, max_expiries=2).chain("AAPL", AS_OF)
    asked = [u.rsplit("=", 1)[1] for u in replay.urls if "?date=" in u]
    assert asked == ["1710460800", "1713484800"]
    replay3 = Replay(recorded_aapl)
    three = source(replay3, max_expiries=3).chain("AAPL", AS_OF)
    assert three.expiries()[-1] == date(2024, 5, 17)


def test_no_ask_crossed_and_mini_contracts_are_dropped_and_no_bid_kept_at_zero() -> None:
    chain = source(Replay(recorded_aapl)).chain("AAPL", AS_OF)
    assert chain.quote(OptionContract.from_occ("AAPL240315C00200000")) is None  # 0/0
    assert chain.quote(OptionContract.from_occ("AAPL240419P00160000")) is None  # crossed
    assert all(q.contract.underlying == "AAPL" for q in chain)  # the AAPL7 mini is gone
    cheap = chain.quote(OptionContract.from_occ("AAPL240315P00150000"))
    assert cheap is not None
    assert (cheap.bid, cheap.ask, cheap.volume) == (0.0, 0.01, None)  # no volume field
    assert chain.notes == (
        "1 contracts without an ask dropped",
        "1 crossed quotes (bid above ask) dropped",
        "1 mini contracts dropped",
    )
    assert len(chain) == 6


def test_yahoos_placeholder_iv_is_read_as_unknown() -> None:
    chain = source(Replay(recorded_aapl)).chain("AAPL", AS_OF)
    far = chain.quote(OptionContract.from_occ("AAPL240315P00150000"))  # recorded IV 1e-05
    assert far is not None
    assert far.iv is None


def test_a_frame_without_last_interest_or_volume_carries_none() -> None:
    frame = pd.DataFrame(
        [
            {
                "contractSymbol": "AAPL240315C00175000",
                "bid": 0.2,
                "ask": 0.22,
                "impliedVolatility": 0.21,
            }
        ]
    )
    (q,) = chain_from_yfinance([frame], "AAPL", AS_OF, 171.13).quotes
    assert (q.bid, q.ask, q.iv) == (0.2, 0.22, 0.21)
    assert (q.last, q.open_interest, q.volume) == (None, None, None)


def test_a_frame_without_bid_or_ask_columns_is_a_data_error() -> None:
    frame = pd.DataFrame([{"contractSymbol": "AAPL240315C00175000", "lastPrice": 0.21}])
    with pytest.raises(DataError, match=r"lacks the columns \['ask', 'bid'\]"):
        chain_from_yfinance([frame], "AAPL", AS_OF, 171.13)


def test_a_past_date_is_refused_with_a_pointer_to_the_modelled_chain() -> None:
    replay = Replay(recorded_aapl)
    with pytest.raises(DataUnavailableError, match="a backtest must use the modelled chain"):
        source(replay).chain("AAPL", date(2023, 6, 1))
    assert replay.urls == []


def test_a_future_date_is_refused() -> None:
    with pytest.raises(DataUnavailableError, match="after today"):
        source(Replay(recorded_aapl)).chain("AAPL", date(2024, 3, 14))


def test_an_unknown_symbol_is_a_data_error_naming_it() -> None:
    replay = Replay(lambda url: "yahoo_options_unknown.json")
    with pytest.raises(DataError, match="Yahoo lists no options of NOSUCH") as caught:
        source(replay).chain("NOSUCH", AS_OF)
    assert not isinstance(caught.value, DataUnavailableError)


def test_a_network_failure_is_data_unavailable() -> None:
    replay = Replay(lambda url: ConnectionError("Could not resolve host: query2.finance.yahoo.com"))
    with pytest.raises(DataUnavailableError, match="Could not resolve host"):
        source(replay).chain("AAPL", AS_OF)


def test_a_rate_limit_is_data_unavailable() -> None:
    from yfinance.exceptions import YFRateLimitError

    replay = Replay(lambda url: YFRateLimitError())
    with pytest.raises(DataUnavailableError, match="Rate limited"):
        source(replay).chain("AAPL", AS_OF)


def test_a_chain_with_no_ask_anywhere_says_to_retry_in_the_session() -> None:
    def closed(url: str) -> str:
        return "yahoo_options_aapl_zero_quotes.json"

    with pytest.raises(DataUnavailableError, match="no ask on any of the 5 listed options"):
        source(Replay(closed), max_expiries=1).chain("AAPL", AS_OF)


def test_max_expiries_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="max_expiries must be 1 or more"):
        YahooOptionChainSource(max_expiries=0)
