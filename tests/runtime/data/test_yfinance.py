"""The yfinance provider, offline: parsing recorded yf.download results and error mapping.

The one network call, ``YFinanceData._download``, is replaced in these tests; the
recorded frames under tests/fixtures/yfinance have yfinance 1.x's exact shape.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from invest.runtime.adapters.yahoo.data import YFinanceData
from invest.runtime.adapters.yahoo.parsing import frame_from_yfinance, looks_like_network_failure
from invest.runtime.data.base import MarketData
from invest.runtime.errors import DataError, DataUnavailableError

FIXTURES = Path(__file__).parents[2] / "fixtures" / "yfinance"


def recorded(name: str) -> pd.DataFrame:
    return pd.read_csv(FIXTURES / name, header=[0, 1], index_col=0, parse_dates=True)


@pytest.fixture
def two_tickers() -> pd.DataFrame:
    return recorded("download_aapl_msft.csv")


@pytest.fixture
def one_failed() -> pd.DataFrame:
    return recorded("download_aapl_and_failed_nosuch.csv")


def test_the_recorded_fixture_has_the_shape_yf_download_returns(two_tickers: pd.DataFrame) -> None:
    assert isinstance(two_tickers.columns, pd.MultiIndex)
    assert list(two_tickers.columns.names) == ["Price", "Ticker"]
    assert sorted(set(two_tickers.columns.get_level_values("Price"))) == [
        "Close",
        "High",
        "Low",
        "Open",
        "Volume",
    ]
    assert isinstance(two_tickers.index, pd.DatetimeIndex)


def test_a_recorded_download_becomes_an_adjusted_ohlcv_frame(two_tickers: pd.DataFrame) -> None:
    frame = frame_from_yfinance(two_tickers, ["AAPL", "MSFT"])
    assert frame.symbols == ("AAPL", "MSFT")
    assert len(frame) == 7
    assert str(frame.dates[0]) == "2024-01-02"
    assert str(frame.dates[-1]) == "2024-01-10"
    assert frame.close[0].tolist() == [184.53, 367.94]
    assert frame.open is not None
    assert frame.open[0].tolist() == [186.03, 368.53]
    assert frame.high is not None
    assert frame.high[1].tolist() == [184.23, 369.84]
    assert frame.low is not None
    assert frame.low[2].tolist() == [179.42, 362.51]
    assert frame.volume is not None
    assert frame.volume[0].tolist() == [82488700, 25258600]
    assert frame.adjusted is True
    assert frame.source == "yfinance"


def test_the_frame_keeps_the_callers_symbol_order_and_spelling(two_tickers: pd.DataFrame) -> None:
    frame = frame_from_yfinance(two_tickers, ["msft", "aapl"])
    assert frame.symbols == ("msft", "aapl")
    assert frame.close[0].tolist() == [367.94, 184.53]


def test_a_failed_ticker_is_a_data_error_naming_it(one_failed: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="Yahoo returned no bars for NOSUCH"):
        frame_from_yfinance(one_failed, ["AAPL", "NOSUCH"])


def test_the_adj_close_column_a_failed_ticker_adds_is_ignored(one_failed: pd.DataFrame) -> None:
    frame = frame_from_yfinance(one_failed, ["AAPL"])
    assert frame.close[:, 0].tolist() == [184.53, 183.15, 180.82]
    assert frame.has_ohlc


def test_group_by_ticker_columns_are_understood(two_tickers: pd.DataFrame) -> None:
    by_ticker = two_tickers.swaplevel(0, 1, axis=1).sort_index(axis=1)
    frame = frame_from_yfinance(by_ticker, ["AAPL", "MSFT"])
    assert frame.close[0].tolist() == [184.53, 367.94]


def test_a_single_ticker_with_flat_columns_is_understood(two_tickers: pd.DataFrame) -> None:
    flat = two_tickers.xs("AAPL", axis=1, level="Ticker")
    assert isinstance(flat, pd.DataFrame)
    frame = frame_from_yfinance(flat, ["AAPL"])
    assert frame.close[0, 0] == 184.53


def test_a_tz_aware_index_keeps_the_exchange_date(two_tickers: pd.DataFrame) -> None:
    aware = two_tickers.copy()
    aware.index = pd.DatetimeIndex(aware.index).tz_localize("America/New_York")
    frame = frame_from_yfinance(aware, ["AAPL"])
    assert str(frame.dates[0]) == "2024-01-02"


def test_rows_where_no_requested_symbol_traded_are_dropped(two_tickers: pd.DataFrame) -> None:
    df = two_tickers.copy()
    df.loc[df.index[1], ("Close", "AAPL")] = np.nan
    assert len(frame_from_yfinance(df, ["AAPL"])) == 6
    assert len(frame_from_yfinance(df, ["AAPL", "MSFT"])) == 7


# -- the provider, with the network call replaced ------------------------------------


class Recorded:
    """Stands in for YFinanceData._download: returns a recorded frame and log lines."""

    def __init__(self, df: pd.DataFrame, messages: list[str] | None = None) -> None:
        self.df = df
        self.messages = messages or []
        self.calls: list[tuple[list[str], date | None, date | None]] = []

    def __call__(
        self, symbols: list[str], start: date | None, end: date | None
    ) -> tuple[pd.DataFrame, list[str]]:
        self.calls.append((list(symbols), start, end))
        return self.df, self.messages


def test_load_parses_the_download_and_bounds_it_to_the_range(
    two_tickers: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = YFinanceData()
    fake = Recorded(two_tickers)
    monkeypatch.setattr(src, "_download", fake)
    frame = src.load(["AAPL"], start=date(2024, 1, 3), end=date(2024, 1, 5))
    assert [str(d) for d in frame.dates] == ["2024-01-03", "2024-01-04", "2024-01-05"]
    assert fake.calls == [(["AAPL"], date(2024, 1, 3), date(2024, 1, 5))]


def test_an_empty_symbol_with_a_network_error_logged_is_data_unavailable(
    one_failed: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = YFinanceData()
    log = ["['NOSUCH']: DNSError('Failed to perform, curl: (6) Could not resolve host')"]
    monkeypatch.setattr(src, "_download", Recorded(one_failed, log))
    with pytest.raises(DataUnavailableError, match="could not be reached for NOSUCH"):
        src.load(["AAPL", "NOSUCH"])


def test_an_empty_symbol_yahoo_calls_delisted_is_a_data_error(
    one_failed: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = YFinanceData()
    log = ["['NOSUCH']: YFPricesMissingError('possibly delisted; no price data found')"]
    monkeypatch.setattr(src, "_download", Recorded(one_failed, log))
    with pytest.raises(DataError, match="no bars for NOSUCH") as err:
        src.load(["AAPL", "NOSUCH"])
    assert not isinstance(err.value, DataUnavailableError)


@pytest.mark.parametrize(
    ("message", "network"),
    [
        ("YFRateLimitError('Too Many Requests. Rate limited. Try after a while.')", True),
        ("['A']: Timeout('Failed to perform, curl: (28) Operation timed out')", True),
        ("ConnectionError('Connection refused')", True),
        ("HTTP Error 503: Service Unavailable", True),
        ("['A']: YFTzMissingError('possibly delisted; no timezone found')", False),
        ("possibly delisted; no price data found  (1d 2024-01-02 -> 2024-01-11)", False),
    ],
)
def test_yfinance_log_lines_are_told_apart(message: str, network: bool) -> None:
    assert looks_like_network_failure([message]) is network


def test_no_symbols_need_no_download(monkeypatch: pytest.MonkeyPatch) -> None:
    src = YFinanceData()
    monkeypatch.setattr(src, "_download", None)  # calling it would fail
    frame = src.load([])
    assert frame.symbols == ()
    assert len(frame) == 0


def test_the_provider_is_a_market_data_source_with_no_offline_symbols() -> None:
    src = YFinanceData()
    assert isinstance(src, MarketData)
    assert src.symbols() == ()


# -- the network edge itself, with yf.download replaced --------------------------------


class FakeDownload:
    def __init__(self, result: Any = None, error: Exception | None = None, log: str = "") -> None:
        self.result, self.error, self.log = result, error, log
        self.kwargs: dict[str, Any] = {}

    def __call__(self, tickers: list[str], **kwargs: Any) -> Any:
        self.kwargs = {"tickers": tickers, **kwargs}
        if self.log:
            logging.getLogger("yfinance").error(self.log)
        if self.error is not None:
            raise self.error
        return self.result


def test_download_asks_for_adjusted_daily_bars_with_an_exclusive_end(
    two_tickers: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yfinance

    fake = FakeDownload(two_tickers)
    monkeypatch.setattr(yfinance, "download", fake)
    YFinanceData(timeout=5).load(["AAPL"], start=date(2024, 1, 2), end=date(2024, 1, 10))
    assert fake.kwargs["tickers"] == ["AAPL"]
    assert fake.kwargs["auto_adjust"] is True
    assert fake.kwargs["group_by"] == "column"
    assert fake.kwargs["interval"] == "1d"
    assert fake.kwargs["start"] == "2024-01-02"
    assert fake.kwargs["end"] == "2024-01-11"
    assert fake.kwargs["progress"] is False
    assert fake.kwargs["timeout"] == 5


def test_download_without_a_start_asks_for_the_whole_history(
    two_tickers: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yfinance

    fake = FakeDownload(two_tickers)
    monkeypatch.setattr(yfinance, "download", fake)
    YFinanceData().load(["AAPL"])
    assert fake.kwargs["period"] == "max"
    assert "start" not in fake.kwargs
    assert "end" not in fake.kwargs


def test_an_exception_out_of_yfinance_becomes_data_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import yfinance

    boom = RuntimeError("curl: (7) Failed to connect")
    monkeypatch.setattr(yfinance, "download", FakeDownload(error=boom))
    with pytest.raises(DataUnavailableError, match="download failed") as err:
        YFinanceData().load(["AAPL"])
    assert err.value.__cause__ is boom


def test_a_network_failure_yfinance_only_logs_becomes_data_unavailable(
    one_failed: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yfinance

    fake = FakeDownload(one_failed, log="['NOSUCH']: YFRateLimitError('Too Many Requests.')")
    monkeypatch.setattr(yfinance, "download", fake)
    with pytest.raises(DataUnavailableError, match="Too Many Requests"):
        YFinanceData().load(["NOSUCH"])
