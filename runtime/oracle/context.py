"""What the cycle tells the oracle: a point-in-time snapshot of market and portfolio.

The cycle builds one :class:`OracleContext` per account and cycle. Everything
in it must be known at ``cycle_time``; the prompts anonymise it further.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal

from invest.runtime.oracle.news import NewsDigest


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
class OracleContext:
    """Everything the oracle may know at ``cycle_time``.

    Attributes:
        cycle_time: the cycle's time (aware); nothing after it may appear here.
        regime: the deterministic regime of the cycle (ATTACK/DEFENSE).
        symbols: snapshots of the symbols in play (proposed, held, universe).
        portfolio: the account, or None when unknown.
        news: headlines; filtered again to ``cycle_time`` before use.
        previous: earlier decisions with live P&L.
    """

    cycle_time: datetime
    regime: str = ""
    symbols: Mapping[str, SymbolSnapshot] = field(default_factory=dict)
    portfolio: PortfolioSnapshot | None = None
    news: NewsDigest = field(default_factory=NewsDigest)
    previous: tuple[PreviousDecision, ...] = ()

    @property
    def held(self) -> frozenset[str]:
        """Symbols in the portfolio."""
        return frozenset() if self.portfolio is None else self.portfolio.held
