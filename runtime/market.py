"""Market: one BarFrame prepared once for a run, read point-in-time by row index.

A backtest builds one Market for the whole replay; a live cycle builds one from
the bars loaded up to now. Strategies and risk rules read row ``t`` and never
anything later. Derived arrays (features, masks) are computed once and memoised,
because recomputing them per day would dominate a 33-year replay.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import date
from typing import Any, Protocol, cast

import numpy as np
import numpy.typing as npt

from invest.runtime.clock import today_in_new_york
from invest.runtime.data.base import MarketData
from invest.runtime.data.frame import BarFrame
from invest.runtime.data.validate import ValidationRules, mask_reason, usable_mask
from invest.runtime.domain import AccountState
from invest.runtime.errors import DataError, DataUnavailableError
from invest.runtime.features import FeatureSet, compute_features, momentum, volatility
from invest.runtime.regime import regime_series

logger = logging.getLogger(__name__)


def _ffill(a: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    idx = np.where(np.isfinite(a), np.arange(len(a))[:, None], 0)
    np.maximum.accumulate(idx, axis=0, out=idx)
    out = a[idx, np.arange(a.shape[1])]
    return out


def good_prices(close: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    """True where a close is a price: finite and positive (invariant 8)."""
    with np.errstate(invalid="ignore"):
        ok: npt.NDArray[np.bool_] = np.isfinite(close) & (close > 0)
    return ok


class Market:
    """Bars of one run, with memoised point-in-time derived arrays.

    A close that is not a price (zero, negative, infinite) is never read as one:
    ``close`` holds NaN there (a missing bar, for the features, regime and fills),
    ``mark`` carries the last good close forward, ``good`` is False and ``usable``
    is False, so the risk engine neither trades nor stops the symbol at that row
    (invariant 8). All of it is computed once per Market, vectorised.

    Attributes:
        missing: symbols the cycle asked for that the data source does not have;
            they are all-NaN columns here (``load_market(live=True)``).
        dropped: audit entries (``{"symbol", "reason"}``) for rows the loader
            dropped because they are dated after today.
    """

    def __init__(
        self,
        frame: BarFrame,
        rules: ValidationRules | None = None,
        *,
        missing: Iterable[str] = (),
        dropped: Iterable[dict[str, str]] = (),
    ) -> None:
        self.frame = frame
        self.rules = rules or ValidationRules()
        self.dates = frame.dates
        self.symbols = frame.symbols
        self.col = {s: i for i, s in enumerate(frame.symbols)}
        #: Finite and positive closes (the raw bar is a price).
        self.good = good_prices(frame.close)
        listed = ~np.isnan(frame.close)
        # Copy only when some close is not a price: clean data keeps the frame's array.
        bad = listed & ~self.good
        self.close = np.where(bad, np.nan, frame.close) if bad.any() else frame.close
        #: Last good close at or before each row: used to value holdings on a missing or bad bar.
        self.mark = _ffill(self.close)
        self.usable = usable_mask(frame, self.rules)
        self.missing = frozenset(missing)
        self.dropped = tuple(dropped)
        # datetime64[D] -> datetime.date in one C-level conversion (a per-row parse cost
        # 5 ms on 33 years, paid again by every Monte Carlo path).
        self._days: list[date] = frame.dates.astype("datetime64[D]").astype(object).tolist()
        self._cache: dict[Any, Any] = {}
        self._row_t = -1
        self._row: list[float] = []
        self._all_usable: list[bool] | None = None
        self._iso: dict[int, str] = {}
        self._all_good: list[bool] | None = None

    def __len__(self) -> int:
        return len(self.frame)

    def day(self, t: int) -> date:
        """Session date of row ``t``."""
        return self._days[t]

    def iso(self, t: int) -> str:
        """``day(t).isoformat()``, formatted once per row (a cycle names its day twice)."""
        s = self._iso.get(t)
        if s is None:
            s = self._iso[t] = self._days[t].isoformat()
        return s

    def derived(self, key: Any, compute: Callable[[], Any]) -> Any:
        """Memoise ``compute()`` under ``key`` for the life of this Market."""
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def features(self) -> FeatureSet:
        """The shared feature set of every symbol (closes only), computed once per Market.

        The RL observation, the LLM prompts and the manager all read this one copy.
        """
        fs: FeatureSet = self.derived(("features",), lambda: compute_features(self.close))
        return fs

    def momentum(self, days: int) -> npt.NDArray[np.float64]:
        """``features.momentum`` of every close over ``days`` sessions, computed once per Market."""
        out: npt.NDArray[np.float64] = self.derived(
            ("mom", days), lambda: momentum(self.close, days)
        )
        return out

    def volatility(self, days: int) -> npt.NDArray[np.float64]:
        """``features.volatility`` of every close over ``days`` sessions, computed once per Market."""
        out: npt.NDArray[np.float64] = self.derived(
            ("vol", days), lambda: volatility(self.close, days)
        )
        return out

    def regime(
        self, symbol: str, sma_window: int, hysteresis: float
    ) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.float64]]:
        """``regime.regime_series`` of ``symbol``'s closes (regime, SMA), computed once per Market."""
        ix = self.col[symbol]
        out: tuple[npt.NDArray[np.int8], npt.NDArray[np.float64]] = self.derived(
            ("regime", symbol, sma_window, hysteresis),
            lambda: regime_series(self.close[:, ix], sma_window, hysteresis),
        )
        return out

    def mark_row(self, t: int) -> list[float]:
        """Row ``t`` of ``mark`` as floats, by column (the last row asked is kept).

        A cycle reads several cells of the same row: one conversion instead of a
        numpy scalar per cell.
        """
        if t != self._row_t:
            self._row, self._row_t = self.mark[t].tolist(), t
        return self._row

    def all_usable(self, t: int) -> bool:
        """Every symbol's bar at row ``t`` is usable (the common case: no per-symbol checks)."""
        rows = self._all_usable
        if rows is None:
            rows = self._all_usable = cast("list[bool]", self.usable.all(axis=1).tolist())
        return rows[t]

    def all_good(self, t: int) -> bool:
        """Every symbol's bar at row ``t`` is a price (see :meth:`tradable`)."""
        rows = self._all_good
        if rows is None:
            rows = self._all_good = cast("list[bool]", self.good.all(axis=1).tolist())
        return rows[t]

    def price(self, symbol: str, t: int) -> float:
        """Last good close of ``symbol`` at row ``t`` (NaN before its first good bar)."""
        return self.mark_row(t)[self.col[symbol]]

    def tradable(self, symbol: str, t: int) -> bool:
        """The bar of ``symbol`` at row ``t`` is a price (finite, positive): it may be traded or stopped."""
        j = self.col.get(symbol)
        return j is not None and bool(self.good[t, j])

    def marks(self, symbols: Iterable[str], t: int) -> dict[str, float]:
        """:meth:`price` at row ``t`` of each of ``symbols`` that has a good close by then.

        A holding missing from the data (or with no good close yet) is left out:
        ``AccountState.equity`` values it at its average cost, never at 0.
        """
        out = {}
        for s in symbols:
            j = self.col.get(s)
            if j is not None:
                p = float(self.mark[t, j])
                if p == p:  # not NaN
                    out[s] = p
        return out

    def why_unusable(self, symbol: str, t: int) -> str:
        """Why ``symbol`` cannot be used at row ``t`` (for the audit record)."""
        if symbol in self.missing or symbol not in self.col:
            return (
                f"{symbol} is not in the data from {self.frame.source or 'the source'}: "
                "skipped, held at its average cost"
            )
        return mask_reason(self.frame, self.rules, t, self.col[symbol])


class Reader(Protocol):
    """What :func:`load_market` needs of an account (``cycle.AccountRuntime`` is one)."""

    @property
    def state(self) -> AccountState:
        """The account's cash and positions: held symbols are loaded too."""
        ...

    def symbols(self) -> tuple[str, ...]:
        """Every symbol the account reads."""
        ...


def load_market(
    source: MarketData,
    acct: Reader,
    end: date | None,
    *,
    live: bool = False,
    today: date | None = None,
) -> Market:
    """All history of the account's symbols (and holdings) up to ``end`` (warm-up included).

    ``live`` (``invest run``, the engine) makes bad input skip a symbol instead of
    failing the cycle (invariant 9):

    * a symbol the source does not have (it says so by failing the load and not
      listing the symbol) becomes an all-NaN column listed in ``Market.missing``: no
      stop, no trade, valued at its average cost, named in the record's ``skipped``;
    * rows dated after ``today`` (default: the system clock's date in New York) are
      dropped, with an audit entry per symbol in ``Market.dropped``, so a row dated
      2030 can never become the account's last session.

    A backtest (``live=False``) keeps failing on an unknown symbol.

    Raises:
        DataError: no data at all, or the load failed for another reason.
    """
    symbols = list(dict.fromkeys((*acct.symbols(), *acct.state.positions)))
    missing: list[str] = []
    try:
        frame = source.load(symbols, None, end)
    except DataUnavailableError:
        raise
    except DataError:
        if not live:
            raise
        available = set(source.symbols())
        missing = [s for s in symbols if s not in available]
        if not available or not missing or len(missing) == len(symbols):
            raise
        logger.warning("%s lacks %s: skipped this cycle", source.name, ", ".join(missing))
        frame = with_empty_columns(
            source.load([s for s in symbols if s in available], None, end), missing
        )
    dropped: list[dict[str, str]] = []
    if live:
        frame, dropped = _drop_future(frame, today or today_in_new_york())
    if len(frame) == 0:
        raise DataError(f"no data from {source.name} up to {end}")
    return Market(frame, missing=missing, dropped=dropped)


def with_empty_columns(frame: BarFrame, symbols: Sequence[str]) -> BarFrame:
    """``frame`` with an all-NaN column (no bar ever) for each of ``symbols``."""
    n = len(frame)

    def widen(arr: npt.NDArray[np.float64] | None) -> npt.NDArray[np.float64] | None:
        if arr is None:
            return None
        return np.concatenate([arr, np.full((n, len(symbols)), np.nan)], axis=1)

    close = widen(frame.close)
    assert close is not None
    return replace(
        frame,
        symbols=(*frame.symbols, *symbols),
        close=close,
        open=widen(frame.open),
        high=widen(frame.high),
        low=widen(frame.low),
        volume=widen(frame.volume),
    )


def _drop_future(frame: BarFrame, today: date) -> tuple[BarFrame, list[dict[str, str]]]:
    """``frame`` without rows dated after ``today``, and one audit entry per symbol they held."""
    keep = frame.row_for(today) + 1
    if keep >= len(frame):
        return frame, []
    late = frame.close[keep:]
    days = [str(d) for d in frame.dates[keep:]]
    out = []
    for j in np.flatnonzero(~np.isnan(late).all(axis=0)).tolist():
        rows = np.flatnonzero(~np.isnan(late[:, j])).tolist()
        shown = ", ".join(days[r] for r in rows[:3]) + (" ..." if len(rows) > 3 else "")
        out.append(
            {
                "symbol": frame.symbols[j],
                "reason": f"{frame.symbols[j]} has {len(rows)} bar(s) dated after today "
                f"({today}): {shown}; dropped, not traded or marked",
            }
        )
    logger.warning("dropped %d row(s) dated after %s: %s", len(days), today, ", ".join(days[:3]))
    return frame.rows(0, keep), out
