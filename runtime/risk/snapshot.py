"""An account's risk at a glance: VaR/CVaR, concentration and drawdown, for the screens.

``account_risk`` is a pure function of what the caller read (the ledger's equity
curve and position values; the held names' closes where market data is at hand):

* **realised** figures come from the account's own daily equity returns, the last
  ``lookback`` of them: what the book actually did, cash, fills and costs included;
* **forward** figures apply today's weights to the held names' trailing daily
  returns (``monitors.portfolio_returns``): what the book as it stands now would
  have done, the figure that moves the day a position is bought.

Each set needs ``min_days`` daily returns; with fewer it is None and its note says
how many it needs and has ("n/a (needs 60 sessions, has 12)"): never a figure from
a handful of days. VaR/CVaR follow ``monitors``: positive fractions of equity for a
loss, 1-day, historical (inverse empirical CDF) and parametric (normal).

``RiskSnapshot.as_dict``/``from_dict`` carry it over the control socket and in
``invest status --json``; ``risk_lines`` is the one text form that ``invest status``,
Telegram ``/risk`` and the TUI's risk panel show.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from invest.runtime.risk.monitors import (
    concentration,
    drawdown,
    historical_cvar,
    historical_var,
    parametric_cvar,
    parametric_var,
    portfolio_returns,
)

__all__ = [
    "LOOKBACK",
    "MIN_DAYS",
    "RiskSnapshot",
    "VarFigures",
    "account_risk",
    "closes_to_returns",
    "risk_lines",
]

#: Fewer daily returns than this give "n/a": the 99% tail of 60 days is one day already.
MIN_DAYS = 60
#: The trailing window of daily returns (about one trading year).
LOOKBACK = 252


@dataclass(frozen=True, slots=True)
class VarFigures:
    """1-day VaR and CVaR at 95% and 99%, historical and parametric, over ``days`` returns."""

    var95: float
    var99: float
    cvar95: float
    cvar99: float
    param_var95: float
    param_var99: float
    param_cvar95: float
    param_cvar99: float
    days: int

    @classmethod
    def of(cls, returns: np.ndarray[Any, np.dtype[np.float64]]) -> VarFigures:
        """The eight figures of one return series (at least 2 returns)."""
        return cls(
            var95=historical_var(returns, 0.95),
            var99=historical_var(returns, 0.99),
            cvar95=historical_cvar(returns, 0.95),
            cvar99=historical_cvar(returns, 0.99),
            param_var95=parametric_var(returns, 0.95),
            param_var99=parametric_var(returns, 0.99),
            param_cvar95=parametric_cvar(returns, 0.95),
            param_cvar99=parametric_cvar(returns, 0.99),
            days=int(returns.size),
        )

    def as_dict(self) -> dict[str, float | int]:
        """JSON-safe, rounded to a hundredth of a basis point."""
        out: dict[str, float | int] = {
            f.name: round(getattr(self, f.name), 6) for f in fields(self) if f.name != "days"
        }
        out["days"] = self.days
        return out


@dataclass(frozen=True, slots=True)
class RiskSnapshot:
    """The risk monitors of one account; see the module docstring for the two VaR sources."""

    realised: VarFigures | None
    """From the account's own daily equity returns; None with ``note`` set when too few."""
    forward: VarFigures | None
    """Today's weights on the held names' trailing returns; None with ``forward_note``."""
    largest: tuple[str, float] | None
    """The biggest position and its weight (a fraction of equity); None for an empty book."""
    top3: float
    hhi: float
    """Herfindahl index of the invested shares (1/n for n equal names; 0 for no position)."""
    drawdown: float | None
    """Current drawdown from the equity peak, <= 0; None without an equity row."""
    max_drawdown: float | None
    days: int
    """Daily equity returns the ledger holds for the account (all of them, not the window)."""
    note: str = ""
    """Why ``realised`` is None ("" when it is known)."""
    forward_note: str = ""
    """Why ``forward`` is None ("" when it is known)."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe (``invest status --json``, the control socket)."""
        return {
            "realised": self.realised.as_dict() if self.realised else None,
            "forward": self.forward.as_dict() if self.forward else None,
            "largest": (
                {"symbol": self.largest[0], "weight": round(self.largest[1], 6)}
                if self.largest
                else None
            ),
            "top3": round(self.top3, 6),
            "hhi": round(self.hhi, 6),
            "drawdown": round(self.drawdown, 6) if self.drawdown is not None else None,
            "max_drawdown": round(self.max_drawdown, 6) if self.max_drawdown is not None else None,
            "days": self.days,
            "note": self.note,
            "forward_note": self.forward_note,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RiskSnapshot:
        """The inverse of :meth:`as_dict` (figures as rounded there)."""
        largest = data.get("largest")
        return cls(
            realised=VarFigures(**data["realised"]) if data.get("realised") else None,
            forward=VarFigures(**data["forward"]) if data.get("forward") else None,
            largest=(str(largest["symbol"]), float(largest["weight"])) if largest else None,
            top3=float(data["top3"]),
            hhi=float(data["hhi"]),
            drawdown=data.get("drawdown"),
            max_drawdown=data.get("max_drawdown"),
            days=int(data["days"]),
            note=str(data.get("note") or ""),
            forward_note=str(data.get("forward_note") or ""),
        )


def _na(needed: int, has: int, what: str = "sessions") -> str:
    return f"n/a (needs {needed} {what}, has {has})"


def closes_to_returns(closes: Sequence[float]) -> list[float]:
    """Daily simple returns of a close series; a return touching a missing close is NaN."""
    arr = np.asarray(closes, dtype=np.float64)
    if arr.size < 2:
        return []
    with np.errstate(divide="ignore", invalid="ignore"):
        r = arr[1:] / arr[:-1] - 1.0
    r[~np.isfinite(r) | (arr[:-1] <= 0) | (arr[1:] <= 0)] = np.nan
    return [float(x) for x in r]


def _forward(
    weights: Mapping[str, float],
    asset_returns: Mapping[str, Sequence[float]] | None,
    lookback: int,
    min_days: int,
) -> tuple[VarFigures | None, str]:
    held = sorted(s for s, w in weights.items() if w > 0)
    if not held:
        return None, "n/a (no position)"
    if asset_returns is None:
        return None, "n/a (no market data here)"
    missing = [s for s in held if not asset_returns.get(s)]
    if missing:
        return None, f"n/a (no closes of {', '.join(missing)})"
    n = min(min(len(asset_returns[s]) for s in held), lookback)
    matrix = np.column_stack([np.asarray(asset_returns[s][-n:], dtype=np.float64) for s in held])
    # The common window ends at the last day every held name traded and starts after the
    # last day one of them has no return: a book's return needs all of its names.
    bad = np.flatnonzero(~np.all(np.isfinite(matrix), axis=1))
    if bad.size:
        matrix = matrix[bad[-1] + 1 :]
    if matrix.shape[0] < min_days:
        return None, _na(min_days, matrix.shape[0], "sessions of the held names' closes")
    w = np.array([weights[s] for s in held], dtype=np.float64)
    return VarFigures.of(portfolio_returns(w, matrix)), ""


def account_risk(
    equity: Sequence[float],
    weights: Mapping[str, float],
    asset_returns: Mapping[str, Sequence[float]] | None = None,
    *,
    lookback: int = LOOKBACK,
    min_days: int = MIN_DAYS,
) -> RiskSnapshot:
    """The risk monitors of one account.

    Args:
        equity: the account's daily equity, oldest first (the ledger's equity rows).
        weights: each position's value over today's equity (a fraction; cash left out).
        asset_returns: each held name's daily returns, oldest first, all ending on the same
            session (``closes_to_returns`` of the market's closes); None where the caller
            has no market data, which leaves the forward figures out.
        lookback: the trailing window of daily returns the VaR figures use.
        min_days: fewer daily returns than this give "n/a" and a note, not a figure.
    """
    if lookback < 2 or min_days < 2:
        raise ValueError(f"lookback and min_days must be >= 2, got {lookback} and {min_days}")
    eq = np.asarray(equity, dtype=np.float64)
    if eq.ndim != 1 or not np.all(np.isfinite(eq)) or np.any(eq <= 0):
        raise ValueError("equity must be a list of positive finite daily values, oldest first")
    days = max(int(eq.size) - 1, 0)
    realised, note = None, ""
    if days < min_days:
        note = _na(min_days, days)
    else:
        window = eq[-(min(days, lookback) + 1) :]
        realised = VarFigures.of(window[1:] / window[:-1] - 1.0)
    dd = drawdown(eq) if eq.size else None
    held = sorted(((s, w) for s, w in weights.items() if w > 0), key=lambda x: (-x[1], x[0]))
    _, top3, hhi = concentration([w for _, w in held]) if held else (0.0, 0.0, 0.0)
    forward, forward_note = _forward(weights, asset_returns, lookback, min_days)
    return RiskSnapshot(
        realised=realised,
        forward=forward,
        largest=held[0] if held else None,
        top3=top3,
        hhi=hhi,
        drawdown=dd[0] if dd else None,
        max_drawdown=dd[1] if dd else None,
        days=days,
        note=note,
        forward_note=forward_note,
    )


def _pct(x: float) -> str:
    """A loss share as "1.23%"; one that rounds to zero is "0.00%", never "-0.00%"."""
    return f"{x if round(x, 4) != 0 else 0.0:.2%}"


def _figures(label: str, f: VarFigures | None, note: str) -> str:
    if f is None:
        return f"{label} VaR99 {note}"
    return (
        f"{label} VaR99 {_pct(f.var99)} CVaR99 {_pct(f.cvar99)} "
        f"(normal {_pct(f.param_var99)}/{_pct(f.param_cvar99)}), {f.days} d"
    )


def risk_lines(snap: RiskSnapshot, *, forward: bool = True) -> list[str]:
    """The snapshot as short lines (a phone's width): VaR/CVaR 99% 1-day, then the book.

    ``forward=False`` leaves the forward line out where the caller never has market data.
    """
    lines = [_figures("realised", snap.realised, snap.note)]
    if forward:
        lines.append(_figures("forward", snap.forward, snap.forward_note))
    if snap.largest is None:
        book = "no position"
    else:
        sym, w = snap.largest
        book = f"largest {sym} {w:.1%}, top 3 {snap.top3:.1%}, HHI {snap.hhi:.3f}"
    if snap.drawdown is not None and snap.max_drawdown is not None:
        book += f"; DD {snap.drawdown:.1%} (max {snap.max_drawdown:.1%})"
    lines.append(book)
    return lines
