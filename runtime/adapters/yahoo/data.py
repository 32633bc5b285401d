"""Provider ``yfinance``: daily bars from Yahoo Finance through the yfinance library.

Bars are fetched with ``yf.download(..., auto_adjust=True)``: open, high, low and
close are split- and dividend-adjusted back in time, so the frame says
``adjusted=True``; volume is as Yahoo reports it.

The network call lives in :meth:`YFinanceData._download` only; parsing is
:func:`~invest.runtime.adapters.yahoo.parsing.frame_from_yfinance`, a pure function
tested against recorded responses.
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
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, timedelta

import numpy as np
import pandas as pd

from invest.runtime.adapters.yahoo.parsing import (
    empty_symbols,
    frame_from_yfinance,
    looks_like_network_failure,
)
from invest.runtime.data.frame import BarFrame
from invest.runtime.errors import DataUnavailableError


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
