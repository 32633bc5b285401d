"""A ledger whose risk figures are known by hand: ``alpha`` with 80 sessions of equity and two
marked positions, ``beta`` with 12 sessions (too few for a VaR)."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from invest.runtime.config import AccountConfig
from invest.runtime.domain import AccountState, Position
from invest.runtime.ledger import Ledger
from invest.runtime.ledger.engine_state import save_marks

#: alpha's 80 daily returns: quiet days and three losses, the worst -4% and the second -3%.
ALPHA_LOSSES = {11: -0.04, 40: -0.03, 66: -0.025}
ALPHA_RETURNS = [ALPHA_LOSSES.get(i, 0.002 if i % 3 else -0.001) for i in range(80)]
#: alpha's last equity; its holdings are AAA 10 x 120 = 1,200 (30%) and BBB 5 x 40 = 200 (5%).
ALPHA_LAST = 4_000.0
START = date(2024, 1, 2)


def _sessions(n: int) -> list[str]:
    days, d = [], START
    while len(days) < n:
        if d.weekday() < 5:
            days.append(d.isoformat())
        d += timedelta(days=1)
    return days


def curve(returns: list[float], last: float) -> list[float]:
    """The equity curve with these daily returns that ends at ``last``."""
    growth = math.prod(1 + r for r in returns)
    out = [last / growth]
    for r in returns:
        out.append(out[-1] * (1 + r))
    return out


def build(path: Path) -> Path:
    """Write the ledger at ``path``; returns ``path``."""
    led = Ledger(path, now=lambda: datetime(2024, 5, 1, 21, tzinfo=UTC))
    try:
        led.ensure_account("alpha", AccountConfig(universe=("AAA", "BBB"), cash=4_000.0))
        led.ensure_account("beta", AccountConfig(universe=("CCC",), cash=1_000.0))
        alpha = curve(ALPHA_RETURNS, ALPHA_LAST)
        beta = curve([0.01, -0.02] * 6, 1_000.0)
        with led.transaction():
            for day, value in zip(_sessions(len(alpha)), alpha, strict=True):
                led.record_equity("alpha", day, value, 2_600.0)
            for day, value in zip(_sessions(len(beta)), beta, strict=True):
                led.record_equity("beta", day, value, value)
            state = AccountState("alpha", Decimal("2600"))
            state.positions = {
                "AAA": Position("AAA", Decimal(10), Decimal(100), START),
                "BBB": Position("BBB", Decimal(5), Decimal(50), START),
            }
            led.save_state(state, _sessions(len(alpha))[-1])
            save_marks(led.conn, "alpha", _sessions(len(alpha))[-1], {"AAA": 120.0, "BBB": 40.0})
    finally:
        led.close()
    return path
