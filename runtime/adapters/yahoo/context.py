"""Context source ``yfinance``: the VIX, the 10-year yield and the dollar index from Yahoo.

``Ticker(symbol).history(start, end, interval="1d", auto_adjust=False)`` per series:
``^VIX`` (CBOE Volatility Index, percentage points), ``^TNX`` (the 10-year Treasury
yield) and ``DX-Y.NYB`` (ICE US Dollar Index). A day is the date of the row's
timestamp in the exchange's timezone, which yfinance gives the index in.

``^TNX``: CBOE disseminates TNX as ten times the yield (42.5 for 4.25%); Yahoo's
chart API serves ^TNX as the yield in percent (4.25), which is what yfinance
returns, so no scaling is applied here. This could not be checked against a live
answer from this machine; :mod:`invest.runtime.context` refuses a yield series with a
close of 25 or more (no 10-year yield has been that high; a tenths quote of a yield
over 2.5% is), so a change of units at Yahoo makes the series "not available"
rather than wrong by ten.

A failed request (network, rate limit, unknown ticker) makes that series "not
available" with the reason: the context informs a cycle and never stops it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from invest.runtime.adapters.yahoo.data import _capture_yfinance_log
from invest.runtime.adapters.yahoo.options import _quiet, _yf_ticker
from invest.runtime.context import SERIES, Raw, Series

log = logging.getLogger(__name__)


def series_from_history(frame: pd.DataFrame | None) -> Series | None:
    """The daily closes of a ``Ticker.history`` frame (None when it has none)."""
    if frame is None or len(frame.index) == 0 or "Close" not in frame.columns:
        return None
    index = pd.DatetimeIndex(frame.index)
    days = np.array([stamp.date() for stamp in index], dtype="datetime64[D]")
    values = frame["Close"].to_numpy(dtype=np.float64)
    order = np.argsort(days, kind="stable")
    return Series(days[order], values[order])


def yahoo_context(
    start: date | None,
    end: date | None,
    *,
    ticker_factory: Callable[[str], Any] | None = None,
) -> Raw:
    """The three context series between ``start`` and ``end`` (inclusive) from Yahoo.

    ``start`` is moved back ten days so the first row has a previous close to lag to.
    """
    make = ticker_factory or _yf_ticker
    span: dict[str, Any] = {"period": "max"} if start is None else {}
    if start is not None:
        span["start"] = (start - timedelta(days=10)).isoformat()
    if end is not None:
        span["end"] = (end + timedelta(days=1)).isoformat()  # Yahoo's end is exclusive
    out: dict[str, Series | str] = {}
    for spec in SERIES:
        # yfinance logs a failed request and returns an empty frame: the log says why.
        with _capture_yfinance_log() as messages:
            try:
                with _quiet():
                    frame = make(spec.yahoo).history(
                        interval="1d", auto_adjust=False, actions=False, **span
                    )
            except Exception as e:  # any failure of the request: this series is unavailable
                frame, messages = None, [*messages, f"{type(e).__name__}: {e}"]
        series = series_from_history(frame)
        if series is None:
            detail = "; ".join(dict.fromkeys(messages))[:300] or "no rows in the range"
            out[spec.key] = f"Yahoo {spec.yahoo} unavailable: {detail}"
            log.warning("%s", out[spec.key])
        else:
            out[spec.key] = series
    return out
