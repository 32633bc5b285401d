"""Yahoo Finance's answers as our types: ``yf.download`` frames to :class:`BarFrame`, log lines to outages.

Pure functions, tested against recorded responses; the network call is in
:mod:`invest.runtime.adapters.yahoo.data`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from invest.runtime.data.frame import OPTIONAL_FIELDS, BarFrame, FloatArray
from invest.runtime.errors import DataError

__all__ = ["YAHOO_FIELDS", "empty_symbols", "frame_from_yfinance", "looks_like_network_failure"]

YAHOO_FIELDS = {"open": "Open", "high": "High", "low": "Low", "close": "Close", "volume": "Volume"}

# yfinance swallows per-ticker exceptions and logs them; these words in its log
# mean the provider could not be reached, not that the symbol is wrong.
_NETWORK_WORDS = re.compile(
    r"rate.?limit|too many requests|timed? ?out|timeout|dns|resolve host|connection|"
    r"connect|network|ssl|proxy|curl|unauthorized|forbidden|\b(?:401|403|429|5\d\d)\b",
    re.IGNORECASE,
)


def _levels(columns: pd.MultiIndex) -> tuple[int, int]:
    """(price level, ticker level) of yf.download's two-level columns."""
    names = [str(n).lower() if n is not None else "" for n in columns.names]
    if "price" in names and "ticker" in names:
        return names.index("price"), names.index("ticker")
    # Unnamed levels: the price level is the one holding "Close".
    price = 0 if "Close" in columns.get_level_values(0) else 1
    return price, 1 - price


def empty_symbols(df: pd.DataFrame, symbols: Sequence[str]) -> list[str]:
    """Symbols of ``symbols`` with no close at all in a yf.download result."""
    return [s for s in symbols if _column(df, "Close", s) is None]


def _column(df: pd.DataFrame, field: str, symbol: str) -> FloatArray | None:
    """One field of one symbol as floats, or None when absent or all NaN."""
    if isinstance(df.columns, pd.MultiIndex):
        price, _ = _levels(df.columns)
        col = (field, symbol.upper()) if price == 0 else (symbol.upper(), field)
        if col not in df.columns:
            return None
        series = df[col]
    elif field in df.columns:  # one ticker with multi_level_index=False
        series = df[field]
    else:
        return None
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, copy=True)
    if np.isnan(values).all():
        return None
    return values


def frame_from_yfinance(
    df: pd.DataFrame, symbols: Sequence[str], *, adjusted: bool = True, source: str = "yfinance"
) -> BarFrame:
    """Turn a ``yf.download(..., group_by='column')`` result into a BarFrame.

    Accepts yfinance 1.x's shapes: two-level columns ``(Price, Ticker)`` (or
    ``(Ticker, Price)`` from ``group_by='ticker'``), or flat ``Open/High/...``
    columns for a single symbol. Tickers are matched upper-cased (yfinance
    upper-cases them) and the frame keeps the caller's spelling. ``Adj Close``
    (present when a ticker failed) is ignored. Rows where every requested symbol
    is NaN are dropped; a tz-aware index is read in its own timezone.

    Raises:
        DataError: a symbol has no bars at all, or the index is not dates.
    """
    if not isinstance(df.columns, pd.MultiIndex) and len(symbols) > 1:
        raise DataError(
            f"yfinance returned flat columns {list(df.columns)} for {len(symbols)} symbols; "
            f"expected (Price, Ticker) columns"
        )
    empty = empty_symbols(df, symbols)
    if empty:
        raise DataError(
            f"Yahoo returned no bars for {', '.join(empty)}; check the ticker spelling "
            f"(Yahoo writes share classes with a dash, e.g. BRK-B) and the date range"
        )
    try:
        index = pd.DatetimeIndex(df.index)
    except (TypeError, ValueError) as e:
        raise DataError(f"yfinance returned an index that is not dates: {e}") from e
    if index.tz is not None:
        index = index.tz_localize(None)
    dates = index.normalize().to_numpy().astype("datetime64[D]")

    def field(name: str) -> FloatArray | None:
        cols = [_column(df, YAHOO_FIELDS[name], s) for s in symbols]
        if any(c is None for c in cols):
            return None
        return np.column_stack([c for c in cols if c is not None])

    close = field("close")
    assert close is not None  # empty_symbols checked every close
    optional = {name: field(name) for name in OPTIONAL_FIELDS}

    keep = ~np.isnan(close).all(axis=1)
    order = np.argsort(dates[keep], kind="stable")
    dates = dates[keep][order]
    if len(dates) > 1 and (dates[1:] == dates[:-1]).any():
        raise DataError(f"yfinance returned duplicate sessions: {np.unique(dates)[:5]}")
    return BarFrame(
        dates=dates,
        symbols=tuple(symbols),
        close=close[keep][order],
        **{n: (a[keep][order] if a is not None else None) for n, a in optional.items()},
        adjusted=adjusted,
        source=source,
    )


def looks_like_network_failure(messages: Sequence[str]) -> bool:
    """True when yfinance's log says it could not reach Yahoo (vs. a bad ticker)."""
    return any(_NETWORK_WORDS.search(m) for m in messages)
