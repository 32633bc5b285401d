"""BarFrame: daily bars of many symbols as aligned numpy arrays.

Every provider returns one of these. Rows are sessions (sorted, unique dates),
columns are symbols. A missing bar is NaN. Arrays, not DataFrames, because the
backtester reads them thousands of times per run; pandas stays at the edges.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

from invest.runtime.errors import DataError

FloatArray = npt.NDArray[np.float64]
DateArray = npt.NDArray[np.datetime64]
OPTIONAL_FIELDS = ("open", "high", "low", "volume")


@dataclass(frozen=True)
class BarFrame:
    """Aligned daily bars.

    Attributes:
        dates: ``datetime64[D]`` session dates, strictly increasing.
        symbols: column names, one per symbol.
        close: closes, shape ``(len(dates), len(symbols))``, NaN where missing.
        open: opens, or None when the source has closes only.
        high: highs, or None.
        low: lows, or None.
        volume: share volumes, or None.
        adjusted: True when closes are split/dividend adjusted back in time
            (then an old close is not the price that traded that day).
        source: provider name, for reports and audit records.
    """

    dates: npt.NDArray[np.datetime64]
    symbols: tuple[str, ...]
    close: FloatArray
    open: FloatArray | None = None
    high: FloatArray | None = None
    low: FloatArray | None = None
    volume: FloatArray | None = None
    adjusted: bool = False
    source: str = ""

    def __post_init__(self) -> None:
        shape = (len(self.dates), len(self.symbols))
        if self.close.shape != shape:
            raise DataError(f"close has shape {self.close.shape}, expected {shape}")
        for name in OPTIONAL_FIELDS:
            arr = getattr(self, name)
            if arr is not None and arr.shape != shape:
                raise DataError(f"{name} has shape {arr.shape}, expected {shape}")
        if len(set(self.symbols)) != len(self.symbols):
            raise DataError(f"duplicate symbols in frame: {self.symbols}")

    @classmethod
    def aligned(
        cls,
        symbols: Sequence[str],
        series: Sequence[tuple[DateArray, Mapping[str, FloatArray]]],
        *,
        adjusted: bool = False,
        source: str = "",
    ) -> BarFrame:
        """One frame from each symbol's own sessions, on the union of their dates.

        ``series[j]`` is symbol ``j``'s session dates and its arrays by field name
        (``close`` required). A session a symbol lacks is NaN; an optional field is
        None unless every symbol has it.
        """
        dates = (
            np.unique(np.concatenate([days for days, _ in series]))
            if series
            else np.array([], dtype="datetime64[D]")
        )
        arrays: dict[str, FloatArray | None] = {}
        for name in ("close", *OPTIONAL_FIELDS):
            if not all(name in cols for _, cols in series):
                arrays[name] = None
                continue
            out = np.full((len(dates), len(symbols)), np.nan)
            for j, (days, cols) in enumerate(series):
                out[np.searchsorted(dates, days), j] = cols[name]
            arrays[name] = out
        close = arrays.pop("close")
        if close is None:
            raise DataError("every symbol needs a close column")
        return cls(
            dates=dates,
            symbols=tuple(symbols),
            close=close,
            adjusted=adjusted,
            source=source,
            **arrays,
        )

    def __len__(self) -> int:
        return len(self.dates)

    @property
    def has_ohlc(self) -> bool:
        """True when open, high and low are all present."""
        return self.open is not None and self.high is not None and self.low is not None

    def index_of(self, symbol: str) -> int:
        """Column index of ``symbol``.

        Raises:
            DataError: the symbol is not in this frame.
        """
        try:
            return self.symbols.index(symbol)
        except ValueError:
            raise DataError(
                f"symbol {symbol!r} is not in the data from {self.source or 'this source'}; "
                f"available: {', '.join(self.symbols)}"
            ) from None

    def day(self, i: int) -> date:
        """Session ``i`` as a ``datetime.date``."""
        return date.fromisoformat(str(self.dates[i]))

    def row_for(self, day: date) -> int:
        """Index of the last session on or before ``day`` (-1 if none)."""
        return int(np.searchsorted(self.dates, np.datetime64(day, "D"), side="right")) - 1

    def row_from(self, day: date | None) -> int:
        """Index of the first session on or after ``day`` (0 for None, ``len`` if none)."""
        return 0 if day is None else int(np.searchsorted(self.dates, np.datetime64(day, "D")))

    def select(self, symbols: Sequence[str]) -> BarFrame:
        """A frame with only ``symbols``, in that order."""
        idx = [self.index_of(s) for s in symbols]
        return replace(self, symbols=tuple(symbols), **self._map(lambda a: a[:, idx]))

    def between(self, start: date | None = None, end: date | None = None) -> BarFrame:
        """A frame restricted to sessions in ``[start, end]`` (either bound optional)."""
        hi = len(self.dates) if end is None else self.row_for(end) + 1
        return self.rows(self.row_from(start), hi)

    def rows(self, lo: int, hi: int) -> BarFrame:
        """A frame holding sessions ``lo`` up to (not including) ``hi``."""
        sl = slice(lo, hi)
        return replace(self, dates=self.dates[sl], **self._map(lambda a: a[sl]))

    def _map(self, fn: Callable[[FloatArray], FloatArray]) -> dict[str, Any]:
        """``fn`` applied to close and to each optional array that is present."""
        out: dict[str, Any] = {"close": fn(self.close)}
        for name in OPTIONAL_FIELDS:
            arr = getattr(self, name)
            out[name] = None if arr is None else fn(arr)
        return out

    def with_symbols(self, other: BarFrame) -> BarFrame:
        """Join ``other``'s columns onto this frame's dates (outer join on dates)."""
        dates = np.union1d(self.dates, other.dates)
        symbols = self.symbols + tuple(s for s in other.symbols if s not in self.symbols)

        def widen(frame: BarFrame, name: str) -> FloatArray | None:
            arr = getattr(frame, name)
            if arr is None:
                return None
            out = np.full((len(dates), len(frame.symbols)), np.nan)
            out[np.searchsorted(dates, frame.dates)] = arr
            return out

        def join(name: str) -> FloatArray | None:
            a, b = widen(self, name), widen(other, name)
            if a is None or b is None:
                return None
            keep = [other.symbols.index(s) for s in symbols[len(self.symbols) :]]
            return np.concatenate([a, b[:, keep]], axis=1)

        close = join("close")
        assert close is not None  # close is never None
        return BarFrame(
            dates=dates,
            symbols=symbols,
            close=close,
            **{n: join(n) for n in OPTIONAL_FIELDS},
            adjusted=self.adjusted or other.adjusted,
            source="+".join(s for s in (self.source, other.source) if s),
        )
