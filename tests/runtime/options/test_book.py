"""The options book: reserve, refusals, realised P&L by source, assignment and calls away.

The properties are the issue's "done when": over random structures, prices and
sequences of opens, closes and expiries, cash never goes below what is reserved,
no undefined risk opens, each P&L is premiums in - out + settlement - fees (checked
against cash flows computed here in integer cents), and assignment moves exactly
100 x contracts shares at the strike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from invest.runtime.domain import AccountState, Position
from invest.runtime.errors import ConfigError
from invest.runtime.options.book import (
    LegFill,
    OptionAction,
    OptionBook,
    OptionFill,
    position_id,
)
from invest.runtime.options.contracts import Leg, OptionContract, Right
from invest.runtime.options.structures import (
    Structure,
    StructureKind,
    bear_call,
    bear_put,
    bull_call,
    bull_put,
    butterfly,
    cash_secured_put,
    covered_call,
    iron_condor,
)

DAY0 = date(2027, 1, 4)
ROOT = "XYZ"
CENT = Decimal("0.01")


def C(strike: int, expiry: date) -> OptionContract:
    return OptionContract(ROOT, expiry, Right.CALL, Decimal(strike))


def P(strike: int, expiry: date) -> OptionContract:
    return OptionContract(ROOT, expiry, Right.PUT, Decimal(strike))


def build(kind: StructureKind, low: int, width: int, gap: int, expiry: date) -> Structure:
    """One structure of ``kind`` with whole-dollar strikes from ``low`` (built by the builders)."""
    hi = low + width
    match kind:
        case StructureKind.CASH_SECURED_PUT:
            return cash_secured_put(P(low, expiry))
        case StructureKind.COVERED_CALL:
            return covered_call(C(low, expiry))
        case StructureKind.BULL_CALL:
            return bull_call(C(low, expiry), C(hi, expiry))
        case StructureKind.BEAR_PUT:
            return bear_put(P(hi, expiry), P(low, expiry))
        case StructureKind.BULL_PUT:
            return bull_put(P(hi, expiry), P(low, expiry))
        case StructureKind.BEAR_CALL:
            return bear_call(C(low, expiry), C(hi, expiry))
        case StructureKind.IRON_CONDOR:
            return iron_condor(
                P(low, expiry),
                P(hi, expiry),
                C(hi + 1 + gap, expiry),
                C(hi + 1 + gap + width, expiry),
            )
        case StructureKind.BUTTERFLY:
            right = Right.CALL if gap % 2 else Right.PUT
            mk = C if right is Right.CALL else P
            return butterfly(mk(low, expiry), mk(hi, expiry), mk(hi + width, expiry), right)
    raise AssertionError(kind)


def intrinsic_cents(contract: OptionContract, spot_cents: int) -> int:
    """Intrinsic value in cents per share, in integers (independent of the module's floats)."""
    k = int(contract.strike) * 100
    return max(spot_cents - k, 0) if contract.right is Right.CALL else max(k - spot_cents, 0)


def fill_of(
    pos_id: str,
    structure: Structure,
    n: int,
    cents: list[int],
    action: OptionAction,
    fee_cents: int,
    day: date,
) -> OptionFill:
    """A fill of every leg x n at ``cents`` per share (reversed to close), fee per contract."""
    sign = 1 if action is OptionAction.OPEN else -1
    legs = tuple(
        LegFill(leg.contract.symbol, sign * leg.quantity * n, c / 100)
        for leg, c in zip(structure.legs, cents, strict=True)
    )
    fees = Decimal(fee_cents * sum(abs(leg.contracts) for leg in legs)) * CENT
    return OptionFill(f"{pos_id}-{action}", "acct", pos_id, action, legs, fees, day)


def flow(fill: OptionFill, structure: Structure) -> Decimal:
    """Cash the fill brings in (sales) less what it pays (buys), in cents, before fees."""
    mult = structure.multiplier
    cents = sum(-leg.contracts * round(leg.price * 100) * mult for leg in fill.legs)
    return Decimal(cents) * CENT


@dataclass
class Tracked:
    structure: Structure
    n: int
    flows: Decimal  # premiums in - out + cash settlement, from this test's own arithmetic
    fees: Decimal


kinds = st.sampled_from(list(StructureKind))
open_op = st.tuples(
    st.just("open"),
    kinds,
    st.integers(50, 150),  # low strike
    st.integers(1, 10),  # width
    st.integers(0, 10),  # gap (condor body) / butterfly right
    st.integers(0, 3),  # expiry: weeks from DAY0
    st.integers(1, 5),  # contracts
    st.lists(st.integers(0, 2000), min_size=4, max_size=4),  # leg prices in cents
)
close_op = st.tuples(st.just("close"), st.integers(0, 50), st.integers(3000, 20000))
settle_op = st.tuples(st.just("settle"), st.integers(0, 4), st.integers(3000, 20000))


class Sim:
    """The book and an account, with the cash and shares this test expects from its own sums."""

    def __init__(self, cash: int, shares: int, fee_cents: int) -> None:
        self.state = AccountState("acct", Decimal(cash))
        if shares:
            self.state.positions[ROOT] = Position(ROOT, Decimal(shares), Decimal(100), DAY0)
        self.book = OptionBook("acct")
        self.fee_cents = fee_cents
        self.tracked: dict[str, Tracked] = {}
        self.cash = Decimal(cash)
        self.shares = Decimal(shares)
        self.day = DAY0
        self.seen: set[str] = set()  # what happened, to show the runs reach every branch

    def open(self, i: int, op: tuple[Any, ...]) -> None:
        _, kind, low, width, gap, weeks, n, cents = op
        structure = build(kind, low, width, gap, self.day + timedelta(weeks=weeks))
        pid = position_id("acct", f"c{i}", structure)
        legs = cents[: len(structure.legs)]
        fill = fill_of(pid, structure, n, legs, OptionAction.OPEN, self.fee_cents, self.day)
        before = (self.state.cash, self.book.reserved_cash())
        try:
            pos = self.book.open(fill, structure, n, self.state)
        except ValueError as exc:
            assert (self.state.cash, self.book.reserved_cash()) == before  # nothing changed
            reason = str(exc)
            if "shares" in reason:
                assert kind is StructureKind.COVERED_CALL
                assert self.book.free_shares(ROOT, self.state) < 100 * n
            else:
                assert "free cash" in reason
                free_after = self.state.cash + flow(fill, structure) - fill.fees - before[1]
                assert free_after < pos_reserve(structure, fill, n)
            self.seen.add("refused")
            return
        self.cash += flow(fill, structure) - fill.fees
        self.tracked[pid] = Tracked(structure, n, flow(fill, structure), fill.fees)
        assert pos.shares_reserved == structure.shares_reserved * n
        self.seen.add("open")

    def close(self, pick: int, spot_cents: int) -> None:
        open_now = self.book.open_positions()
        if not open_now:
            return
        pos = open_now[pick % len(open_now)]
        t = self.tracked[pos.id]
        # Closing at intrinsic at a spot: prices within the structure's no-arbitrage bounds.
        cents = [intrinsic_cents(leg.contract, spot_cents) for leg in t.structure.legs]
        fill = fill_of(
            pos.id, t.structure, t.n, cents, OptionAction.CLOSE, self.fee_cents, self.day
        )
        try:
            self.book.close(fill, self.state)
        except ValueError:
            # Only a covered call's buy-back can cost more than its reserve: free cash pays.
            assert t.structure.kind is StructureKind.COVERED_CALL
            assert self.state.cash - self.book.reserved_cash() < fill.fees - flow(fill, t.structure)
            return
        self.cash += flow(fill, t.structure) - fill.fees
        t.flows += flow(fill, t.structure)
        t.fees += fill.fees
        assert pos.pnl().realised == t.flows - t.fees
        self.seen.add("close")

    def settle(self, days: int, spot_cents: int) -> None:
        self.day += timedelta(days=days * 3)
        due = {p.id for p in self.book.open_positions() if p.expiry <= self.day}
        done = self.book.settle(self.day, {ROOT: spot_cents / 100}, self.state)
        assert {s.fill.position_id for s in done} == due
        for s in done:
            t = self.tracked[s.fill.position_id]
            leg = t.structure.legs[0]
            itm = intrinsic_cents(leg.contract, spot_cents) > 0
            if (
                t.structure.kind in (StructureKind.CASH_SECURED_PUT, StructureKind.COVERED_CALL)
                and itm
            ):
                buy = t.structure.kind is StructureKind.CASH_SECURED_PUT
                assert s.stock is not None
                assert s.stock.reason == ("assignment" if buy else "called away")
                assert s.stock.quantity == 100 * t.n
                assert s.stock.price == leg.contract.strike
                sign = -1 if buy else 1
                self.cash += sign * leg.contract.strike * 100 * t.n
                self.shares -= sign * 100 * t.n
                self.seen.add("assigned" if buy else "called away")
            else:
                assert s.stock is None
                value = sum(
                    leg.quantity * t.n * intrinsic_cents(leg.contract, spot_cents)
                    for leg in t.structure.legs
                )
                settled = Decimal(value * t.structure.multiplier) * CENT
                self.cash += settled
                t.flows += settled
                self.seen.add("settled in cash" if value else "expired worthless")
            assert self.book.position(s.fill.position_id).pnl().realised == t.flows - t.fees

    def check(self) -> None:
        """(a) cash never below the reserve, and cash and shares balance to the cent."""
        assert self.state.cash >= self.book.reserved_cash() >= 0
        assert self.state.cash == self.cash
        held = self.state.positions.get(ROOT)
        assert (held.quantity if held else 0) == self.shares
        assert self.book.free_shares(ROOT, self.state) >= 0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cash=st.integers(0, 200_000),
    shares=st.integers(0, 800),
    fee_cents=st.integers(0, 100),
    ops=st.lists(st.one_of(open_op, close_op, settle_op), min_size=1, max_size=25),
)
def test_cash_covers_the_reserve_and_every_pnl_is_its_cash_flows(
    cash: int, shares: int, fee_cents: int, ops: list[tuple[Any, ...]]
) -> None:
    sim = Sim(cash, shares, fee_cents)
    for i, op in enumerate(ops):
        if op[0] == "open":
            sim.open(i, op)
        elif op[0] == "close":
            sim.close(op[1], op[2])
        else:
            sim.settle(op[1], op[2])
        sim.check()


def test_a_scripted_sequence_reaches_every_outcome_under_the_same_checks() -> None:
    """The property's checks on a sequence known to open, refuse, close, assign and call away."""
    sim = Sim(cash=30_000, shares=100, fee_cents=65)
    P_, C_ = StructureKind.CASH_SECURED_PUT, StructureKind.COVERED_CALL
    script: list[tuple[Any, ...]] = [
        ("open", P_, 100, 5, 0, 1, 2, [150, 0, 0, 0]),  # 2 CSPs at 100: 20,000 reserved
        ("open", P_, 100, 5, 0, 1, 1, [150, 0, 0, 0]),  # a third does not fit: refused
        ("open", C_, 110, 5, 0, 1, 1, [120, 0, 0, 0]),  # covered call on the 100 shares
        ("open", C_, 110, 5, 0, 1, 1, [120, 0, 0, 0]),  # no free shares left: refused
        ("open", StructureKind.BULL_PUT, 90, 5, 0, 1, 1, [50, 150, 0, 0]),
        ("open", StructureKind.BULL_CALL, 100, 5, 0, 0, 1, [300, 100, 0, 0]),
        ("open", StructureKind.IRON_CONDOR, 80, 5, 3, 1, 1, [20, 80, 80, 20]),
        ("close", 3, 10_300),  # the bull call (4th open position), at intrinsic at 103
        ("settle", 3, 9_200),  # a week on: the CSPs are assigned at 92, the call expires,
    ]  # the bull put settles in cash (short 95 put in the money), the condor's put side too
    for i, op in enumerate(script):
        if op[0] == "open":
            sim.open(i, op)
        elif op[0] == "close":
            sim.close(op[1], op[2])
        else:
            sim.settle(op[1], op[2])
        sim.check()
    assert {
        "open",
        "refused",
        "close",
        "assigned",
        "settled in cash",
        "expired worthless",
    } <= sim.seen
    sim = Sim(cash=0, shares=200, fee_cents=0)
    sim.open(0, ("open", C_, 110, 5, 0, 0, 2, [120, 0, 0, 0]))
    sim.settle(3, 11_500)
    sim.check()
    assert "called away" in sim.seen
    assert sim.state.positions.get(ROOT) is None


def pos_reserve(structure: Structure, fill: OptionFill, n: int) -> Decimal:
    """What an open of ``fill`` would reserve, written from the rule: collateral + credit + fees."""
    net = float(flow(fill, structure)) / (structure.multiplier * n)
    kept = fill.fees
    if structure.is_credit:
        kept += (structure.collateral(net) + Decimal(max(round(net * 100), 0))) * n
    return kept


@settings(max_examples=300, deadline=None)
@given(
    kind=kinds,
    legs=st.lists(
        st.tuples(
            st.sampled_from(list(Right)), st.integers(-2, 2).filter(bool), st.integers(90, 110)
        ),
        min_size=1,
        max_size=4,
    ),
    spot=st.integers(0, 1_000_000),
)
def test_no_structure_with_undefined_risk_opens(
    kind: StructureKind, legs: list[tuple[Right, int, int]], spot: int
) -> None:
    expiry = DAY0 + timedelta(days=10)
    try:
        structure = Structure(
            kind,
            tuple(Leg(OptionContract(ROOT, expiry, r, Decimal(k)), q) for r, q, k in legs),
        )
    except ConfigError:
        return  # refused at construction
    state = AccountState("acct", Decimal(10_000_000))
    state.positions[ROOT] = Position(ROOT, Decimal(1000), Decimal(100), DAY0)
    book = OptionBook("acct")
    cents = [100] * len(structure.legs)
    fill = fill_of("p", structure, 1, cents, OptionAction.OPEN, 0, DAY0)
    pos = book.open(fill, structure, 1, state)
    # Whatever the spot at expiry, settling takes no more cash than is reserved, and a
    # short call is never left without shares or a long call.
    payout = -structure.value_at_expiry(spot / 100) * structure.multiplier
    if kind is StructureKind.COVERED_CALL:
        assert pos.shares_reserved == 100
    else:
        assert payout <= float(pos.reserved) + 1e-6
        assert pos.shares_reserved == 0


def forged(kind: StructureKind, legs: tuple[Leg, ...]) -> Structure:
    """A Structure that skips its own shape checks, to test the book's check on its own."""
    s = object.__new__(Structure)
    object.__setattr__(s, "kind", kind)
    object.__setattr__(s, "legs", legs)
    return s


def test_the_book_refuses_a_naked_short_call_even_if_a_structure_lets_it_through() -> None:
    naked = forged(StructureKind.BEAR_CALL, (Leg(C(100, DAY0 + timedelta(7)), -1),))
    state = AccountState("acct", Decimal(1_000_000))
    fill = fill_of("p", naked, 1, [200], OptionAction.OPEN, 0, DAY0)
    with pytest.raises(ValueError, match="undefined risk"):
        OptionBook("acct").open(fill, naked, 1, state)
    covered = forged(
        StructureKind.BEAR_CALL,
        (Leg(C(100, DAY0 + timedelta(7)), -1), Leg(C(105, DAY0 + timedelta(7)), 1)),
    )
    fill = fill_of("q", covered, 1, [200, 50], OptionAction.OPEN, 0, DAY0)
    assert OptionBook("acct").open(fill, covered, 1, state).reserved == Decimal("500.00")


EXP = DAY0 + timedelta(days=11)


def opened(
    structure: Structure,
    n: int,
    cents: list[int],
    cash: int = 100_000,
    fee: int = 65,
    shares: int = 0,
) -> tuple[OptionBook, AccountState, str]:
    state = AccountState("acct", Decimal(cash))
    if shares:
        state.positions[ROOT] = Position(ROOT, Decimal(shares), Decimal(90), DAY0)
    book = OptionBook("acct")
    pid = position_id("acct", "c1", structure)
    book.open(fill_of(pid, structure, n, cents, OptionAction.OPEN, fee, DAY0), structure, n, state)
    return book, state, pid


def test_a_credit_spread_that_expires_worthless_makes_its_credit() -> None:
    spread = bull_put(P(100, EXP), P(95, EXP))  # legs: long 95 at 0.80, short 100 at 2.00
    book, state, pid = opened(spread, 2, [80, 200])
    assert state.cash == Decimal("100240.00") - Decimal("2.60")
    assert book.reserved_cash() == Decimal("1000.00") + Decimal("2.60")  # the width, and fees
    book.settle(EXP, {ROOT: 120.0}, state)
    pnl = book.position(pid).pnl()
    assert pnl.realised == Decimal("240.00") - Decimal("2.60") > 0
    assert book.reserved_cash() == 0
    assert state.cash == Decimal("100237.40")


def test_a_debit_spread_that_expires_worthless_loses_its_debit() -> None:
    spread = bull_call(C(100, EXP), C(105, EXP))  # long 100 at 3.00, short 105 at 1.00
    book, state, pid = opened(spread, 1, [300, 100], fee=0)
    assert state.cash == Decimal("99800.00")
    assert book.reserved_cash() == 0
    book.settle(EXP, {ROOT: 90.0}, state)
    assert book.position(pid).pnl().realised == Decimal("-200.00")


def test_a_spread_open_at_expiry_settles_in_cash_at_intrinsic_never_in_shares() -> None:
    spread = bear_call(C(100, EXP), C(105, EXP))  # short 100 at 2.00, long 105 at 0.50
    book, state, pid = opened(spread, 3, [200, 50], fee=0)
    done = book.settle(EXP, {ROOT: 103.0}, state)  # short leg 3.00 in the money, long out
    assert done[0].stock is None
    assert done[0].fill.action is OptionAction.EXPIRE
    pnl = book.position(pid).pnl()
    assert pnl.settlement == Decimal("-900.00")
    assert pnl.realised == Decimal("450.00") - Decimal("900.00")
    assert ROOT not in state.positions
    assert state.cash == Decimal("99550.00")


def test_a_cash_secured_put_in_the_money_is_assigned_at_the_strike() -> None:
    book, state, pid = opened(cash_secured_put(P(100, EXP)), 2, [150], fee=0)
    assert book.reserved_cash() == Decimal("20300.00")  # strike x 200, and the credit
    done = book.settle(EXP, {ROOT: 97.5}, state)
    stock = done[0].stock
    assert stock is not None
    assert stock.quantity == 200
    assert stock.price == 100
    assert state.positions[ROOT].quantity == 200
    assert state.positions[ROOT].avg_cost == 100
    assert state.cash == Decimal(100_000 + 300 - 20_000)
    assert book.position(pid).pnl().realised == Decimal(
        "300.00"
    )  # the premium; the stock has the rest


def test_a_cash_secured_put_out_of_the_money_expires_worthless() -> None:
    book, state, _pid = opened(cash_secured_put(P(100, EXP)), 1, [150], fee=0)
    assert book.settle(EXP, {ROOT: 100.0}, state)[0].stock is None
    assert ROOT not in state.positions
    assert book.reserved_cash() == 0


def test_a_covered_call_needs_free_shares_and_is_called_away_with_them() -> None:
    call = covered_call(C(110, EXP))
    with pytest.raises(ValueError, match="needs 200 XYZ shares held and unreserved; there are 150"):
        opened(call, 2, [120], shares=150)
    book, state, _pid = opened(call, 1, [120], shares=150, fee=0)
    assert book.reserved_shares(ROOT) == 100
    assert book.free_shares(ROOT, state) == 50
    second = fill_of("p2", call, 1, [120], OptionAction.OPEN, 0, DAY0)
    with pytest.raises(ValueError, match="there are 50"):
        book.open(second, call, 1, state)
    done = book.settle(EXP, {ROOT: 115.0}, state)
    stock = done[0].stock
    assert stock is not None
    assert stock.reason == "called away"
    assert stock.quantity == 100
    assert state.positions[ROOT].quantity == 50
    assert state.cash == Decimal(100_000 + 120 + 11_000)
    assert state.realised_pnl == Decimal(100 * (110 - 90))


def test_an_open_that_leaves_too_little_free_cash_is_refused_and_changes_nothing() -> None:
    put = cash_secured_put(P(100, EXP))
    with pytest.raises(ValueError, match="free cash"):
        opened(put, 1, [150], cash=9_999, fee=0)
    book, state, _ = opened(put, 1, [150], cash=10_000, fee=0)  # exactly the strike x 100
    assert state.cash - book.reserved_cash() == 0


def test_closing_releases_the_reserve_and_realises_the_premiums() -> None:
    spread = bull_put(P(100, EXP), P(95, EXP))
    book, state, pid = opened(spread, 1, [80, 200], fee=65)
    close = fill_of(pid, spread, 1, [30, 90], OptionAction.CLOSE, 65, DAY0 + timedelta(3))
    book.close(close, state)
    pnl = book.position(pid).pnl()
    assert (pnl.premium_in, pnl.premium_out) == (Decimal("230.00"), Decimal("170.00"))
    assert pnl.realised == Decimal("60.00") - Decimal("2.60")
    assert book.reserved_cash() == 0
    assert not book.open_positions()
    with pytest.raises(ValueError, match="already closed"):
        book.close(close, state)


def test_a_fill_that_is_not_the_structure_is_refused() -> None:
    spread = bull_put(P(100, EXP), P(95, EXP))
    state = AccountState("acct", Decimal(100_000))
    half = fill_of("p", spread, 2, [80, 200], OptionAction.OPEN, 0, DAY0)
    with pytest.raises(ValueError, match="does not open 1 x bull_put"):
        OptionBook("acct").open(half, spread, 1, state)


def test_a_retried_open_is_refused_and_the_id_is_stable() -> None:
    put = cash_secured_put(P(100, EXP))
    assert position_id("a", "c1", put) == position_id("a", "c1", put) != position_id("a", "c2", put)
    book, state, pid = opened(put, 1, [150])
    again = fill_of(pid, put, 1, [150], OptionAction.OPEN, 65, DAY0)
    with pytest.raises(ValueError, match="already in the book"):
        book.open(again, put, 1, state)


def test_mark_values_credit_positions_as_liabilities_and_debits_as_assets() -> None:
    credit = bull_put(P(100, EXP), P(95, EXP))
    book, state, cid = opened(credit, 1, [80, 200])
    debit = bull_call(C(100, EXP), C(105, EXP))
    did = position_id("acct", "c2", debit)
    book.open(fill_of(did, debit, 2, [300, 100], OptionAction.OPEN, 0, DAY0), debit, 2, state)
    prices = {
        P(95, EXP).symbol: 0.5,
        P(100, EXP).symbol: 1.5,
        C(100, EXP).symbol: 4.0,
        C(105, EXP).symbol: 1.5,
    }
    values, total = book.mark(prices)
    assert values[cid] == pytest.approx(-100.0)
    assert values[did] == pytest.approx(500.0)
    assert total == pytest.approx(400.0)
    with pytest.raises(ValueError, match="no price to mark"):
        book.mark({})


def test_settle_without_a_spot_says_which_underlying() -> None:
    book, state, _ = opened(
        iron_condor(P(90, EXP), P(95, EXP), C(105, EXP), C(110, EXP)), 1, [50, 150, 150, 50]
    )
    assert book.settle(EXP - timedelta(1), {}, state) == []  # nothing due yet
    with pytest.raises(ValueError, match="no spot price for XYZ"):
        book.settle(EXP, {}, state)


def test_a_butterfly_and_a_bear_put_reserve_only_their_fees() -> None:
    fly = butterfly(C(95, EXP), C(100, EXP), C(105, EXP), Right.CALL)
    book, _state, _ = opened(fly, 1, [700, 300, 100], fee=65)
    assert book.reserved_cash() == Decimal("2.60")  # 4 contracts' fees, for the close
    book2, _, _ = opened(bear_put(P(105, EXP), P(100, EXP)), 1, [100, 400], fee=0)
    assert book2.reserved_cash() == 0


def test_a_call_away_of_shares_no_longer_held_is_refused_before_anything_changes() -> None:
    book, state, pid = opened(covered_call(C(110, EXP)), 1, [120], shares=100, fee=0)
    cash_before = state.cash
    state.positions[ROOT].quantity = Decimal(40)  # sold elsewhere: the next round forbids it
    with pytest.raises(ValueError, match="call away 100 XYZ shares, and the account holds 40"):
        book.settle(EXP, {ROOT: 120.0}, state)
    assert book.position(pid).is_open
    assert state.cash == cash_before
    book.settle(EXP, {ROOT: 100.0}, state)  # out of the money: nothing delivered, it expires
    assert not book.position(pid).is_open


def test_a_fill_of_another_account_is_refused() -> None:
    put = cash_secured_put(P(100, EXP))
    fill = fill_of("p", put, 1, [150], OptionAction.OPEN, 0, DAY0)
    with pytest.raises(ValueError, match="is for acct, not other"):
        OptionBook("other").open(fill, put, 1, AccountState("other", Decimal(100_000)))
