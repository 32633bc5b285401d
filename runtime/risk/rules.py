"""Hard risk rules as pure functions. Each returns what it changed and why.

The engine (``risk.engine``) applies them in a fixed order. Nothing here reads
a clock, a file or the network: the day and prices are passed in.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import numpy.typing as npt

from invest.runtime.config import RiskProfile
from invest.runtime.domain import Clamp, Position

_EPS = 1e-9


def exit_reason(
    pos: Position, price: float, day: date, risk: RiskProfile, avg: float | None = None
) -> tuple[str, str] | None:
    """The (rule, reason) that forces ``pos`` out at ``price`` on ``day``, if any.

    A level set on the position (for example by the LLM manager) overrides the profile's.
    ``avg`` may pass ``float(pos.avg_cost)`` when the caller has it already.
    """
    if avg is None:
        avg = float(pos.avg_cost)
    sl = pos.stop_loss_pct if pos.stop_loss_pct is not None else risk.stop_loss_pct
    if sl is not None and price <= avg * (1 - sl):
        return "stop_loss", f"{price:.2f} <= {avg * (1 - sl):.2f} (avg {avg:.2f} -{sl:.0%})"
    tp = pos.take_profit_pct if pos.take_profit_pct is not None else risk.take_profit_pct
    if tp is not None and price >= avg * (1 + tp):
        return "take_profit", f"{price:.2f} >= {avg * (1 + tp):.2f} (avg {avg:.2f} +{tp:.0%})"
    ts = pos.time_stop_days if pos.time_stop_days is not None else risk.time_stop_days
    if ts is not None and (held := (day - pos.opened).days) >= ts:
        return "time_stop", f"held {held} days >= {ts}"
    return None


def high_water(
    equity: float, invested: float, peak: float, engaged: bool, risk: RiskProfile
) -> float:
    """The equity peak the drawdown is measured from, after this cycle's equity.

    It follows new highs. When the brake is engaged and the book is flat (invested
    value below ``drawdown_flat_pct`` of equity) it re-bases to the current equity:
    the loss is realised and no position is left for the brake to protect. Cash cannot
    recover a drawdown, so without the re-base a book that a DEFENSE regime (or the
    stops) put in cash kept the brake latched for years and halved every later entry
    (1,107 sessions of the 1990-2022 sample backtest). A brake that is not engaged
    keeps its peak across flat spells, so losses on both sides of one still add up to
    the trigger. ``drawdown_flat_pct = 0`` keeps the old latch.
    """
    if engaged and equity > 0 and invested < risk.drawdown_flat_pct * equity:
        return equity
    return max(peak, equity)


def drawdown_brake(
    equity: float, peak: float, engaged: bool, risk: RiskProfile
) -> tuple[bool, float]:
    """Whether the drawdown brake is engaged, and the current drawdown.

    It engages at ``-drawdown_brake_pct`` from the equity peak (cash included, so
    realised losses count) and releases once the drawdown recovers to half that,
    or when the book goes flat (:func:`high_water` re-bases the peak).
    """
    dd = equity / peak - 1 if peak > 0 else 0.0
    # The tolerance keeps float noise from moving the thresholds: 80 / 100 - 1 is
    # -0.19999999999999996, which must still count as a -20% drawdown.
    if dd <= -risk.drawdown_brake_pct + _EPS:
        return True, dd
    if engaged and dd < -risk.drawdown_brake_pct / 2 - _EPS:
        return True, dd
    return False, dd


def cap_weights(
    targets: dict[str, float], risk: RiskProfile
) -> tuple[dict[str, float], list[Clamp]]:
    """Cap each weight at ``max_position_pct`` and the sum at ``1 - min_cash_pct``."""
    clamps: list[Clamp] = []
    out = {}
    cap = risk.max_position_pct + 1e-12
    for sym, w in targets.items():
        if w > cap:
            clamps.append(
                Clamp("max_position", sym, f"weight {w:.1%} capped at {risk.max_position_pct:.0%}")
            )
            w = risk.max_position_pct
        out[sym] = w
    total, room = sum(out.values()), 1 - risk.min_cash_pct
    if total > room + 1e-12:
        scale = room / total
        clamps.append(
            Clamp(
                "cash_reserve",
                "*",
                f"exposure {total:.1%} scaled to {room:.0%} (reserve {risk.min_cash_pct:.0%})",
            )
        )
        out = {s: w * scale for s, w in out.items()}
    return out, clamps


def liquidity_reason(
    price: float, dollar_volume: float | None, adjusted: bool, risk: RiskProfile
) -> str | None:
    """Why a buy fails the price or liquidity floor, or None when it passes.

    Back-adjusted closes understate old prices (AAPL "traded" at $0.26 in 1990
    on adjusted data), so the price floor is skipped on adjusted data; the
    dollar-volume floor is skipped when there is no volume.
    """
    if not adjusted and price < risk.min_price:
        return f"price {price:.2f} < {risk.min_price:.2f}"
    if (
        dollar_volume is not None
        and np.isfinite(dollar_volume)
        and dollar_volume < risk.min_dollar_volume
    ):
        return f"avg dollar volume {dollar_volume:,.0f} < {risk.min_dollar_volume:,.0f}"
    return None


def correlated_with(
    returns: npt.NDArray[np.float64], buy: int, held: list[int], threshold: float
) -> list[tuple[int, float]]:
    """Held columns whose return correlation with column ``buy`` exceeds ``threshold``.

    Pairwise-complete observations, at least 20 of them; a flat series has no correlation.
    """
    x = returns[:, buy : buy + 1]
    ys = returns[:, held]
    ok = np.isfinite(x) & np.isfinite(ys)  # (n, k): rows usable for each pair
    n = ok.sum(axis=0)
    xz, yz = np.where(ok, x, 0.0), np.where(ok, ys, 0.0)
    safe = np.maximum(n, 1)
    mx, my = xz.sum(axis=0) / safe, yz.sum(axis=0) / safe
    dx, dy = np.where(ok, x - mx, 0.0), np.where(ok, ys - my, 0.0)
    sxx, syy, sxy = (dx * dx).sum(axis=0), (dy * dy).sum(axis=0), (dx * dy).sum(axis=0)
    out = []
    for i, k in enumerate(held):
        if n[i] < 20 or sxx[i] <= 0 or syy[i] <= 0:
            continue
        c = float(sxy[i] / np.sqrt(sxx[i] * syy[i]))
        if c > threshold:
            out.append((k, c))
    return out
