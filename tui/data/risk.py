"""The account screen's risk panel: the account's ``RiskSnapshot`` from what the screen read.

The realised figures come from the ledger's equity curve; the forward ones from today's
weights (each position at the mark the positions table shows, its average cost where
there is none) on the held names' trailing daily returns, read from the same offline
closes as the benchmark (none for an online source, and the panel says so).
numpy comes with ``risk.snapshot``: this runs in the screen's worker thread, never at
start-up.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from datetime import date, timedelta
from typing import TYPE_CHECKING

from invest.runtime.ledger.views import AccountDetail

from .market import Prices

if TYPE_CHECKING:
    from invest.runtime.risk.snapshot import RiskSnapshot

#: Calendar days of closes read before the last session: a year of sessions and some spare.
HISTORY_DAYS = 380


def history_start(first_day: str, last_day: str) -> str:
    """The first day of closes to read: the account's first day, or a year before its last."""
    year_back = (date.fromisoformat(last_day) - timedelta(days=HISTORY_DAYS)).isoformat()
    return min(first_day, year_back)


def held_returns(
    prices: Prices | None, symbols: list[str], as_of: str
) -> dict[str, list[float]] | None:
    """Daily returns of ``symbols`` up to ``as_of`` (None without prices)."""
    if prices is None:
        return None
    from invest.runtime.risk.snapshot import closes_to_returns

    end = bisect.bisect_right(prices.days, as_of)
    return {s: closes_to_returns(prices.closes[s][:end]) for s in symbols if s in prices.closes}


def account_snapshot(
    detail: AccountDetail, marks: Mapping[str, float], prices: Prices | None
) -> RiskSnapshot | None:
    """The account's risk snapshot; None when its equity rows cannot be measured (<= 0)."""
    from invest.runtime.risk.snapshot import account_risk

    equity = detail.summary.equity
    weights = (
        {p.symbol: marks.get(p.symbol, p.avg_cost) * p.quantity / equity for p in detail.positions}
        if equity and equity > 0
        else {}
    )
    as_of = detail.summary.last_day or ""
    returns = held_returns(prices, sorted(weights), as_of)
    try:
        return account_risk([v for _, v in detail.curve], weights, returns)
    except ValueError:
        return None
