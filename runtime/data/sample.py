"""The bundled sample: real daily closes of 20 S&P 500 members and the index, 1990-2022.

Provenance (see NOTICE): skfolio 1.12.2 datasets ``sp500_dataset.csv.gz`` and
``sp500_index.csv.gz`` (BSD-3-Clause); VIX from arch 8.0.0 (NCSA). Closes only,
split- and dividend-adjusted, survivorship-biased (picked from today's members).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from functools import lru_cache
from importlib import resources

import numpy as np

from invest.runtime.data.frame import BarFrame

INDEX_SYMBOL = "SP500"
SURVIVORSHIP_NOTE = (
    "The sample universe is survivorship-biased: its 20 names were picked from today's "
    "S&P 500 members, so any stock-picking result on it is flattered. Compare with the "
    "equal-weight buy-and-hold of the same names, not only with the index."
)


@lru_cache(maxsize=1)
def _load_all() -> BarFrame:
    import pandas as pd  # lazy: `invest --help` and the TUI should not pay for pandas

    pkg = resources.files("invest.runtime.data") / "bundled"
    with resources.as_file(pkg / "sp500_stocks_daily_close.csv.gz") as p:
        stocks = pd.read_csv(p, parse_dates=["Date"], index_col="Date")
    with resources.as_file(pkg / "sp500_index_daily_close.csv.gz") as p:
        index = pd.read_csv(p, parse_dates=["Date"], index_col="Date")
    wide = stocks.join(index, how="outer").sort_index()
    close = wide.to_numpy(dtype=np.float64)
    close.setflags(write=False)
    dates = wide.index.to_numpy().astype("datetime64[D]")
    dates.setflags(write=False)
    return BarFrame(
        dates=dates,
        symbols=tuple(str(c) for c in wide.columns),
        close=close,
        adjusted=True,
        source="sample",
    )


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
