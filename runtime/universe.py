"""The dynamic universe: which of an account's candidates trade in each quarter (or month).

On the first session of each period the candidates are screened and ranked once:

* enough history: a good close ``momentum_days`` sessions back, ``skip_days`` back and
  on the day itself, and every close of the volatility window (else not eligible);
* enough volatility: the annualised std of the last ``vol_days`` daily log returns
  (``Market.volatility``, ddof=1, times sqrt 252) at least ``min_vol``;
* enough liquidity: the 20-day average dollar volume at least ``min_dollar_volume``,
  skipped where the data has no volume (as the risk engine's liquidity floor);
* ranked by momentum ``close[b - skip] / close[b - lookback] - 1``, best first, ties
  in candidate order; the best ``top_n`` are the period's universe.

Point in time: the selection on a period's first session ``b`` reads rows up to and
including ``b``, because the cycle runs after the close and trend_king reads row ``t``
at ``t``'s close too; it then holds for every session of the period. Row 0 opens a
period (a Market that starts mid-quarter selects from what it has, usually nothing
for want of history, until the next quarter begins).

Everything is computed once per Market (``Market.derived``) over the period starts
only, so a cycle pays one mask lookup; a strategy without a dynamic universe never
calls this module.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from invest.runtime.config.universe import DynamicUniverseConfig
from invest.runtime.market import Market

__all__ = ["Selection", "UniverseNotes", "eligible", "selection"]

TRADING_DAYS = 252
DOLLAR_VOLUME_DAYS = 20


@dataclass(frozen=True, eq=False)
class Selection:
    """The dynamic universe of one candidate list over one Market.

    Attributes:
        candidates: the candidate symbols, in config order (the mask's columns).
        mask: ``(T, N)`` bool, True where a candidate is in its period's universe.
        starts: the first row of each period, ascending (row 0 first).
        period: ``(T,)`` index into ``starts`` of each row's period.
        labels: a name per period (``2005-Q2`` or ``2005-04``).
    """

    candidates: tuple[str, ...]
    mask: npt.NDArray[np.bool_]
    starts: tuple[int, ...]
    period: npt.NDArray[np.intp]
    labels: tuple[str, ...]

    def members_at(self, t: int) -> tuple[str, ...]:
        """The universe in force at row ``t``, in candidate order."""
        return tuple(s for s, on in zip(self.candidates, self.mask[t].tolist(), strict=True) if on)

    def note(self, t: int, before: Sequence[str] | None) -> str:
        """One line naming the universe at row ``t`` and what changed since ``before``."""
        k = int(self.period[t])
        now = self.members_at(t)
        line = (
            f"universe {self.labels[k]} ({len(now)} of {len(self.candidates)} candidates): "
            f"{', '.join(now) or 'none eligible'}"
        )
        if before is not None:
            came = [s for s in now if s not in before]
            went = [s for s in before if s not in now]
            line += f"; in: {', '.join(came) or '-'}; out: {', '.join(went) or '-'}"
        return line


class UniverseNotes:
    """Notes a strategy adds to its proposal: the universe, when it differs from the last one noted.

    One per strategy object: its first proposal names the universe, then each proposal
    whose universe differs from the last one noted.
    """

    def __init__(self) -> None:
        self._last: tuple[str, ...] | None = None
        self._sel: Selection | None = None
        self._period = -1

    def at(self, sel: Selection, t: int) -> tuple[str, ...]:
        """``(note,)`` when the universe at ``t`` differs from the last one noted, else ``()``.

        A new Selection (the engine prepares each cycle on a fresh Market) compares members,
        so a long-lived strategy notes only real changes.
        """
        k = int(sel.period[t])
        if sel is self._sel and k == self._period:  # it changes only between periods
            return ()
        self._sel, self._period = sel, k
        now = sel.members_at(t)
        if now == self._last:
            return ()
        line = sel.note(t, self._last)
        self._last = now
        return (line,)


def selection(market: Market, candidates: Sequence[str], cfg: DynamicUniverseConfig) -> Selection:
    """The :class:`Selection` of ``candidates`` over ``market``, computed once per Market.

    Raises:
        KeyError: a candidate is not a column of ``market``.
    """
    cands = tuple(candidates)
    out: Selection = market.derived(("universe", cands, cfg), lambda: _select(market, cands, cfg))
    return out


def eligible(
    market: Market, candidates: Sequence[str], cfg: DynamicUniverseConfig
) -> npt.NDArray[np.bool_]:
    """``(T, N)`` bool: candidate ``j`` is in the universe at row ``t`` (see the module doc)."""
    return selection(market, candidates, cfg).mask


def _period_starts(market: Market, rebalance: str) -> tuple[npt.NDArray[np.intp], list[str]]:
    months = market.dates.astype("datetime64[M]").astype(np.int64)  # months since 1970-01
    key = months // 3 if rebalance == "quarterly" else months
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.array([], int)
    labels = []
    for m in months[starts].tolist():
        year, month = 1970 + m // 12, m % 12 + 1
        labels.append(
            f"{year}-Q{(month - 1) // 3 + 1}" if rebalance == "quarterly" else f"{year}-{month:02d}"
        )
    return starts.astype(np.intp), labels


def _select(market: Market, cands: tuple[str, ...], cfg: DynamicUniverseConfig) -> Selection:
    cols = [market.col[s] for s in cands]
    n, rows = len(cands), len(market)
    starts, labels = _period_starts(market, cfg.rebalance)
    close = market.close[:, cols]  # NaN where a bar is missing or not a price
    chosen = np.zeros((len(starts), n), dtype=bool)
    # Only the starts with the whole look-back inside the data can select anyone.
    back = max(cfg.momentum_days, cfg.vol_days)
    full = starts >= back
    b = starts[full]
    if len(b):
        with np.errstate(divide="ignore", invalid="ignore"):
            mom = close[b - cfg.skip_days] / close[b - cfg.momentum_days] - 1.0
        # The Market's shared volatility grid (NaN where the window touches a missing bar),
        # read at the starts only: no (starts x window x names) block is ever built.
        vol = market.volatility(cfg.vol_days)[b][:, cols] * math.sqrt(TRADING_DAYS)
        ok = np.isfinite(mom) & np.isfinite(vol) & np.isfinite(close[b]) & (vol >= cfg.min_vol)
        ok &= _liquid(market, cols, b, cfg.min_dollar_volume)
        # Best momentum first; a stable sort keeps candidate order among equal scores.
        order = np.argsort(np.where(ok, -mom, np.inf), axis=1, kind="stable")[:, : cfg.top_n]
        picked = np.zeros_like(ok)
        np.put_along_axis(picked, order, True, axis=1)
        chosen[full] = picked & ok
    period = np.zeros(rows, dtype=np.intp)
    if len(starts):
        period[starts[1:]] = 1
        period = np.cumsum(period)
    mask = chosen[period] if rows else np.zeros((0, n), dtype=bool)
    mask.setflags(write=False)
    return Selection(cands, mask, tuple(starts.tolist()), period, tuple(labels))


def _liquid(
    market: Market, cols: list[int], b: npt.NDArray[np.intp], floor: float
) -> npt.NDArray[np.bool_]:
    """Starts x candidates passing the dollar-volume floor (all True without volume data)."""
    vol = market.frame.volume
    ok = np.ones((len(b), len(cols)), dtype=bool)
    if vol is None or floor <= 0:
        return ok
    # b >= momentum_days >= 21 (the caller's ``full``), so the window is inside the data.
    idx = b[:, None] + np.arange(-(DOLLAR_VOLUME_DAYS - 1), 1)[None, :]
    traded = vol[:, cols][idx] * market.close[:, cols][idx]
    seen = np.isfinite(traded)
    count = seen.sum(axis=1)
    with np.errstate(invalid="ignore"):
        mean = np.where(seen, traded, 0.0).sum(axis=1) / count
    # No volume at all in the window counts as no volume data: the floor is skipped.
    return np.where(count > 0, mean >= floor, True)
