"""A SQLite cache of daily bars in front of an online provider.

:class:`BarCache` is the file (sqlite-utils, WAL mode, safe to share between the
engine and the TUI). Tables:

* ``bars(source, symbol, day, open, high, low, close, volume, adjusted, fetched_at)``,
  primary key ``(source, symbol, day)``; only bars with a close are stored.
* ``coverage(source, symbol, first_day, last_day)``: the day ranges that were
  *asked* of the provider and answered, merged; a range with no session in it
  (a holiday week) is covered too, so it is not asked again.

:class:`CachedMarketData` wraps any :class:`MarketData`. For each symbol it asks
the provider only for the gaps of ``[start, end]`` that the coverage lacks,
grouping symbols with the same gap into one call; a fully covered request makes
no provider call. Rules that keep cached data correct:

* **Only final sessions are cached.** A bar dated today (New York) or later
  may still change, so it is fetched on every load and never stored; and when a
  gap reaches yesterday, coverage stops at the newest bar the provider returned
  (a late provider is asked again next time, not believed).
* **Overlap check.** Every gap fetch is widened to include the nearest cached
  bar on each side. If the provider's close for such a day differs from the
  cached one (by more than 1 bp), the history was re-adjusted (a split or a
  dividend, for adjusted sources) or corrected: the symbol's cache is dropped
  and its whole requested range fetched again, so a frame never mixes two
  adjustment bases. The widening also makes a gap over a weekend return at
  least one bar, which providers that reject empty answers need.
* ``start=None`` is cached as "from the beginning" and passed to the provider
  as ``None``.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from invest.runtime.clock import SystemClock, today_in_new_york
from invest.runtime.data.base import MarketData
from invest.runtime.data.frame import OPTIONAL_FIELDS, BarFrame
from invest.runtime.errors import DataError
from invest.runtime.paths import private_file

log = logging.getLogger(__name__)

BEGINNING = date.min  # coverage start for start=None
OVERLAP_RTOL = 1e-4
ONE_DAY = timedelta(days=1)
FIELDS = ("open", "high", "low", "close", "volume")

# (day, open, high, low, close, volume, adjusted)
Row = tuple[str, float | None, float | None, float | None, float, float | None, bool]
Range = tuple[date, date]


def gaps(covered: Iterable[Range], lo: date, hi: date) -> list[Range]:
    """Parts of ``[lo, hi]`` (inclusive days) not inside any ``covered`` range."""
    out: list[Range] = []
    cur = lo
    for a, b in sorted(covered):
        if cur > hi or a > hi:
            break
        if b < cur:
            continue
        if a > cur:
            out.append((cur, a - ONE_DAY))
        cur = b + ONE_DAY
    if cur <= hi:
        out.append((cur, hi))
    return out


def merge(ranges: Iterable[Range]) -> list[Range]:
    """Union of day ranges; touching ranges (``b`` then ``b + 1``) are joined."""
    out: list[Range] = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1] + ONE_DAY:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


class BarCache:
    """The SQLite bar cache file (see the module docstring)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            private_file(self.path)  # 0640, like the ledger
            conn = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30)
            import sqlite_utils  # lazy: it imports pandas when installed

            self.db = sqlite_utils.Database(conn, execute_plugins=False)
            self.db.enable_wal()
            self._create()
        except (OSError, sqlite3.Error) as e:
            raise DataError(f"cannot open the bar cache {self.path}: {e}") from e
        self._lock = threading.RLock()

    def _create(self) -> None:
        self.db.table("bars").create(
            {
                "source": str,
                "symbol": str,
                "day": str,
                "open": float,
                "high": float,
                "low": float,
                "close": float,
                "volume": float,
                "adjusted": int,
                "fetched_at": str,
            },
            pk=("source", "symbol", "day"),
            not_null={"source", "symbol", "day", "close", "adjusted", "fetched_at"},
            if_not_exists=True,
        )
        self.db.table("coverage").create(
            {"source": str, "symbol": str, "first_day": str, "last_day": str},
            pk=("source", "symbol", "first_day"),
            not_null={"source", "symbol", "first_day", "last_day"},
            if_not_exists=True,
        )

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self.db.close()

    def __enter__(self) -> BarCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- coverage ------------------------------------------------------------

    def covered(self, source: str, symbol: str) -> list[Range]:
        """Merged day ranges already asked of ``source`` for ``symbol``."""
        with self._lock:
            rows = self.db.execute(
                "select first_day, last_day from coverage where source = ? and symbol = ? "
                "order by first_day",
                [source, symbol],
            ).fetchall()
        return [(date.fromisoformat(a), date.fromisoformat(b)) for a, b in rows]

    def add_coverage(self, source: str, symbol: str, first: date, last: date) -> None:
        """Record that ``[first, last]`` was fetched for ``symbol`` (merged with the rest)."""
        if first > last:
            return
        with self._lock, self.db.atomic():
            merged = merge([*self.covered(source, symbol), (first, last)])
            self.db.execute(
                "delete from coverage where source = ? and symbol = ?", [source, symbol]
            )
            self.db.table("coverage").insert_all(
                {
                    "source": source,
                    "symbol": symbol,
                    "first_day": a.isoformat(),
                    "last_day": b.isoformat(),
                }
                for a, b in merged
            )

    def cached_symbols(self, source: str) -> tuple[str, ...]:
        """Symbols with any coverage for ``source``."""
        with self._lock:
            rows = self.db.execute(
                "select distinct symbol from coverage where source = ? order by symbol", [source]
            ).fetchall()
        return tuple(r[0] for r in rows)

    def forget(self, source: str, symbol: str | None = None) -> None:
        """Drop the cached bars and coverage of ``symbol`` (all symbols when None)."""
        where = "source = ?" + ("" if symbol is None else " and symbol = ?")
        params = [source] if symbol is None else [source, symbol]
        with self._lock, self.db.atomic():
            self.db.execute(f"delete from bars where {where}", params)  # noqa: S608
            self.db.execute(f"delete from coverage where {where}", params)  # noqa: S608

    # -- bars ----------------------------------------------------------------

    def store(self, source: str, symbol: str, rows: Iterable[Row]) -> int:
        """Upsert bars of one symbol; returns how many were written."""
        fetched_at = SystemClock().now().isoformat(timespec="seconds")
        records = [
            (source, symbol, day, o, h, lo, c, v, int(adj), fetched_at)
            for day, o, h, lo, c, v, adj in rows
        ]
        if records:
            # Plain executemany: sqlite-utils' upsert_all is ~20x slower for long histories.
            with self._lock, self.db.atomic():
                self.db.conn.executemany(
                    "insert or replace into bars (source, symbol, day, open, high, low, close, "
                    "volume, adjusted, fetched_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    records,
                )
        return len(records)

    def read(self, source: str, symbol: str, first: date, last: date) -> list[Row]:
        """Cached bars of ``symbol`` with ``first <= day <= last``, by day."""
        with self._lock:
            rows = self.db.execute(
                "select day, open, high, low, close, volume, adjusted from bars "
                "where source = ? and symbol = ? and day between ? and ? order by day",
                [source, symbol, first.isoformat(), last.isoformat()],
            ).fetchall()
        return [(d, o, h, lo, c, v, bool(a)) for d, o, h, lo, c, v, a in rows]

    def nearest_days(self, source: str, symbol: str, first: date, last: date) -> Range:
        """The cached bar days just outside ``[first, last]`` (or ``first``/``last`` if none)."""
        with self._lock:
            before = self.db.execute(
                "select max(day) from bars where source = ? and symbol = ? and day < ?",
                [source, symbol, first.isoformat()],
            ).fetchone()[0]
            after = self.db.execute(
                "select min(day) from bars where source = ? and symbol = ? and day > ?",
                [source, symbol, last.isoformat()],
            ).fetchone()[0]
        return (
            date.fromisoformat(before) if before else first,
            date.fromisoformat(after) if after else last,
        )


def rows_of(frame: BarFrame, symbol: str) -> list[Row]:
    """The bars of ``symbol`` in ``frame`` that have a close, as cache rows (NaN -> None)."""
    j = frame.index_of(symbol)
    keep = np.flatnonzero(~np.isnan(frame.close[:, j]))
    days = [str(d) for d in frame.dates[keep]]
    close = frame.close[keep, j].tolist()

    def column(name: str) -> list[float | None]:
        arr = getattr(frame, name)
        if arr is None:
            return [None] * len(keep)
        return [None if math.isnan(x) else x for x in arr[keep, j].tolist()]

    o, h, lo, v = (column(n) for n in OPTIONAL_FIELDS)
    adj = frame.adjusted
    return [(days[i], o[i], h[i], lo[i], close[i], v[i], adj) for i in range(len(keep))]


def frame_from_rows(
    rows_by_symbol: dict[str, list[Row]], symbols: Sequence[str], source: str
) -> BarFrame:
    """Assemble cache rows into a BarFrame.

    A field (open, high...) is None when no row has it, else NaN where a row lacks it.
    """
    all_days = sorted({r[0] for s in symbols for r in rows_by_symbol.get(s, [])})
    dates = np.array(all_days, dtype="datetime64[D]")
    arrays = {n: np.full((len(dates), len(symbols)), np.nan) for n in FIELDS}
    seen = dict.fromkeys(FIELDS, False)
    adjusted = False
    for j, sym in enumerate(symbols):
        rows = rows_by_symbol.get(sym, [])
        if not rows:
            continue
        idx = np.searchsorted(dates, np.array([r[0] for r in rows], dtype="datetime64[D]"))
        for k, name in enumerate(FIELDS, start=1):
            values = np.array([r[k] for r in rows], dtype=np.float64)  # None -> NaN
            arrays[name][idx, j] = values
            seen[name] = seen[name] or not np.isnan(values).all()
        adjusted = adjusted or any(r[6] for r in rows)
    return BarFrame(
        dates=dates,
        symbols=tuple(symbols),
        close=arrays["close"],
        **{n: (arrays[n] if seen[n] else None) for n in OPTIONAL_FIELDS},
        adjusted=adjusted,
        source=source,
    )


def _closes_differ(cached: Sequence[Row], fresh: Sequence[Row]) -> bool:
    fresh_close = {r[0]: r[4] for r in fresh}
    for row in cached:
        new = fresh_close.get(row[0])
        if new is not None and abs(new - row[4]) > OVERLAP_RTOL * max(abs(row[4]), 1e-12):
            return True
    return False


class CachedMarketData:
    """A :class:`MarketData` that serves ``inner``'s bars from a :class:`BarCache`.

    Args:
        inner: the provider to fetch missing ranges from.
        cache: the cache file.
        today: the current New York date (tests pass a fixed one).
    """

    def __init__(
        self,
        inner: MarketData,
        cache: BarCache,
        *,
        today: Callable[[], date] = today_in_new_york,
    ) -> None:
        self.inner = inner
        self.cache = cache
        self.name = inner.name
        self._today = today

    def __repr__(self) -> str:
        return f"CachedMarketData({self.inner!r}, {str(self.cache.path)!r})"

    def symbols(self) -> tuple[str, ...]:
        """The provider's symbols plus every symbol already in the cache."""
        known = self.inner.symbols()
        return known + tuple(s for s in self.cache.cached_symbols(self.name) if s not in known)

    def load(
        self, symbols: Sequence[str], start: date | None = None, end: date | None = None
    ) -> BarFrame:
        """Bars of ``symbols`` in ``[start, end]``, fetching only what the cache lacks.

        Raises:
            DataError: as the inner provider (a symbol unknown...).
            DataUnavailableError: as the inner provider; nothing is marked covered.
        """
        if len(set(symbols)) != len(symbols):
            raise DataError(f"duplicate symbols requested: {list(symbols)}")
        today = self._today()
        horizon = today - ONE_DAY  # newest session that is final and may be cached
        lo = start or BEGINNING
        hi = end or today
        fresh: dict[str, dict[str, Row]] = defaultdict(dict)  # rows newer than horizon

        plan: dict[Range, list[tuple[str, Range]]] = defaultdict(list)
        for sym in symbols:
            for gap in gaps(self.cache.covered(self.name, sym), lo, hi):
                plan[self.cache.nearest_days(self.name, sym, *gap)].append((sym, gap))

        redo: list[str] = []
        for (fetch_lo, fetch_hi), members in plan.items():
            names = list(dict.fromkeys(sym for sym, _ in members))
            frame = self._fetch(names, fetch_lo, fetch_hi)
            for sym, gap in members:
                first, last = fetch_lo.isoformat(), fetch_hi.isoformat()
                rows = [r for r in rows_of(frame, sym) if first <= r[0] <= last]
                if _closes_differ(self.cache.read(self.name, sym, fetch_lo, fetch_hi), rows):
                    redo.append(sym)
                    continue
                self._keep(sym, gap, rows, horizon, fresh)

        for sym in dict.fromkeys(redo):
            log.info("%s: cached bars of %s disagree with the provider; refetching", self.name, sym)
            self.cache.forget(self.name, sym)
            frame = self._fetch([sym], lo, hi)
            fresh.pop(sym, None)
            self._keep(sym, (lo, hi), rows_of(frame, sym), horizon, fresh)

        cached_hi = min(hi, horizon)
        rows_by_symbol: dict[str, list[Row]] = {}
        for sym in symbols:
            rows = self.cache.read(self.name, sym, lo, cached_hi) if lo <= cached_hi else []
            tail = [r for day, r in sorted(fresh[sym].items()) if lo.isoformat() <= day]
            rows_by_symbol[sym] = rows + tail
        return frame_from_rows(rows_by_symbol, symbols, self.name)

    def _fetch(self, symbols: list[str], lo: date, hi: date) -> BarFrame:
        return self.inner.load(symbols, None if lo == BEGINNING else lo, hi)

    def _keep(
        self,
        sym: str,
        gap: Range,
        rows: list[Row],
        horizon: date,
        fresh: dict[str, dict[str, Row]],
    ) -> None:
        """Store the final rows of one fetched gap, mark it covered, hold the rest in memory."""
        limit = horizon.isoformat()
        final = [r for r in rows if r[0] <= limit]
        self.cache.store(self.name, sym, final)
        for r in rows:
            if r[0] > limit and r[0] <= gap[1].isoformat():
                fresh[sym][r[0]] = r
        cover_hi = min(gap[1], horizon)
        if gap[1] >= horizon:  # do not believe a provider that has not published yet
            newest = max((r[0] for r in final), default=None)
            if newest is None:
                return
            cover_hi = min(cover_hi, date.fromisoformat(newest))
        self.cache.add_coverage(self.name, sym, gap[0], cover_hi)
