"""Defined-risk option structures: their shapes, premiums, payoffs, bounds and collateral.

A :class:`Structure` is ONE unit of a strategy (a cash-secured put, a covered
call, a vertical spread, an iron condor, a butterfly): its legs carry the unit's
quantities (1, or 2 for a butterfly's body) and an order for ``n`` units
multiplies them. Every figure here is per share per unit unless it says money;
:meth:`Structure.collateral` is money per unit (times the multiplier).

Construction refuses what is not the named shape or not defined risk: every
short call is covered by a long call of the same expiry above it (or by shares,
for a covered call) and every short put is part of a spread or cash-secured.

Signs: a net premium above zero is a credit received, below zero a debit paid;
the profit at expiry is ``net_premium + value_at_expiry(spot)``.

The bounds are computed from the payoff itself, not per kind: the payoff is
piecewise linear with kinks at the strikes, so its extremes lie at spot 0, at a
strike, or at infinity (where its slope is the net number of calls). One rule
for all shapes leaves no per-kind formula to get a sign wrong (the seed's
credit-spread P&L had the wrong sign).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_UP, Decimal
from enum import StrEnum
from typing import Final

from invest.runtime.errors import ConfigError
from invest.runtime.options.contracts import Leg, OptionContract, Right
from invest.runtime.options.pricing import is_call

_CENT: Final = Decimal("0.01")


class StructureKind(StrEnum):
    """The defined-risk structures the option strategies may open."""

    CASH_SECURED_PUT = "cash_secured_put"
    COVERED_CALL = "covered_call"
    BULL_CALL = "bull_call"
    BEAR_PUT = "bear_put"
    BULL_PUT = "bull_put"
    BEAR_CALL = "bear_call"
    IRON_CONDOR = "iron_condor"
    BUTTERFLY = "butterfly"


_P, _C = Right.PUT, Right.CALL

#: Each kind's legs by ascending strike: (right, quantity per unit), and in words.
#: A butterfly's right is either; its pattern is checked against its first leg's.
_SHAPES: Final[dict[StructureKind, tuple[tuple[tuple[Right, int], ...], str]]] = {
    StructureKind.CASH_SECURED_PUT: (((_P, -1),), "one short put"),
    StructureKind.COVERED_CALL: (((_C, -1),), "one short call (covered by shares)"),
    StructureKind.BULL_CALL: (((_C, 1), (_C, -1)), "a long call below a short call"),
    StructureKind.BEAR_PUT: (((_P, -1), (_P, 1)), "a short put below a long put"),
    StructureKind.BULL_PUT: (((_P, 1), (_P, -1)), "a long put below a short put"),
    StructureKind.BEAR_CALL: (((_C, -1), (_C, 1)), "a short call below a long call"),
    StructureKind.IRON_CONDOR: (
        ((_P, 1), (_P, -1), (_C, -1), (_C, 1)),
        "long put < short put < short call < long call, with equal wings",
    ),
    StructureKind.BUTTERFLY: (
        ((_C, 1), (_C, -2), (_C, 1)),
        "+1 low, -2 middle, +1 high strike of one right, equally spaced",
    ),
}

_CREDIT: Final = frozenset(
    {
        StructureKind.CASH_SECURED_PUT,
        StructureKind.COVERED_CALL,
        StructureKind.BULL_PUT,
        StructureKind.BEAR_CALL,
        StructureKind.IRON_CONDOR,
    }
)


@dataclass(frozen=True, slots=True)
class Structure:
    """One unit of a defined-risk structure; the legs' quantities are per unit.

    Raises:
        ConfigError: on construction, when the legs are not ``kind``'s shape (rights,
            quantities, strike order, equal wings), mix underlyings, expiries or
            multipliers, or would leave a short option uncovered.
    """

    kind: StructureKind
    legs: tuple[Leg, ...]

    def __post_init__(self) -> None:
        _check_shape(self.kind, self.legs)

    @property
    def underlying(self) -> str:
        return self.legs[0].contract.underlying

    @property
    def multiplier(self) -> int:
        return self.legs[0].contract.multiplier

    @property
    def is_credit(self) -> bool:
        """True for the kinds opened for a credit (premium received)."""
        return self.kind in _CREDIT

    @property
    def shares_reserved(self) -> int:
        """Shares per unit that must be held and kept for the unit (a covered call's 100)."""
        if self.kind is StructureKind.COVERED_CALL:
            return self.multiplier * -self.legs[0].quantity
        return 0

    def net_premium(self, prices: Mapping[str, float]) -> float:
        """Premium per share per unit at ``prices`` (per share, by OCC symbol): > 0 a credit.

        Raises:
            ConfigError: a leg has no price, or a negative one.
        """
        total = 0.0
        for leg in self.legs:
            symbol = leg.contract.symbol
            if symbol not in prices:
                raise ConfigError(f"no price for {symbol}, a leg of this {self.kind}")
            value = float(prices[symbol])
            if not value >= 0:
                raise ConfigError(f"the price of {symbol} must be >= 0, got {value}")
            total -= leg.quantity * value
        return total

    def value_at_expiry(self, spot: float) -> float:
        """The legs' intrinsic value at expiry per share per unit, with signs (shares excluded)."""
        return sum(leg.quantity * leg.contract.intrinsic(spot) for leg in self.legs)

    def pnl_at_expiry(
        self, spot: float, net_premium: float, share_cost: float | None = None
    ) -> float:
        """Profit per share per unit at expiry; a covered call counts its shares at ``share_cost``."""
        pnl = net_premium + self.value_at_expiry(spot)
        if self.kind is StructureKind.COVERED_CALL:
            pnl += spot - self._share_cost(share_cost)
        return pnl

    def max_loss(self, net_premium: float, share_cost: float | None = None) -> float:
        """The largest loss at expiry per share per unit, as a positive number.

        Negative only when the premium guarantees a gain (a mispriced quote). A
        covered call's loss is its shares' fall to zero less the premium, so it
        needs ``share_cost``, what the covering shares cost per share.
        """
        low, _high = self._extremes(net_premium, share_cost)
        return -low

    def max_gain(self, net_premium: float, share_cost: float | None = None) -> float:
        """The largest gain at expiry per share per unit (``math.inf`` when unbounded)."""
        _low, high = self._extremes(net_premium, share_cost)
        return high

    def breakevens(self, net_premium: float, share_cost: float | None = None) -> tuple[float, ...]:
        """The spots at expiry where the profit is zero, ascending."""
        points = self._kinks()
        values = [self.pnl_at_expiry(s, net_premium, share_cost) for s in points]
        found: list[float] = []
        for i in range(len(points) - 1):
            (s0, v0), (s1, v1) = (points[i], values[i]), (points[i + 1], values[i + 1])
            if v0 == 0.0:
                found.append(s0)
            elif v0 * v1 < 0.0:
                found.append(s0 + (s1 - s0) * v0 / (v0 - v1))
        last, slope = values[-1], self._slope_above()
        if last == 0.0:
            found.append(points[-1])
        elif slope != 0 and (last < 0) == (slope > 0):
            found.append(points[-1] - last / slope)
        return tuple(found)

    def collateral(self, net_premium: float) -> Decimal:
        """Money per unit reserved when the order is placed.

        A cash-secured put reserves strike x multiplier (the premium is not
        counted); a covered call reserves no cash (:attr:`shares_reserved` shares
        instead); a spread, condor or butterfly reserves its max loss x multiplier,
        rounded up to the cent.
        """
        if self.kind is StructureKind.COVERED_CALL:
            return Decimal(0)
        if self.kind is StructureKind.CASH_SECURED_PUT:
            leg = self.legs[0]
            return leg.contract.strike * leg.contract.multiplier * -leg.quantity
        loss = max(self.max_loss(net_premium), 0.0) * self.multiplier
        return Decimal(repr(loss)).quantize(_CENT, rounding=ROUND_UP)

    def _share_cost(self, share_cost: float | None) -> float:
        if share_cost is None or not share_cost >= 0:
            raise ConfigError(
                "a covered call's profit and loss depend on what its shares cost: "
                f"pass share_cost (per share, >= 0), got {share_cost}"
            )
        return share_cost

    def _kinks(self) -> list[float]:
        """Spot 0 and the strikes, ascending: where the payoff may change slope."""
        return [0.0, *sorted({float(leg.contract.strike) for leg in self.legs})]

    def _slope_above(self) -> float:
        """The profit's slope in spot above the highest strike (per share per unit)."""
        calls = sum(leg.quantity for leg in self.legs if leg.contract.right is Right.CALL)
        return calls + (1.0 if self.kind is StructureKind.COVERED_CALL else 0.0)

    def _extremes(self, net_premium: float, share_cost: float | None) -> tuple[float, float]:
        values = [self.pnl_at_expiry(s, net_premium, share_cost) for s in self._kinks()]
        low, high = min(values), max(values)
        slope = self._slope_above()
        if slope > 0:
            high = math.inf
        elif slope < 0:  # cannot happen for a valid shape: every short call is covered
            low = -math.inf
        return low, high


def cash_secured_put(contract: OptionContract) -> Structure:
    """Sell one put, reserving strike x multiplier in cash."""
    return Structure(StructureKind.CASH_SECURED_PUT, (Leg(contract, -1),))


def covered_call(contract: OptionContract) -> Structure:
    """Sell one call against ``multiplier`` shares already held."""
    return Structure(StructureKind.COVERED_CALL, (Leg(contract, -1),))


def bull_call(long_call: OptionContract, short_call: OptionContract) -> Structure:
    """Debit call spread: buy the lower strike, sell the higher."""
    return Structure(StructureKind.BULL_CALL, (Leg(long_call, 1), Leg(short_call, -1)))


def bear_put(long_put: OptionContract, short_put: OptionContract) -> Structure:
    """Debit put spread: buy the higher strike, sell the lower."""
    return Structure(StructureKind.BEAR_PUT, (Leg(short_put, -1), Leg(long_put, 1)))


def bull_put(short_put: OptionContract, long_put: OptionContract) -> Structure:
    """Credit put spread: sell the higher strike, buy the lower."""
    return Structure(StructureKind.BULL_PUT, (Leg(long_put, 1), Leg(short_put, -1)))


def bear_call(short_call: OptionContract, long_call: OptionContract) -> Structure:
    """Credit call spread: sell the lower strike, buy the higher."""
    return Structure(StructureKind.BEAR_CALL, (Leg(short_call, -1), Leg(long_call, 1)))


def iron_condor(
    long_put: OptionContract,
    short_put: OptionContract,
    short_call: OptionContract,
    long_call: OptionContract,
) -> Structure:
    """A bull put spread below a bear call spread, equal wings: a credit for a range."""
    legs = (Leg(long_put, 1), Leg(short_put, -1), Leg(short_call, -1), Leg(long_call, 1))
    return Structure(StructureKind.IRON_CONDOR, legs)


def butterfly(
    low: OptionContract, mid: OptionContract, high: OptionContract, right: Right | str
) -> Structure:
    """Buy the wings, sell two of the body, all of ``right``, strikes equally spaced."""
    expected = Right.CALL if is_call(right) else Right.PUT
    for contract in (low, mid, high):
        if contract.right is not expected:
            raise ConfigError(
                f"a {expected} butterfly cannot hold {contract.symbol} ({contract.right})"
            )
    return Structure(StructureKind.BUTTERFLY, (Leg(low, 1), Leg(mid, -2), Leg(high, 1)))


def _describe(legs: tuple[Leg, ...]) -> str:
    return ", ".join(
        f"{leg.quantity:+d} {leg.contract.right} {leg.contract.strike}" for leg in legs
    )


def _check_shape(kind: StructureKind, legs: tuple[Leg, ...]) -> None:
    """Refuse legs that are not ``kind``'s shape; the message names what to fix."""
    if not legs:
        raise ConfigError(f"a {kind} needs legs")
    first = legs[0].contract
    for leg in legs[1:]:
        other = leg.contract
        if other.underlying != first.underlying:
            raise ConfigError(
                f"a {kind} has one underlying: got {first.underlying} and {other.underlying}"
            )
        if other.expiry != first.expiry:
            raise ConfigError(f"a {kind} has one expiry: got {first.expiry} and {other.expiry}")
        if other.multiplier != first.multiplier:
            raise ConfigError(
                f"a {kind} has one multiplier: got {first.multiplier} and {other.multiplier}"
            )
    pattern, words = _SHAPES[kind]
    if kind is StructureKind.BUTTERFLY:
        pattern = tuple((first.right, quantity) for _right, quantity in pattern)
    ordered = tuple(sorted(legs, key=lambda leg: (leg.contract.strike, leg.contract.right is _C)))
    strikes = [leg.contract.strike for leg in ordered]
    got = tuple((leg.contract.right, leg.quantity) for leg in ordered)
    if got != pattern or len(set(strikes)) != len(strikes):
        raise ConfigError(
            f"a {kind} is {words} of one expiry (short options uncovered otherwise are undefined "
            f"risk); got {_describe(legs)}"
        )
    if kind in (StructureKind.IRON_CONDOR, StructureKind.BUTTERFLY):
        low_wing = strikes[1] - strikes[0]
        high_wing = strikes[-1] - strikes[-2]
        if low_wing != high_wing:
            raise ConfigError(
                f"a {kind} needs equal wings: got {low_wing} below and {high_wing} above "
                f"({_describe(ordered)})"
            )
