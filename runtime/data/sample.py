"""The bundled sample: real daily closes of 20 S&P 500 members and the index, 1990-2022.

Provenance (see NOTICE): skfolio 1.12.2 datasets ``sp500_dataset.csv.gz`` and
``sp500_index.csv.gz`` (BSD-3-Clause); VIX from arch 8.0.0 (NCSA). Closes only,
split- and dividend-adjusted, survivorship-biased (picked from today's members).
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Sequence
from datetime import date
from functools import lru_cache
from importlib import resources

import numpy as np

from invest.runtime.data.frame import BarFrame, DateArray, FloatArray

INDEX_SYMBOL = "SP500"
SURVIVORSHIP_NOTE = (
    "The sample universe is survivorship-biased: its 20 names were picked from today's "
    "S&P 500 members, so any stock-picking result on it is flattered. Compare with the "
    "equal-weight buy-and-hold of the same names, not only with the index."
)


def _read_closes(name: str) -> tuple[list[str], DateArray, FloatArray]:
    """Headers after ``Date``, dates and closes of one bundled ``Date,SYM...`` file.

    The bundled files are plain (no quotes, ISO dates, an empty cell is a missing
    close); reading them without pandas keeps pandas' import (about 0.2 s) off the
    sample's path. ``float`` is correctly rounded, as pandas' parser is on these files.
    """
    pkg = resources.files("invest.runtime.data") / "bundled"
    with gzip.open(io.BytesIO((pkg / name).read_bytes()), "rt", encoding="utf-8") as fh:
        header = fh.readline().rstrip("\n").split(",")
        rows = [line.rstrip("\n").split(",") for line in fh]
    dates = np.array([r[0] for r in rows], dtype="datetime64[D]")
    nan = float("nan")
    close = np.array([[float(x) if x else nan for x in r[1:]] for r in rows], dtype=np.float64)
    return header[1:], dates, close.reshape(len(rows), len(header) - 1)


@lru_cache(maxsize=1)
def _load_all() -> BarFrame:
    stock_syms, stock_dates, stocks = _read_closes("sp500_stocks_daily_close.csv.gz")
    index_syms, index_dates, index = _read_closes("sp500_index_daily_close.csv.gz")
    dates = np.union1d(stock_dates, index_dates)  # the outer join of the two files, sorted
    close = np.full((len(dates), len(stock_syms) + len(index_syms)), np.nan)
    close[np.searchsorted(dates, stock_dates), : len(stock_syms)] = stocks
    close[np.searchsorted(dates, index_dates), len(stock_syms) :] = index
    close.setflags(write=False)
    dates.setflags(write=False)
    return BarFrame(
        dates=dates,
        symbols=(*stock_syms, *index_syms),
        close=close,
        adjusted=True,
        source="sample",
    )


@lru_cache(maxsize=1)
def vix() -> tuple[DateArray, FloatArray]:
    """The bundled VIX daily closes, 2014-01-03 to 2019-01-03: (dates, values), read-only.

    The file (from arch 8.0.0, see NOTICE) writes dates as M/D/YYYY; a value is the
    CBOE Volatility Index in percentage points (13.76 means 13.76% a year). The
    file writes ``.`` on exchange holidays (FRED's mark of a missing value): those days have
    no value and are left out.
    """
    pkg = resources.files("invest.runtime.data") / "bundled"
    with gzip.open(io.BytesIO((pkg / "vix_daily_close.csv.gz").read_bytes()), "rt") as fh:
        fh.readline()
        rows = [line.rstrip("\n").split(",") for line in fh if line.strip()]
    rows = [r for r in rows if r[1] != "."]
    days = []
    for raw, _ in rows:
        month, day, year = raw.split("/")
        days.append(f"{year}-{int(month):02d}-{int(day):02d}")
    dates = np.array(days, dtype="datetime64[D]")
    values = np.array([float(v) for _, v in rows], dtype=np.float64)
    dates.setflags(write=False)
    values.setflags(write=False)
    return dates, values


class SampleData:
    """Provider ``sample``: the bundled real data. Offline, the default."""

    name = "sample"

    def symbols(self) -> tuple[str, ...]:
        """All 20 stocks plus ``SP500``."""
        return _load_all().symbols

    def load(
        self, symbols: Sequence[str], start: date | None = None, end: date | None = None
    ) -> BarFrame:
        """Bars of ``symbols`` between ``start`` and ``end``.

        Raises:
            DataError: a symbol is not in the sample.
        """
        return _load_all().select(symbols).between(start, end)
