"""Provider ``yfinance``: daily bars from Yahoo Finance through the yfinance library.

Bars are fetched with ``yf.download(..., auto_adjust=True)``: open, high, low and
close are split- and dividend-adjusted back in time, so the frame says
``adjusted=True``; volume is as Yahoo reports it.

The network call lives in :meth:`YFinanceData._download` only; parsing is
:func:`frame_from_yfinance`, a pure function tested against recorded responses.
yfinance is imported there, at first use, because importing it is slow.

Error mapping at this edge:

* an exception out of yfinance, or a symbol that came back empty while yfinance
  logged a network-looking failure (DNS, timeout, rate limit, HTTP 5xx...):
  :class:`~invest.runtime.errors.DataUnavailableError`;
* a symbol that came back empty otherwise (unknown or delisted ticker, nothing in
  the range): :class:`~invest.runtime.errors.DataError` naming the symbol.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, timedelta

import numpy as np
import pandas as pd

from invest.runtime.data.frame import OPTIONAL_FIELDS, BarFrame, FloatArray
from invest.runtime.errors import DataError, DataUnavailableError

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


class _LogCapture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.messages.append(record.getMessage())
        except Exception:  # a bad log record must not break a fetch
            self.messages.append(str(record.msg))


@contextmanager
def _capture_yfinance_log() -> Iterator[list[str]]:
    """Collect what yfinance logs at WARNING and above while the block runs."""
    logger = logging.getLogger("yfinance")
    handler = _LogCapture()
    logger.addHandler(handler)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)


def looks_like_network_failure(messages: Sequence[str]) -> bool:
    """True when yfinance's log says it could not reach Yahoo (vs. a bad ticker)."""
    return any(_NETWORK_WORDS.search(m) for m in messages)


class YFinanceData:
    """Provider ``yfinance`` (see the module docstring).

    Args:
        timeout: seconds per HTTP request.
        threads: let yfinance fetch symbols in parallel.
    """

    name = "yfinance"

    def __init__(self, *, timeout: float = 30.0, threads: bool = True) -> None:
        self.timeout = timeout
        self.threads = threads

    def __repr__(self) -> str:
        return f"YFinanceData(timeout={self.timeout}, threads={self.threads})"

    def symbols(self) -> tuple[str, ...]:
        """Unknown without a network call: empty."""
        return ()

    def load(
        self, symbols: Sequence[str], start: date | None = None, end: date | None = None
    ) -> BarFrame:
        """Adjusted daily bars of ``symbols`` between ``start`` and ``end`` inclusive.

        ``start=None`` asks Yahoo for the whole history.

        Raises:
            DataError: a symbol has no bars (unknown, delisted, empty range).
            DataUnavailableError: Yahoo cannot be reached or refuses (rate limit).
        """
        if not symbols:
            return BarFrame(
                dates=np.array([], dtype="datetime64[D]"),
                symbols=(),
                close=np.empty((0, 0)),
                adjusted=True,
                source=self.name,
            )
        df, messages = self._download(symbols, start, end)
        empty = empty_symbols(df, symbols)
        if empty and looks_like_network_failure(messages):
            detail = "; ".join(dict.fromkeys(messages))[:500]
            raise DataUnavailableError(
                f"Yahoo Finance could not be reached for {', '.join(empty)}: {detail}"
            )
        return frame_from_yfinance(df, symbols, source=self.name).between(start, end)

    def _download(
        self, symbols: Sequence[str], start: date | None, end: date | None
    ) -> tuple[pd.DataFrame, list[str]]:
        """The network call: ``yf.download`` and what yfinance logged meanwhile.

        Raises:
            DataUnavailableError: yfinance raised (it normally logs instead).
        """
        import yfinance as yf  # lazy: slow import, and only this provider needs it

        span: dict[str, object] = {"start": start.isoformat()} if start else {"period": "max"}
        if end is not None:
            span["end"] = (end + timedelta(days=1)).isoformat()  # Yahoo's end is exclusive
        with _capture_yfinance_log() as messages, warnings.catch_warnings():
            # yfinance 1.x trips pandas deprecation warnings inside its own code.
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"yfinance\b")
            warnings.filterwarnings("ignore", category=FutureWarning, module=r"yfinance\b")
            try:
                df = yf.download(
                    list(symbols),
                    interval="1d",
                    group_by="column",
                    auto_adjust=True,
                    actions=False,
                    progress=False,
                    threads=self.threads,
                    timeout=self.timeout,
                    multi_level_index=True,
                    **span,
                )
            except Exception as e:
                raise DataUnavailableError(f"Yahoo Finance download failed: {e}") from e
        if df is None:
            raise DataUnavailableError("Yahoo Finance download returned nothing")
        return df, list(messages)
