"""What the cycle tells the oracle: a point-in-time snapshot of market and portfolio.

:func:`cycle_context` builds one :class:`OracleContext` per account and cycle (gate
and manager): symbols, portfolio, news, the market context (VIX, 10-year yield,
dollar index, lagged one session: :mod:`invest.runtime.context`) and the earnings
outlook at row ``t``. Everything in it must be known at ``cycle_time``; the prompts
anonymise it further. :func:`context_block` renders the market context and the
earnings outlook for the gate's and the manager's pass-1 prompts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

import numpy as np

from invest.runtime.config.context import ContextConfig
from invest.runtime.config.mandate import CASH, MandateConfig, bucket_weights
from invest.runtime.config.oracle import NewsConfig
from invest.runtime.context import MarketContext, context_table
from invest.runtime.domain import AccountState
from invest.runtime.market import Market
from invest.runtime.options.earnings import EarningsCalendar
from invest.runtime.oracle.anonymise import mask_dates
from invest.runtime.oracle.news.items import NewsDigest
from invest.runtime.oracle.news.sources import NewsSource, gather_news


def cycle_time(day: date) -> datetime:
    """The time a cycle on ``day`` sees: after the close (21:00 UTC is after every NYSE
    close), so news of the session counts."""
    return datetime.combine(day, time(21, 0), tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class SymbolSnapshot:
    """Recent prices and indicators of one symbol.

    Attributes:
        symbol: the ticker.
        closes: daily closes, oldest first, the last one at or before the cycle time.
        indicators: unitless features (``rsi_14``, ``sma200_gap``, ``vol_20``...).
        sector: sector name, if known.
    """

    symbol: str
    closes: tuple[float, ...] = ()
    indicators: Mapping[str, float] = field(default_factory=dict)
    sector: str = ""


@dataclass(frozen=True, slots=True)
class PositionSnapshot:
    """One holding, without prices that would date it.

    Attributes:
        symbol: the ticker.
        value: market value in USD.
        weight: share of equity (0..1).
        pnl_pct: unrealised profit or loss as a fraction of cost.
        days_held: calendar days since opening.
    """

    symbol: str
    value: Decimal
    weight: float
    pnl_pct: float
    days_held: int


@dataclass(frozen=True, slots=True)
class PortfolioSnapshot:
    """Cash, equity and holdings of the account."""

    equity: Decimal
    cash: Decimal
    positions: tuple[PositionSnapshot, ...] = ()
    drawdown_pct: float = 0.0

    @property
    def held(self) -> frozenset[str]:
        """Symbols in the portfolio."""
        return frozenset(p.symbol for p in self.positions)


@dataclass(frozen=True, slots=True)
class MandateSnapshot:
    """The account's mandate and where the book stands against it.

    Attributes:
        targets: asset class -> target share of equity, ``cash`` included.
        weights: asset class -> current share of equity (cash: what the holdings leave).
        band: how far a bucket may drift from its target.
        classes: symbol -> asset class, for the symbols shown and held.
    """

    targets: Mapping[str, float]
    weights: Mapping[str, float]
    band: float
    classes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PreviousDecision:
    """An earlier oracle decision with how it has done since.

    Attributes:
        symbol: the ticker.
        action: what was decided (BUY, SELL, HOLD, or a gate verdict).
        days_ago: calendar days before this cycle.
        pnl_pct: live result of the decision as a fraction.
        thesis: the reason given at the time.
    """

    symbol: str
    action: str
    days_ago: int
    pnl_pct: float | None = None
    thesis: str = ""


@dataclass(frozen=True, slots=True)
class EarningsOutlook:
    """Reports within ``days`` calendar days of the cycle for the symbols in play.

    Attributes:
        days: the window, in calendar days from the cycle's day (included).
        upcoming: ``(symbol, report day)`` inside the window, by day then symbol.
        unknown: symbols the calendar cannot answer for (never read as "no report").
        note: why everything is unknown (no calendar), else empty.
    """

    days: int
    upcoming: tuple[tuple[str, date], ...] = ()
    unknown: tuple[str, ...] = ()
    note: str = ""


def earnings_outlook(
    calendar: EarningsCalendar | None, symbols: Sequence[str], day: date, days: int
) -> EarningsOutlook:
    """Which of ``symbols`` report within ``days`` of ``day``, and which are unknown."""
    wanted = sorted(set(symbols))
    if calendar is None:
        return EarningsOutlook(days, (), tuple(wanted), "no earnings calendar configured")
    upcoming, unknown = [], []
    for s in wanted:
        nxt = calendar.next_earnings(s, day)
        if nxt is not None and (nxt - day).days <= days:
            upcoming.append((s, nxt))  # a listed report in the window counts, known or not
        elif not calendar.known(s, day):
            unknown.append(s)
    upcoming.sort(key=lambda x: (x[1], x[0]))
    return EarningsOutlook(days, tuple(upcoming), tuple(unknown))


@dataclass(frozen=True, slots=True)
class OracleContext:
    """Everything the oracle may know at ``cycle_time``.

    Attributes:
        cycle_time: the cycle's time (aware); nothing after it may appear here.
        regime: the deterministic regime of the cycle (ATTACK/DEFENSE).
        symbols: snapshots of the symbols in play (proposed, held, universe).
        portfolio: the account, or None when unknown.
        news: headlines; filtered again to ``cycle_time`` before use.
        previous: earlier decisions with live P&L.
        mandate: the account's buckets by asset class and their current weights, or None.
        market: VIX, 10-year yield and dollar index lagged one session; None: not asked.
        earnings: reports due soon for the symbols in play; None: not asked.
    """

    cycle_time: datetime
    regime: str = ""
    symbols: Mapping[str, SymbolSnapshot] = field(default_factory=dict)
    portfolio: PortfolioSnapshot | None = None
    news: NewsDigest = field(default_factory=NewsDigest)
    previous: tuple[PreviousDecision, ...] = ()
    mandate: MandateSnapshot | None = None
    market: MarketContext | None = None
    earnings: EarningsOutlook | None = None

    @property
    def held(self) -> frozenset[str]:
        """Symbols in the portfolio."""
        return frozenset() if self.portfolio is None else self.portfolio.held


def context_block(context: OracleContext, anonymise: bool) -> dict[str, Any]:
    """The market context and earnings lines of a prompt (``anonymise``: no calendar date).

    ``"VIX 18.2 (2016-06-14 close)"``, ``"10-year yield: not available (why)"``,
    ``"earnings in the next 7 days: AAPL 2016-07-26"``; anonymised, a date becomes its
    distance from the cycle (``day -1 close``, ``AAPL in 3 days``).
    """
    today = context.cycle_time.date()
    lines: list[str] = []
    if context.market is None:
        lines.append("market context: not available (not provided to this prompt)")
    else:
        for r in context.market.readings():
            if r.known and r.asof is not None and anonymise:
                value = r.fmt.format(r.value)
                lines.append(f"{r.label} {value} (day -{(today - r.asof).days} close)")
            else:
                lines.append(mask_dates(r.text()) if anonymise else r.text())
    return {"market_context": lines, "earnings": _earnings_line(context.earnings, today, anonymise)}


def _earnings_line(e: EarningsOutlook | None, today: date, anonymise: bool) -> str:
    if e is None:
        return "earnings: unknown (not provided to this prompt)"
    head = f"earnings in the next {e.days} days: "
    if e.note:
        return head + f"unknown ({e.note})"
    due = ", ".join(
        f"{s} in {(d - today).days} days" if anonymise else f"{s} {d.isoformat()}"
        for s, d in e.upcoming
    )
    text = head + (due or "none known")
    if e.unknown:
        text += f"; unknown for {', '.join(e.unknown)}"
    return text


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


def mandate_snapshot(
    portfolio: PortfolioSnapshot,
    mandate: MandateConfig,
    classes: Mapping[str, str],
    symbols: Sequence[str] = (),
) -> MandateSnapshot:
    """``mandate`` with the bucket weights of ``portfolio``; the classes of ``symbols`` and
    of the holdings (a symbol without one is left out)."""
    weights = {p.symbol: p.weight for p in portfolio.positions}
    now = bucket_weights(weights, classes, mandate)
    if portfolio.equity > 0:  # cash from the account itself: a missing price counts at cost
        now[CASH] = float(portfolio.cash / portfolio.equity)
    named = sorted({*symbols, *weights})
    return MandateSnapshot(
        dict(mandate.buckets),
        {c: round(w, 4) for c, w in now.items()},
        mandate.band,
        {s: classes[s] for s in named if s in classes},
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
    mandate: MandateConfig | None = None,
    asset_classes: Mapping[str, str] | None = None,
    context: ContextConfig | None = None,
    calendar: EarningsCalendar | None = None,
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
        mandate: the account's mandate, shown with its current bucket weights.
        asset_classes: symbol -> asset class (the config's ``[assets]``), for the mandate.
        context: the ``[context]`` section (default: the bundled sample's VIX).
        calendar: the earnings calendar (None: every symbol's earnings unknown).
    """
    at = cycle_time(market.day(t))
    cfg = context or ContextConfig()
    in_play = sorted({*symbols, *state.positions})
    digest = (
        gather_news(sources, symbols if news_symbols is None else news_symbols, now=at, config=news)
        if sources
        else NewsDigest.empty("no news sources configured")
    )
    portfolio = portfolio_snapshot(market, t, state)
    return OracleContext(
        cycle_time=at,
        regime=regime,
        symbols=symbol_snapshots(market, t, symbols, indicators),
        portfolio=portfolio,
        news=digest,
        previous=previous,
        mandate=None
        if mandate is None
        else mandate_snapshot(portfolio, mandate, asset_classes or {}, symbols),
        market=context_table(market, cfg).at(t),
        earnings=earnings_outlook(calendar, in_play, market.day(t), cfg.earnings_days),
    )
