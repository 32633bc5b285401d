"""open_source: spec strings to providers, caching of online ones, and a fast import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import invest.runtime.data as data
from invest.runtime.adapters.alpaca.data import AlpacaData
from invest.runtime.adapters.yahoo.data import YFinanceData
from invest.runtime.data import (
    BarFrame,
    CachedMarketData,
    CsvData,
    MarketData,
    SampleData,
    open_source,
)
from invest.runtime.errors import ConfigError, DataError

FIXTURES = Path(__file__).parents[2] / "fixtures" / "csv"
KEYS: dict[str, Any] = {"api_key": "PKTEST", "secret_key": "not-a-real-secret"}


def test_sample_opens_the_bundled_data() -> None:
    src = open_source("sample")
    assert isinstance(src, SampleData)
    assert "SP500" in src.symbols()


def test_csv_with_a_path_opens_that_file_or_folder() -> None:
    src = open_source(f"csv:{FIXTURES / 'wide_closes.csv'}")
    assert isinstance(src, CsvData)
    assert src.symbols() == ("AAPL", "MSFT", "SPY")
    assert isinstance(open_source(f"csv:{FIXTURES / 'ohlcv'}").load(["AAPL"]), BarFrame)


def test_provider_options_reach_the_provider() -> None:
    src = open_source(f"csv:{FIXTURES / 'ohlcv'}", adjusted=True)
    assert src.load(["AAPL"]).adjusted is True


def test_the_source_name_is_case_insensitive_and_spaces_are_trimmed() -> None:
    assert isinstance(open_source(" Sample "), SampleData)
    assert isinstance(open_source(f"CSV:{FIXTURES / 'wide_closes.csv'}"), CsvData)
    assert isinstance(open_source("YFinance"), YFinanceData)


def test_online_providers_without_a_cache_dir_are_bare() -> None:
    assert isinstance(open_source("yfinance"), YFinanceData)
    assert isinstance(open_source("alpaca", **KEYS), AlpacaData)


def test_online_providers_are_cached_when_a_cache_dir_is_given(tmp_path: Path) -> None:
    yf = open_source("yfinance", cache_dir=tmp_path / "cache")
    assert isinstance(yf, CachedMarketData)
    assert isinstance(yf.inner, YFinanceData)
    assert yf.name == "yfinance"
    assert (tmp_path / "cache" / "bars.sqlite").exists()
    alpaca = open_source("alpaca", cache_dir=tmp_path, feed="sip", **KEYS)
    assert isinstance(alpaca, CachedMarketData)
    assert isinstance(alpaca.inner, AlpacaData)
    assert alpaca.inner.feed == "sip"


def test_offline_sources_are_never_cached(tmp_path: Path) -> None:
    assert isinstance(open_source("sample", cache_dir=tmp_path), SampleData)
    assert isinstance(open_source(f"csv:{FIXTURES / 'ohlcv'}", cache_dir=tmp_path), CsvData)


@pytest.mark.parametrize("spec", ["", "yahoo", "csv", "sample:x", "alpaca:paper", "polygon"])
def test_an_unknown_spec_lists_the_valid_forms(spec: str) -> None:
    with pytest.raises(DataError, match="use one of: sample, csv:PATH, yfinance, alpaca"):
        open_source(spec)


def test_csv_without_a_path_says_so() -> None:
    with pytest.raises(DataError, match="needs a path"):
        open_source("csv: ")


def test_an_unknown_option_names_the_accepted_ones() -> None:
    with pytest.raises(
        DataError, match=r"bad options for data source 'yfinance'.*timeout, threads"
    ):
        open_source("yfinance", feed="iex")
    with pytest.raises(DataError, match="accepted options: none"):
        open_source("sample", adjusted=True)


def test_a_bad_option_value_is_the_providers_config_error() -> None:
    with pytest.raises(ConfigError, match="needs an API key"):
        open_source("alpaca")


def test_every_opened_source_is_market_data(tmp_path: Path) -> None:
    for src in (
        open_source("sample"),
        open_source(f"csv:{FIXTURES / 'ohlcv'}"),
        open_source("yfinance", cache_dir=tmp_path),
    ):
        assert isinstance(src, MarketData)


def test_the_package_exports_its_public_names() -> None:
    for name in ("MarketData", "BarFrame", "open_source", "SampleData", "CsvData", "BarCache"):
        assert name in data.__all__
        assert hasattr(data, name)


def run_python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout.strip()


def test_importing_the_package_imports_neither_yfinance_nor_alpaca() -> None:
    code = (
        "import sys, invest.runtime.data\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('yfinance', 'alpaca')))"
    )
    assert run_python(code) == "[]"


def test_opening_online_sources_imports_neither_library_until_first_load(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from invest.runtime.data import open_source\n"
        f"open_source('yfinance', cache_dir={str(tmp_path)!r})\n"
        "open_source('alpaca', api_key='k', secret_key='s')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('yfinance', 'alpaca')))"
    )
    assert run_python(code) == "[]"
