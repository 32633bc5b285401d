"""The options book: open multi-leg positions, the cash and shares they reserve, and expiry.

Pure: the book changes an :class:`~invest.runtime.domain.AccountState` (cash, and
shares at assignment) and its own positions, and reads no clock, file or network.

Money. Every option cash flow is ``-sum(contracts x price) x multiplier`` over a
fill's legs (a sale brings cash in), in ``Decimal`` cents. A position's realised
P&L is ``premium_in - premium_out + settlement - fees``; nothing else enters it.

Reserve. An open keeps back, until the position is closed or settled:
- a credit structure: its collateral (:meth:`Structure.collateral`: strike x 100 for a
  cash-secured put, the max loss for a spread) PLUS the credit received, so that a
  buy-back or a settlement is always paid from the reserve and never from cash another
  position counts on (the credit is cash, but a spread's settlement can take the whole
  width, which is max loss + credit); a covered call reserves its shares instead;
- a debit structure: nothing beyond the fees (its loss was paid at the open; its
  settlement never takes cash), although :meth:`Structure.collateral` names its max
  loss (what a broker's buying power shows), which the position records;
- every structure: its opening fees again, as what its closing order will cost.
An open is refused when ``cash - reserved`` would go below zero after it.

Expiry (:meth:`OptionBook.settle`). A cash-secured put in the money is assigned: the
shares are bought at the strike with the reserved cash. A covered call in the money is
called away: the reserved shares are sold at the strike. Those two settle nothing in
the option's P&L: the shares enter (or leave) the account at the strike, so the stock's
own P&L carries the difference to the spot, counted once. A spread still open at
expiry is settled in cash at its intrinsic value, never into shares (see ``settle``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from invest.runtime.domain import AccountState, Fill, Side, money
from invest.runtime.options.contracts import Right
from invest.runtime.options.structures import Structure, StructureKind

__all__ = [
    "LegFill",
    "OptionAction",
    "OptionBook",
    "OptionFill",
    "OptionPosition",
    "PositionPnl",
    "Settlement",
    "cash_need",
    "leg_cash",
    "option_fill_id",
    "position_id",
    "reserve",
    "unrealised",
    "worst_settlement",
]

_ZERO = Decimal(0)


class OptionAction(StrEnum):
    """What an option fill does to its position."""

    OPEN = "open"
    CLOSE = "close"
    EXPIRE = "expire"  # settled at expiry in cash (worthless, or a spread at intrinsic)
    ASSIGN = "assign"  # settled at expiry into shares (a put assigned, a call called away)


@dataclass(frozen=True, slots=True)
class LegFill:
    """One leg of an option fill: ``contracts`` bought (> 0) or sold (< 0) at ``price`` per share."""

    symbol: str
    contracts: int
    price: float


@dataclass(frozen=True, slots=True)
class OptionFill:
    """An execution of a whole structure (all its legs as one order), or its settlement."""

    client_order_id: str
    account: str
    position_id: str
    action: OptionAction
    legs: tuple[LegFill, ...]
    fees: Decimal
    day: date
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Settlement:
    """What :meth:`OptionBook.settle` did to one position: its fill and the stock fill, if any."""

    fill: OptionFill
    stock: Fill | None = None


@dataclass(frozen=True, slots=True)
class PositionPnl:
    """A position's P&L in money, by source; ``realised`` is None while it is open."""

    premium_in: Decimal
    premium_out: Decimal
    settlement: Decimal
    fees: Decimal
    realised: Decimal | None


@dataclass(slots=True)
class OptionPosition:
    """One open (or closed) structure of ``contracts`` units.

    Mutable on purpose, like :class:`~invest.runtime.domain.Position`: only the
    :class:`OptionBook` changes it, by applying fills.

    Attributes:
        id: :func:`position_id` of (account, cycle, structure): a retry never opens twice.
        structure: the structure of one unit.
        contracts: units held (> 0).
        opened: the session of the opening fill.
        open_premium: net premium per share per unit at the open (> 0 credit, < 0 debit).
        collateral: :meth:`Structure.collateral` x contracts (the broker's view).
        reserved: cash the book keeps back for it (see the module docstring).
        shares_reserved: shares of the underlying kept for it (a covered call's).
        premium_in, premium_out: option cash received and paid, open and close together.
        settlement: cash from a cash settlement at expiry (+ received, - paid).
        fees: every fee paid for it.
        closed: the session it was closed or settled; None while open.
        outcome: how it ended (an :class:`OptionAction` other than OPEN), None while open.
    """

    id: str
    account: str
    structure: Structure
    contracts: int
    opened: date
    open_premium: float
    collateral: Decimal
    reserved: Decimal
    shares_reserved: int
    premium_in: Decimal = _ZERO
    premium_out: Decimal = _ZERO
    settlement: Decimal = _ZERO
    fees: Decimal = _ZERO
    closed: date | None = None
    outcome: OptionAction | None = None
    fills: list[OptionFill] = field(default_factory=list)

    @property
    def expiry(self) -> date:
        return self.structure.legs[0].contract.expiry

    @property
    def is_open(self) -> bool:
        return self.closed is None

    def pnl(self) -> PositionPnl:
        """Premiums in and out, settlement and fees; realised once closed."""
        realised = None
        if not self.is_open:
            realised = self.premium_in - self.premium_out + self.settlement - self.fees
        return PositionPnl(self.premium_in, self.premium_out, self.settlement, self.fees, realised)


def position_id(account: str, cycle_id: str, structure: Structure) -> str:
    """The idempotent id of the position a cycle opens: the same inputs give the same id."""
    legs = ",".join(f"{leg.contract.symbol}:{leg.quantity}" for leg in structure.legs)
    digest = hashlib.sha256(f"{account}|{cycle_id}|{structure.kind}|{legs}".encode()).hexdigest()
    return f"opt-{digest[:24]}"


def option_fill_id(account: str, cycle_id: str, pos_id: str, action: OptionAction) -> str:
    """The idempotent client order id of an action on a position in a cycle."""
    digest = hashlib.sha256(f"{account}|{cycle_id}|{pos_id}|{action}".encode()).hexdigest()
    return f"inv-{digest[:24]}"


def leg_cash(legs: Iterable[LegFill], multiplier: int) -> tuple[Decimal, Decimal]:
    """(cash in, cash out) of ``legs``, both >= 0, in cents: sales bring cash in."""
    cash_in = cash_out = _ZERO
    for leg in legs:
        amount = money(Decimal(repr(leg.price)) * abs(leg.contracts) * multiplier)
        if leg.contracts < 0:
            cash_in += amount
        else:
            cash_out += amount
    return cash_in, cash_out


def reserve(structure: Structure, net_premium: float, contracts: int, fees: Decimal) -> Decimal:
    """Cash the book keeps back for ``contracts`` units opened at ``net_premium`` with ``fees``."""
    kept = fees
    if structure.is_credit:
        credit = money(max(net_premium, 0.0) * structure.multiplier)
        kept += (structure.collateral(net_premium) + credit) * contracts
    return kept


def cash_need(structure: Structure, net_premium: float, fee_per_unit: Decimal) -> Decimal:
    """Free cash one unit consumes: its reserve and fees, less the premium it brings in.

    ``cash - reserved`` falls by exactly this much per unit opened (up to rounding
    of the premium to cents), so the risk rules size with the book's own arithmetic.
    """
    premium = money(net_premium * structure.multiplier)
    return reserve(structure, net_premium, 1, fee_per_unit) - premium + fee_per_unit


def worst_settlement(structure: Structure) -> float | None:
    """The most cash one unit's settlement can take per share; None when unbounded.

    The payoff is piecewise linear with kinks at the strikes, so its minimum is at spot 0,
    at a strike, or at infinity (slope: the net calls). Checked again here, apart from the
    structure's own shape rules, so the book cannot hold undefined risk whatever builds it.
    """
    calls = sum(leg.quantity for leg in structure.legs if leg.contract.right is Right.CALL)
    if calls < 0 and structure.kind is not StructureKind.COVERED_CALL:
        return None
    if structure.kind is StructureKind.COVERED_CALL:
        return 0.0  # the shares are delivered; no cash leaves
    points = [0.0, *(float(leg.contract.strike) for leg in structure.legs)]
    return max(0.0, -min(structure.value_at_expiry(s) for s in points))


class OptionBook:
    """The option positions of one account, and what they reserve."""

    def __init__(self, account: str, positions: Iterable[OptionPosition] = ()) -> None:
        self.account = account
        self._positions: dict[str, OptionPosition] = {p.id: p for p in positions}

    def open_positions(self) -> list[OptionPosition]:
        """Open positions, oldest first."""
        return [p for p in self._positions.values() if p.is_open]

    def position(self, pos_id: str) -> OptionPosition:
        """The position ``pos_id`` (open or closed); KeyError names it when unknown."""
        try:
            return self._positions[pos_id]
        except KeyError:
            raise KeyError(f"no option position {pos_id} in the book of {self.account}") from None

    def reserved_cash(self) -> Decimal:
        """Cash kept back by the open positions."""
        return sum((p.reserved for p in self.open_positions()), _ZERO)

    def reserved_shares(self, symbol: str) -> int:
        """Shares of ``symbol`` kept back for covered calls."""
        return sum(
            p.shares_reserved for p in self.open_positions() if p.structure.underlying == symbol
        )

    def free_shares(self, symbol: str, state: AccountState) -> Decimal:
        """Shares of ``symbol`` held and not reserved."""
        pos = state.positions.get(symbol)
        held = pos.quantity if pos is not None else _ZERO
        return held - self.reserved_shares(symbol)

    def open(
        self, fill: OptionFill, structure: Structure, contracts: int, state: AccountState
    ) -> OptionPosition:
        """Book an opening fill: premium and fees to cash, collateral and shares reserved.

        Raises:
            ValueError: the fill is not this structure x ``contracts``, the position is
                already in the book, the structure's risk is undefined, free cash would
                go below zero, or a covered call's shares are not held unreserved.
        """
        if fill.action is not OptionAction.OPEN:
            raise ValueError(f"open needs an OPEN fill, got {fill.action} ({fill.client_order_id})")
        if contracts <= 0:
            raise ValueError(f"an open needs contracts > 0, got {contracts}")
        if fill.account != self.account:
            raise ValueError(
                f"fill {fill.client_order_id} is for {fill.account}, not {self.account}"
            )
        if fill.position_id in self._positions:
            raise ValueError(
                f"option position {fill.position_id} is already in the book (a retry?)"
            )
        _check_legs(fill, structure, contracts, closing=False)
        worst = worst_settlement(structure)
        if worst is None:
            raise ValueError(f"{structure.kind} on {structure.underlying} has undefined risk")
        mult = structure.multiplier
        cash_in, cash_out = leg_cash(fill.legs, mult)
        net = -sum(leg.contracts * leg.price for leg in fill.legs) / contracts
        kept = reserve(structure, net, contracts, fill.fees)
        # Defence in depth: never fires for a shape Structure accepts.
        if money(worst * mult * contracts) > kept:
            raise ValueError(
                f"{structure.kind} on {structure.underlying}: its settlement can take "
                f"{money(worst * mult * contracts)}, more than the {kept} it reserves"
            )
        shares = structure.shares_reserved * contracts
        if shares:
            free = self.free_shares(structure.underlying, state)
            if free < shares:
                raise ValueError(
                    f"a covered call on {contracts} contracts needs {shares} {structure.underlying} "
                    f"shares held and unreserved; there are {free}"
                )
        new_cash = state.cash + cash_in - cash_out - fill.fees
        free_cash = new_cash - self.reserved_cash() - kept
        if free_cash < 0:
            raise ValueError(
                f"opening {contracts} x {structure.kind} on {structure.underlying} needs "
                f"{-free_cash} more free cash (cash after {new_cash}, reserved "
                f"{self.reserved_cash() + kept})"
            )
        state.cash = new_cash
        position = OptionPosition(
            fill.position_id,
            fill.account,
            structure,
            contracts,
            fill.day,
            net,
            structure.collateral(net) * contracts,
            kept,
            shares,
            premium_in=cash_in,
            premium_out=cash_out,
            fees=fill.fees,
            fills=[fill],
        )
        self._positions[position.id] = position
        return position

    def close(self, fill: OptionFill, state: AccountState) -> OptionPosition:
        """Book a closing fill of a whole position: legs paid or received, reserve released.

        Raises:
            ValueError: the position is not open, the fill does not close exactly its
                legs, or the close costs more than free cash and the position's own
                reserve can pay (only a covered call's buy-back can: let it be called away).
        """
        if fill.action is not OptionAction.CLOSE:
            raise ValueError(
                f"close needs a CLOSE fill, got {fill.action} ({fill.client_order_id})"
            )
        pos = self.position(fill.position_id)
        if not pos.is_open:
            raise ValueError(f"option position {pos.id} is already closed ({pos.outcome})")
        _check_legs(fill, pos.structure, pos.contracts, closing=True)
        cash_in, cash_out = leg_cash(fill.legs, pos.structure.multiplier)
        new_cash = state.cash + cash_in - cash_out - fill.fees
        still = self.reserved_cash() - pos.reserved
        if new_cash < still:
            raise ValueError(
                f"closing {pos.id} costs {cash_out - cash_in + fill.fees}, more than free cash "
                f"and its own reserve ({state.cash - still}); a covered call can be left to be "
                "called away"
            )
        state.cash = new_cash
        pos.premium_in += cash_in
        pos.premium_out += cash_out
        pos.fees += fill.fees
        self._finish(pos, fill, OptionAction.CLOSE)
        return pos

    def settle(
        self, day: date, spots: Mapping[str, float], state: AccountState, cycle_id: str = ""
    ) -> list[Settlement]:
        """Settle every open position whose expiry is on or before ``day`` at ``spots``.

        A cash-secured put in the money is assigned (shares bought at the strike with
        its reserved cash, reason "assignment"); a covered call in the money is called
        away (its reserved shares sold at the strike, reason "called away"); options
        out of the money expire worthless.

        A spread still open at expiry is settled in cash at its intrinsic value, what
        closing both legs at intrinsic gives, and never into shares: the monitors close
        spreads at DTE <= 3, and settling only its in-the-money leg into shares could
        leave the account short stock (its long leg's exercise not matched), an
        undefined risk the product never holds.

        Raises:
            ValueError: no spot for an expiring position's underlying, or covered calls
                in the money whose shares the account no longer holds (nothing changes).
        """
        cid = cycle_id or day.isoformat()
        due: list[tuple[OptionPosition, float]] = []
        for pos in self.open_positions():  # every check first: a refusal changes nothing
            if pos.expiry > day:
                continue
            underlying = pos.structure.underlying
            spot = spots.get(underlying)
            if spot is None or not spot > 0:
                raise ValueError(
                    f"cannot settle {pos.id} ({pos.structure.kind} on {underlying}, expired "
                    f"{pos.expiry}): no spot price for {underlying}"
                )
            due.append((pos, float(spot)))
        delivered: dict[str, int] = {}
        for pos, spot in due:
            leg = pos.structure.legs[0]
            if (
                pos.structure.kind is StructureKind.COVERED_CALL
                and leg.contract.intrinsic(spot) > 0
            ):
                symbol = pos.structure.underlying
                delivered[symbol] = delivered.get(symbol, 0) + pos.shares_reserved
        for symbol, shares in delivered.items():
            held = state.positions.get(symbol)
            if held is None or held.quantity < shares:
                raise ValueError(
                    f"cannot settle: covered calls call away {shares} {symbol} shares, and the "
                    f"account holds {held.quantity if held else 0}"
                )
        return [self._settle_one(pos, spot, day, state, cid) for pos, spot in due]

    def _settle_one(
        self, pos: OptionPosition, spot: float, day: date, state: AccountState, cid: str
    ) -> Settlement:
        structure, n = pos.structure, pos.contracts
        legs = tuple(
            LegFill(leg.contract.symbol, -leg.quantity * n, leg.contract.intrinsic(spot))
            for leg in structure.legs
        )
        kind = structure.kind
        leg = structure.legs[0]
        if kind in (StructureKind.CASH_SECURED_PUT, StructureKind.COVERED_CALL) and (
            leg.contract.intrinsic(spot) > 0
        ):
            shares = Decimal(leg.contract.multiplier * -leg.quantity * n)
            side = Side.BUY if kind is StructureKind.CASH_SECURED_PUT else Side.SELL
            reason = "assignment" if side is Side.BUY else "called away"
            fill = OptionFill(
                option_fill_id(self.account, cid, pos.id, OptionAction.ASSIGN),
                self.account,
                pos.id,
                OptionAction.ASSIGN,
                legs,
                _ZERO,
                day,
                f"{reason} at {leg.contract.strike} (spot {spot:.2f})",
            )
            stock = Fill(
                fill.client_order_id,
                self.account,
                structure.underlying,
                side,
                shares,
                leg.contract.strike,
                _ZERO,
                day,
                reason,
            )
            # The reserve is released first: it is the cash that pays the assignment,
            # and the shares it held are the ones called away.
            self._finish(pos, fill, OptionAction.ASSIGN)
            state.apply_fill(stock)
            return Settlement(fill, stock)
        cash_in, cash_out = leg_cash(legs, structure.multiplier)
        value = cash_in - cash_out  # closing at intrinsic: > 0 when the holder is paid
        fill = OptionFill(
            option_fill_id(self.account, cid, pos.id, OptionAction.EXPIRE),
            self.account,
            pos.id,
            OptionAction.EXPIRE,
            legs,
            _ZERO,
            day,
            f"expired at spot {spot:.2f}: settled at intrinsic {value}",
        )
        # value >= 0 for a debit position (its holder is paid); between -reserved and 0
        # for a credit one (its reserve holds the width, or the strike, and the credit).
        state.cash += value
        pos.settlement += value
        self._finish(pos, fill, OptionAction.EXPIRE)
        return Settlement(fill)

    def _finish(self, pos: OptionPosition, fill: OptionFill, outcome: OptionAction) -> None:
        pos.fills.append(fill)
        pos.closed = fill.day
        pos.outcome = outcome

    def mark(self, prices: Mapping[str, float]) -> tuple[dict[str, float], float]:
        """Each open position's value at ``prices`` (per share, by OCC symbol), and the total.

        A value is what closing the position at those prices would bring in (> 0, an
        asset: a debit spread) or cost (< 0, a liability: a credit spread), in money
        for all its contracts; equity is cash plus the total.

        Raises:
            ValueError: a leg of an open position has no price.
        """
        out: dict[str, float] = {}
        for pos in self.open_positions():
            out[pos.id] = _unit_value(pos, prices) * pos.contracts * pos.structure.multiplier
        return out, sum(out.values())


def unrealised(pos: OptionPosition, prices: Mapping[str, float]) -> float:
    """Gain per share per unit if closed at ``prices``: open premium plus the value (> 0 a gain).

    Raises:
        ValueError: a leg has no price.
    """
    return pos.open_premium + _unit_value(pos, prices)


def _unit_value(pos: OptionPosition, prices: Mapping[str, float]) -> float:
    value = 0.0
    for leg in pos.structure.legs:
        symbol = leg.contract.symbol
        price = prices.get(symbol)
        if price is None:
            raise ValueError(f"no price to mark {symbol}, a leg of {pos.id}")
        value += leg.quantity * float(price)
    return value


def _check_legs(fill: OptionFill, structure: Structure, contracts: int, closing: bool) -> None:
    """Refuse a fill whose legs are not exactly the structure's x contracts (opposite to close)."""
    sign = -1 if closing else 1
    want = {leg.contract.symbol: sign * leg.quantity * contracts for leg in structure.legs}
    got: dict[str, int] = {}
    for leg in fill.legs:
        if not leg.price >= 0:
            raise ValueError(f"fill {fill.client_order_id}: price of {leg.symbol} must be >= 0")
        got[leg.symbol] = got.get(leg.symbol, 0) + leg.contracts
    if got != want:
        verb = "close" if closing else "open"
        raise ValueError(
            f"fill {fill.client_order_id} does not {verb} {contracts} x {structure.kind}: "
            f"legs {got}, expected {want}"
        )
