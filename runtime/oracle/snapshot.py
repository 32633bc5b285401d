"""Point-in-time portfolio snapshot for LLM prompts (gate, manager)."""

from __future__ import annotations

import math
from decimal import Decimal

from invest.runtime.domain import AccountState
from invest.runtime.market import Market
from invest.runtime.oracle.context import PortfolioSnapshot, PositionSnapshot


def portfolio_snapshot(market: Market, t: int, state: AccountState) -> PortfolioSnapshot:
    """Cash, equity, drawdown and each holding at row ``t`` (a missing price counts at cost)."""
    prices = {}
    for s, p in state.positions.items():
        px = market.price(s, t) if s in market.col else math.nan
        prices[s] = px if math.isfinite(px) else float(p.avg_cost)
    equity = state.equity(prices)
    day = market.day(t)
    positions = []
    for s, p in sorted(state.positions.items()):
        value = float(p.quantity) * prices[s]
        positions.append(
            PositionSnapshot(
                s,
                Decimal(str(round(value, 2))),
                value / equity if equity > 0 else 0.0,
                prices[s] / float(p.avg_cost) - 1 if p.avg_cost > 0 else 0.0,
                (day - p.opened).days,
            )
        )
    dd = equity / state.peak_equity - 1 if state.peak_equity > 0 else 0.0
    return PortfolioSnapshot(
        Decimal(str(round(equity, 2))), state.cash, tuple(positions), round(dd, 4)
    )
