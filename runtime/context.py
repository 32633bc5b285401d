"""Market context: the VIX, the 10-year Treasury yield and the dollar index, lagged one session.

The value used on day D is the last close dated strictly before D. A cycle runs
after D's close, but these series are not the stocks' own bars: the VIX and the
dollar index settle on other venues and clocks (Yahoo's ^VIX and DX-Y.NYB rows
for D often arrive or are revised after the stock close; the Treasury yield is
set in a market that closes at another hour), so reading D's value would let a
backtest see a figure a live cycle may not have had yet. One session of lag costs
a day of reaction and makes every day's context known for sure at the cycle.

A value is never invented: a series the source lacks is "not available" with its
reason (the bundled sample has the VIX 2014-01-03..2019-01-03 only, no yield and no
dollar index); a day whose last close is more than ``max_stale_sessions`` market
sessions old is NaN with the reason (no forward fill past that limit).

Sources (``[context] source``): ``sample``, ``csv:DIR`` (``VIX.csv``, ``US10Y.csv``,
``DXY.csv`` in the csv provider's folder format) and ``yfinance``
(:mod:`invest.runtime.adapters.yahoo.context`, named here as a ``"module:attr"``
string and imported when opened, as :mod:`invest.runtime.data` opens its online
providers: this module sits below the adapters).

:func:`context_table` aligns the series to a :class:`Market`'s rows once (memoised
on the Market); :meth:`ContextTable.at` gives the :class:`MarketContext` of one row.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import cast

import numpy as np
import numpy.typing as npt

from invest.runtime.config.context import ContextConfig
from invest.runtime.data.csv import CsvData
from invest.runtime.data.frame import DateArray, FloatArray
from invest.runtime.data.sample import vix as sample_vix
from invest.runtime.errors import DataError
from invest.runtime.market import Market
from invest.runtime.options.earnings import EarningsCalendar, StaticEarningsCalendar

__all__ = [
    "SERIES",
    "ContextTable",
    "MarketContext",
    "Reading",
    "Series",
    "build_table",
    "context_table",
    "load_series",
    "open_earnings",
]


@dataclass(frozen=True, slots=True)
class Spec:
    """One context series: its key, the name shown, the csv file stem, Yahoo's ticker,
    the plausible range of a close (outside: not a value of this series) and the format."""

    key: str
    label: str
    stem: str
    yahoo: str
    low: float
    high: float
    fmt: str


#: The three series, in the table's column order.
SERIES = (
    Spec("vix", "VIX", "VIX", "^VIX", 0.0, 200.0, "{:.1f}"),
    # A 10-year yield in percent; a figure above 25 is a quote in tenths (CBOE's TNX
    # convention), which this module refuses rather than rescales.
    Spec("us10y", "10-year yield", "US10Y", "^TNX", -5.0, 25.0, "{:.2f}%"),
    Spec("dollar", "dollar index", "DXY", "DX-Y.NYB", 0.0, 1000.0, "{:.2f}"),
)
_KEYS = tuple(s.key for s in SERIES)


@dataclass(frozen=True, slots=True)
class Series:
    """Daily closes of one context series as its source gives them, oldest first."""

    dates: DateArray
    values: FloatArray


#: What a source gives per series key: the closes, or why there are none.
Raw = Mapping[str, Series | str]


@dataclass(frozen=True, slots=True)
class Reading:
    """One series on one day: the lagged value, the date of that close, or why unknown."""

    label: str
    value: float
    asof: date | None
    reason: str = ""
    fmt: str = "{:.2f}"

    @property
    def known(self) -> bool:
        """True when the value is a number."""
        return not math.isnan(self.value)

    def text(self) -> str:
        """``VIX 18.2 (2016-06-14 close)`` or ``10-year yield: not available (why)``."""
        if self.known and self.asof is not None:
            return f"{self.label} {self.fmt.format(self.value)} ({self.asof.isoformat()} close)"
        return f"{self.label}: not available ({self.reason})"


@dataclass(frozen=True, slots=True)
class MarketContext:
    """The context of one day: each series lagged one session (see the module docstring)."""

    day: date
    vix: Reading
    us10y: Reading
    dollar: Reading

    def readings(self) -> tuple[Reading, ...]:
        """VIX, 10-year yield, dollar index."""
        return (self.vix, self.us10y, self.dollar)

    def lines(self) -> tuple[str, ...]:
        """One line per series for a prompt or a note."""
        return tuple(r.text() for r in self.readings())


class ContextTable:
    """The context series aligned to a Market's rows (lagged, stale values removed).

    Attributes:
        values: float64 ``(rows, 3)`` in :data:`SERIES` order; NaN where unknown.
        asof: ``datetime64[D]`` ``(rows, 3)``: the date of the close used (NaT where unknown).
    """

    def __init__(
        self,
        dates: DateArray,
        raw: Raw,
        max_stale: int,
        source: str,
    ) -> None:
        self.dates = dates
        self.source = source
        self.max_stale = max_stale
        self._raw = {
            s.key: _clean(s, raw.get(s.key, f"not in the {source} source")) for s in SERIES
        }
        n = len(dates)
        self.values = np.full((n, len(SERIES)), np.nan)
        self.asof = np.full((n, len(SERIES)), np.datetime64("NaT"), dtype="datetime64[D]")
        for j, spec in enumerate(SERIES):
            series = self._raw[spec.key]
            if isinstance(series, Series):
                self.values[:, j], self.asof[:, j] = _lag(dates, series, max_stale)
        self._days: list[date] = dates.astype("datetime64[D]").astype(object).tolist()

    def column(self, key: str) -> FloatArray:
        """The lagged values of series ``key`` (``vix``, ``us10y``, ``dollar``) by row."""
        out: FloatArray = self.values[:, _KEYS.index(key)]
        return out

    def at(self, t: int) -> MarketContext:
        """The context of row ``t``, each unknown value with its reason."""
        day = self._days[t]
        readings = []
        for j, spec in enumerate(SERIES):
            value = float(self.values[t, j])
            if math.isnan(value):
                readings.append(Reading(spec.label, value, None, self._why(spec, day), spec.fmt))
            else:
                asof = cast("date", self.asof[t, j].astype(object))
                readings.append(Reading(spec.label, value, asof, "", spec.fmt))
        return MarketContext(day, *readings)

    def _why(self, spec: Spec, day: date) -> str:
        series = self._raw[spec.key]
        if isinstance(series, str):
            return series
        d = np.datetime64(day, "D")
        i = int(np.searchsorted(series.dates, d, side="left")) - 1
        if i < 0:
            return f"no {spec.label} close before {day.isoformat()} in the {self.source} source"
        last = cast("date", series.dates[i].astype(object))
        return (
            f"last {spec.label} close {last.isoformat()} is more than {self.max_stale} sessions old"
        )


def _clean(spec: Spec, series: Series | str) -> Series | str:
    """Sort by day and keep the last row of a repeated day (Yahoo has sent the last row
    twice); drop missing closes (NaN); refuse the whole series when a close is outside
    the series' range: a series in other units (a yield quoted in tenths) is not used."""
    if isinstance(series, str):
        return series
    order = np.argsort(np.asarray(series.dates, dtype="datetime64[D]"), kind="stable")
    dates = np.asarray(series.dates, dtype="datetime64[D]")[order]
    v = np.asarray(series.values, dtype=np.float64)[order]
    last = np.append(dates[1:] != dates[:-1], True)
    dates, v = dates[last], v[last]
    finite = np.isfinite(v)
    bad = finite & ((v <= spec.low) | (v >= spec.high))
    if bad.any():
        k = int(np.argmax(bad))
        return (
            f"a {spec.label} close of {v[k]:g} on {dates[k]} is outside "
            f"({spec.low:g}, {spec.high:g}): the source is not in this series' units"
        )
    if not finite.any():
        return f"the source has no {spec.label} close"
    return Series(dates[finite], v[finite])


def _lag(
    dates: DateArray, series: Series, max_stale: int
) -> tuple[FloatArray, npt.NDArray[np.datetime64]]:
    """Per row of ``dates``: the last close dated strictly before it, unless that close is
    more than ``max_stale`` sessions (rows of ``dates``) old. Vectorised, causal."""
    i = np.searchsorted(series.dates, dates, side="left") - 1  # last source day < D
    has = i >= 0
    safe = np.where(has, i, 0)
    src_day = series.dates[safe]
    # Sessions from the close used to D: 1 when it is the previous row's day.
    age = np.arange(len(dates)) - np.searchsorted(dates, src_day, side="left")
    ok = has & (age <= max_stale)
    values = np.where(ok, series.values[safe], np.nan)
    asof = np.where(ok, src_day, np.datetime64("NaT"))
    return values, asof.astype("datetime64[D]")


def build_table(
    dates: DateArray, raw: Raw, *, max_stale: int = 5, source: str = ""
) -> ContextTable:
    """A :class:`ContextTable` of ``raw`` series over ``dates`` (sorted session days)."""
    return ContextTable(dates, raw, max_stale, source or "given")


#: Online context sources, imported when opened (see the module docstring).
_ONLINE = {
    "yfinance": "invest.runtime.adapters.yahoo.context:yahoo_context",
    "earnings:yfinance": "invest.runtime.adapters.yahoo.earnings:YahooEarningsCalendar",
}


def open_earnings(config: ContextConfig | None = None) -> EarningsCalendar | None:
    """The earnings calendar of ``[context] earnings``; None for ``"none"``.

    Raises:
        ConfigError: ``csv:FILE`` is missing or malformed.
    """
    spec = (config or ContextConfig()).earnings
    if spec == "none":
        return None
    if spec.startswith("csv:"):
        return StaticEarningsCalendar.from_csv(Path(spec[4:]).expanduser())
    module, _, attr = _ONLINE[f"earnings:{spec}"].partition(":")
    calendar = cast(
        "Callable[[], EarningsCalendar]", getattr(importlib.import_module(module), attr)
    )
    return calendar()


def load_series(source: str, start: date | None, end: date | None) -> Raw:
    """The raw context series of ``source`` (``sample``, ``csv:DIR``, ``yfinance``).

    Raises:
        DataError: ``csv:DIR`` is not a folder, or a file in it is malformed.
    """
    if source == "sample":
        return _sample()
    if source.startswith("csv:"):
        return _csv(Path(source[4:]).expanduser())
    module, _, attr = _ONLINE[source].partition(":")
    opener = cast(
        "Callable[[date | None, date | None], Raw]",
        getattr(importlib.import_module(module), attr),
    )
    return opener(start, end)


def _sample() -> Raw:
    dates, values = sample_vix()
    missing = "not bundled with the sample data"
    return {"vix": Series(dates, values), "us10y": missing, "dollar": missing}


def _csv(folder: Path) -> Raw:
    if not folder.is_dir():
        raise DataError(
            f"context source csv:{folder}: not a folder (want VIX.csv, US10Y.csv, DXY.csv)"
        )
    data = CsvData(folder)
    out: dict[str, Series | str] = {}
    for spec in SERIES:
        if not (folder / f"{spec.stem}.csv").is_file():
            out[spec.key] = f"no {spec.stem}.csv in {folder}"
            continue
        frame = data.load([spec.stem])
        out[spec.key] = Series(frame.dates, frame.close[:, 0])
    return out


def context_table(market: Market, config: ContextConfig | None = None) -> ContextTable:
    """The context of every row of ``market`` from ``config``'s source, built once per Market.

    An online source that cannot be reached gives "not available" series with the
    reason (the context informs, it never stops a cycle); a bad csv folder or file
    raises :class:`DataError` naming it, as the csv data provider does.
    """
    cfg = config or ContextConfig()
    source = resolve_source(cfg.source, market.frame.source)

    def build() -> ContextTable:
        dates = market.dates
        start = None if len(dates) == 0 else cast("date", dates[0].astype(object))
        end = None if len(dates) == 0 else cast("date", dates[-1].astype(object))
        return ContextTable(dates, load_series(source, start, end), cfg.max_stale_sessions, source)

    table: ContextTable = market.derived(("context", source, cfg.max_stale_sessions), build)
    return table


def resolve_source(source: str, data_source: str) -> str:
    """The context source ``"auto"`` stands for, given the market data's source name.

    Live data (yfinance, Alpaca: the names may be joined, as a cached frame's are) gets
    Yahoo's series, so a live account never reads the sample's VIX, which ends in 2019;
    anything else (the sample, a csv folder) gets the bundled sample's.
    """
    if source != "auto":
        return source
    live = any(name in data_source for name in ("yfinance", "alpaca"))
    return "yfinance" if live else "sample"
