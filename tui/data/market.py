"""Prices for the screens: the benchmark beside an account's equity, and marks of
its positions. Only offline sources are read (the bundled sample and CSV files);
for online ones the TUI says ``bench n/a`` rather than call a provider."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from invest.runtime.errors import InvestError
from invest.runtime.ledger.views import AccountInfo


def is_offline(spec: str) -> bool:
    """True for data sources read from local files only."""
    return spec == "sample" or spec.startswith("csv:")


@dataclass(frozen=True, slots=True)
class Prices:
    """Closes of some symbols on their sessions (ISO days, ascending)."""

    days: list[str] = field(default_factory=list)
    closes: dict[str, list[float]] = field(default_factory=dict)

    def asof(self, symbol: str, day: str) -> float | None:
        """The last finite close of ``symbol`` on or before ``day``."""
        series = self.closes.get(symbol)
        if not series:
            return None
        i = bisect.bisect_right(self.days, day) - 1
        while i >= 0:
            v = series[i]
            if v == v and v > 0:  # not NaN
                return v
            i -= 1
        return None


def load_prices(
    spec: str, symbols: Sequence[str], start: str, end: str, cache_dir: Path | None
) -> Prices | None:
    """Closes of ``symbols`` from an offline source between two ISO days, or None.

    Symbols the source does not know are left out; None when the source is online
    or nothing could be read.
    """
    if not is_offline(spec):
        return None
    from invest.runtime.data import open_source  # lazy: pandas

    try:
        source = open_source(spec, cache_dir=cache_dir)
        known = set(source.symbols())
        wanted = [s for s in dict.fromkeys(symbols) if not known or s in known]
        if not wanted:
            return None
        frame = source.load(wanted, date.fromisoformat(start), date.fromisoformat(end))
    except (InvestError, OSError, ValueError):
        return None
    days = [str(d) for d in frame.dates.astype("datetime64[D]")]
    closes = {s: [float(x) for x in frame.close[:, j]] for j, s in enumerate(frame.symbols)}
    return Prices(days, closes)


def benchmark_curve(
    prices: Prices | None, symbol: str, curve: Sequence[tuple[str, float]]
) -> list[float] | None:
    """The benchmark scaled to the equity curve's first value, on the curve's days."""
    if prices is None or not curve:
        return None
    first = prices.asof(symbol, curve[0][0])
    if not first:
        return None
    out = []
    for day, _ in curve:
        px = prices.asof(symbol, day)
        if px is None:
            return None
        out.append(curve[0][1] * px / first)
    return out


def benchmark_return(prices: Prices | None, symbol: str, start: str, end: str) -> float | None:
    """Total return of ``symbol`` from ``start`` to ``end`` (None when unknown)."""
    if prices is None:
        return None
    a, b = prices.asof(symbol, start), prices.asof(symbol, end)
    return b / a - 1 if a and b else None


def account_prices(
    info: AccountInfo,
    engine_data: str,
    extra: Sequence[str],
    start: str,
    end: str,
    cache_dir: Path | None,
) -> Prices | None:
    """Closes of the account's benchmark and ``extra`` symbols from its data source."""
    spec = info.data or engine_data
    return load_prices(spec, [info.benchmark, *extra], start, end, cache_dir)
