"""The one fill and cost model, shared by the paper broker, the backtester and the trainer.

An order decided on day t fills at the next bar: at its open when the data has
opens, else at its close (the bundled sample has closes only, so fills there are
next-close: one full day of delay, the conservative choice). Slippage moves the
price against the order; commission is a fraction of notional with a minimum.
A buy never spends more cash than is there: its quantity is cut to fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from invest.runtime.config import FillSettings
from invest.runtime.domain import Side, floor_qty, money


@dataclass(frozen=True, slots=True)
class FillModel:
    """Prices and fees of simulated executions."""

    slippage_bps: float = 5.0
    commission_pct: float = 0.0
    min_commission: float = 0.0
    fractional: bool = True

    @classmethod
    def from_settings(cls, s: FillSettings) -> FillModel:
        """Build from the config section ``engine.fills``."""
        return cls(s.slippage_bps, s.commission_pct, s.min_commission, s.fractional)

    def price(self, side: Side, bar_price: float) -> float:
        """Execution price: the bar price moved against the order by the slippage."""
        slip = self.slippage_bps / 10_000
        return bar_price * (1 + slip) if side is Side.BUY else bar_price * (1 - slip)

    def fees(self, notional: float) -> Decimal:
        """Commission for an order of ``notional``."""
        if self.commission_pct == 0 and self.min_commission == 0:
            return Decimal(0)
        return money(max(notional * self.commission_pct, self.min_commission))

    def cost_fraction(self) -> float:
        """One-way cost as a fraction of notional (slippage plus commission), for the trainer."""
        return self.slippage_bps / 10_000 + self.commission_pct

    def affordable_qty(self, qty: Decimal, price: float, cash: Decimal) -> Decimal:
        """The largest quantity <= ``qty`` whose cost plus fees fits in ``cash``."""
        if cash <= 0:
            return Decimal(0)
        px = Decimal(str(price))
        need = money(qty * px) + self.fees(float(qty * px))
        if need <= cash:
            return qty
        # A notional n fits when n * (1 + commission) <= cash and n + min_commission <= cash.
        room = min(float(cash) / (1 + self.commission_pct), float(cash) - self.min_commission)
        budget = room - 0.01  # leave a cent for rounding
        fit = floor_qty(max(budget, 0.0) / price, self.fractional)
        while fit > 0 and money(fit * px) + self.fees(float(fit * px)) > cash:
            fit = floor_qty(float(fit) * 0.999, self.fractional)
        return min(fit, qty)
