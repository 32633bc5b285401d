"""Market: one BarFrame prepared once for a run, read point-in-time by row index.

A backtest builds one Market for the whole replay; a live cycle builds one from
the bars loaded up to now. Strategies and risk rules read row ``t`` and never
anything later. Derived arrays (features, masks) are computed once and memoised,
because recomputing them per day would dominate a 33-year replay.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

from invest.runtime.data.frame import BarFrame
from invest.runtime.data.validate import ValidationRules, mask_reason, usable_mask
from invest.runtime.features import FeatureSet, compute_features, momentum, volatility
from invest.runtime.regime import regime_series


def _ffill(a: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    idx = np.where(np.isfinite(a), np.arange(len(a))[:, None], 0)
    np.maximum.accumulate(idx, axis=0, out=idx)
    out = a[idx, np.arange(a.shape[1])]
    return out


class Market:
    """Bars of one run, with memoised point-in-time derived arrays."""

    def __init__(self, frame: BarFrame, rules: ValidationRules | None = None) -> None:
        self.frame = frame
        self.rules = rules or ValidationRules()
        self.dates = frame.dates
        self.symbols = frame.symbols
        self.col = {s: i for i, s in enumerate(frame.symbols)}
        self.close = frame.close
        #: Last known close at or before each row: used to value holdings on a missing bar.
        self.mark = _ffill(frame.close)
        self.usable = usable_mask(frame, self.rules)
        # datetime64[D] -> datetime.date in one C-level conversion (a per-row parse cost
        # 5 ms on 33 years, paid again by every Monte Carlo path).
        self._days: list[date] = frame.dates.astype("datetime64[D]").astype(object).tolist()
        self._cache: dict[Any, Any] = {}

    def __len__(self) -> int:
        return len(self.frame)

    def day(self, t: int) -> date:
        """Session date of row ``t``."""
        return self._days[t]

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

    def price(self, symbol: str, t: int) -> float:
        """Last known close of ``symbol`` at row ``t`` (NaN before its first bar)."""
        return float(self.mark[t, self.col[symbol]])

    def marks(self, symbols: Iterable[str], t: int) -> dict[str, float]:
        """:meth:`price` at row ``t`` of each of ``symbols`` that the data has.

        A holding missing from the data is left out: ``AccountState.equity`` values it at cost.
        """
        return {s: self.price(s, t) for s in symbols if s in self.col}

    def why_unusable(self, symbol: str, t: int) -> str:
        """Why ``symbol`` cannot be used at row ``t`` (for the audit record)."""
        return mask_reason(self.frame, self.rules, t, self.col[symbol])
