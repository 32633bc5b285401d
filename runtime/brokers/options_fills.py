"""Paper fills of option structures from a chain: each leg at mid +- a fraction of its half-spread.

Buys pay above the mid, sells receive below it, so a round trip always costs the
spread fraction on every leg; prices are rounded to the cent against the order
(buys up, sells down). The fee is per contract per leg. A leg that the chain does
not quote, or quotes with no ask, is refused: a paper fill never invents a contract
or a price.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from invest.runtime.config.options_risk import OptionsRiskConfig
from invest.runtime.domain import money
from invest.runtime.errors import DataUnavailableError
from invest.runtime.options.book import LegFill, OptionAction, OptionFill
from invest.runtime.options.chain import OptionChain, OptionQuote
from invest.runtime.options.structures import Structure

__all__ = ["OptionFillModel"]

_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class OptionFillModel:
    """Prices and fees of simulated option executions."""

    spread_fraction: float = 0.5
    fee_per_contract: float = 0.65

    def __post_init__(self) -> None:
        if not 0 <= self.spread_fraction <= 1:
            raise ValueError(f"spread_fraction must be in [0, 1], got {self.spread_fraction}")
        if not self.fee_per_contract >= 0:
            raise ValueError(f"fee_per_contract must be >= 0, got {self.fee_per_contract}")

    @classmethod
    def from_config(cls, cfg: OptionsRiskConfig) -> OptionFillModel:
        """Build from the options risk settings (``fill_spread_fraction``, ``fee_per_contract``)."""
        return cls(cfg.fill_spread_fraction, cfg.fee_per_contract)

    def price(self, quote: OptionQuote, buying: bool) -> float:
        """Per-share price of one contract of ``quote``: mid +- fraction x half-spread, in cents.

        Raises:
            DataUnavailableError: the quote has no ask, or a bid above its ask.
        """
        symbol = quote.contract.symbol
        if not quote.ask > 0:
            raise DataUnavailableError(f"{symbol} has no ask in the chain: no market to fill at")
        bid = max(quote.bid, 0.0)
        if bid > quote.ask:
            raise DataUnavailableError(
                f"{symbol} is quoted crossed (bid {quote.bid} > ask {quote.ask}): no fill"
            )
        # In decimals: 0.80 + 0.5 x 0.10 is 0.8500000000000001 in floats, a cent more once rounded up.
        d_bid, d_ask = Decimal(repr(bid)), Decimal(repr(quote.ask))
        mid, half = (d_bid + d_ask) / 2, (d_ask - d_bid) / 2
        move = Decimal(repr(self.spread_fraction)) * half
        raw = mid + move if buying else mid - move
        rounding = ROUND_CEILING if buying else ROUND_FLOOR
        return float(max(raw, Decimal(0)).quantize(_CENT, rounding=rounding))

    def fees(self, contracts: int) -> Decimal:
        """Commission for ``contracts`` contracts in all (every leg counts)."""
        return money(self.fee_per_contract * contracts)

    def fill(
        self,
        chain: OptionChain,
        structure: Structure,
        contracts: int,
        *,
        action: OptionAction,
        client_order_id: str,
        account: str,
        position_id: str,
        day: date,
        reason: str = "",
    ) -> OptionFill:
        """Fill ``contracts`` units of ``structure`` from ``chain``: opened, or closed (legs reversed).

        Raises:
            DataUnavailableError: the chain is of another underlying, or a leg is not
                quoted (or has no ask) there.
            ValueError: ``contracts`` <= 0, or an action other than OPEN or CLOSE.
        """
        if contracts <= 0:
            raise ValueError(f"a fill needs contracts > 0, got {contracts}")
        if action not in (OptionAction.OPEN, OptionAction.CLOSE):
            raise ValueError(f"the paper broker fills OPEN and CLOSE orders, not {action}")
        if chain.underlying != structure.underlying:
            raise DataUnavailableError(
                f"a {structure.underlying} order cannot fill from the {chain.underlying} chain"
            )
        sign = 1 if action is OptionAction.OPEN else -1
        legs: list[LegFill] = []
        for leg in structure.legs:
            quote = chain.quote(leg.contract)
            if quote is None:
                raise DataUnavailableError(
                    f"{leg.contract.symbol} is not quoted in the {chain.source} chain of "
                    f"{chain.underlying} as of {chain.as_of}: the order cannot fill"
                )
            qty = sign * leg.quantity * contracts
            legs.append(LegFill(leg.contract.symbol, qty, self.price(quote, buying=qty > 0)))
        fees = self.fees(sum(abs(leg.contracts) for leg in legs))
        return OptionFill(
            client_order_id, account, position_id, action, tuple(legs), fees, day, reason
        )
