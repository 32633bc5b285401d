"""Point-in-time context for LLM prompts (gate, manager): symbols, portfolio and news at row ``t``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal

import numpy as np

from invest.runtime.config.oracle import NewsConfig
from invest.runtime.domain import AccountState
from invest.runtime.market import Market
from invest.runtime.oracle.context import (
    OracleContext,
    PortfolioSnapshot,
    PositionSnapshot,
    PreviousDecision,
    SymbolSnapshot,
    cycle_time,
)
from invest.runtime.oracle.news import NewsDigest
from invest.runtime.oracle.news_sources import NewsSource, gather_news

#: Closes per symbol in a context (the prompts show the last ``price_days`` of them).
PRICE_DAYS = 60


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


def symbol_snapshots(
    market: Market, t: int, symbols: Sequence[str], indicators: Sequence[str]
) -> dict[str, SymbolSnapshot]:
    """Recent closes and the named shared features (rounded, finite only) of each symbol."""
    fs = market.features()
    cols = {n: fs.index(n) for n in indicators}
    snaps = {}
    for s in symbols:
        j = market.col[s]
        closes = market.mark[max(0, t - PRICE_DAYS + 1) : t + 1, j]
        row = fs.values[t, j]
        ind = {n: round(float(row[k]), 4) for n, k in cols.items() if np.isfinite(row[k])}
        snaps[s] = SymbolSnapshot(s, tuple(float(c) for c in closes if np.isfinite(c)), ind)
    return snaps


def cycle_context(
    market: Market,
    t: int,
    state: AccountState,
    symbols: Sequence[str],
    *,
    indicators: Sequence[str],
    regime: str = "",
    sources: Sequence[NewsSource] = (),
    news: NewsConfig | None = None,
    news_symbols: Sequence[str] | None = None,
    previous: tuple[PreviousDecision, ...] = (),
) -> OracleContext:
    """What the oracle may know at row ``t``.

    Args:
        market: the run's market.
        t: the cycle's row.
        state: the account.
        symbols: symbols shown with prices and ``indicators``.
        indicators: shared feature names shown per symbol.
        regime: the deterministic regime of the cycle.
        sources: news sources (none: the digest says so).
        news: news filters.
        news_symbols: symbols whose headlines are gathered (default: ``symbols``).
        previous: earlier decisions with live P&L.
    """
    at = cycle_time(market.day(t))
    digest = (
        gather_news(sources, symbols if news_symbols is None else news_symbols, now=at, config=news)
        if sources
        else NewsDigest.empty("no news sources configured")
    )
    return OracleContext(
        cycle_time=at,
        regime=regime,
        symbols=symbol_snapshots(market, t, symbols, indicators),
        portfolio=portfolio_snapshot(market, t, state),
        news=digest,
        previous=previous,
    )
