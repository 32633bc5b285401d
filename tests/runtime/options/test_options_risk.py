"""The options risk rules: each one moves the output, and the same case passes with it relaxed."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from invest.runtime.config.options_risk import DEFAULT_OPTIONS_RISK, OptionsRiskConfig
from invest.runtime.domain import AccountState, Position
from invest.runtime.options.book import LegFill, OptionAction, OptionBook, OptionFill, position_id
from invest.runtime.options.contracts import Leg, OptionContract, Right
from invest.runtime.options.earnings import StaticEarningsCalendar
from invest.runtime.options.structures import (
    Structure,
    StructureKind,
    bull_call,
    bull_put,
    cash_secured_put,
    covered_call,
    iron_condor,
)
from invest.runtime.risk.options import check_open, monitor

DAY = date(2027, 1, 4)
EXP = DAY + timedelta(days=11)
ROOT = "XYZ"


def C(k: int, expiry: date = EXP) -> OptionContract:
    return OptionContract(ROOT, expiry, Right.CALL, Decimal(k))


def P(k: int, expiry: date = EXP) -> OptionContract:
    return OptionContract(ROOT, expiry, Right.PUT, Decimal(k))


def cfg(**kw: Any) -> OptionsRiskConfig:
    base = {"fee_per_contract": 0.0, "earnings_blackout_days": 0, "cash_reserve": 0.0}
    return OptionsRiskConfig(**(base | kw))


def book_with(
    state: AccountState, *opens: tuple[Structure, int, list[float]], fee: float = 0.0
) -> OptionBook:
    book = OptionBook("a")
    for i, (structure, n, prices) in enumerate(opens):
        legs = tuple(
            LegFill(leg.contract.symbol, leg.quantity * n, p)
            for leg, p in zip(structure.legs, prices, strict=True)
        )
        fees = Decimal(repr(fee)) * sum(abs(x.contracts) for x in legs)
        pid = position_id("a", f"c{i}", structure)
        book.open(
            OptionFill(f"o{i}", "a", pid, OptionAction.OPEN, legs, fees, DAY), structure, n, state
        )
    return book


def allowed(
    structure: Structure,
    n: int,
    premium: float,
    state: AccountState,
    book: OptionBook,
    config: OptionsRiskConfig,
    equity: float = 100_000.0,
    calendar: StaticEarningsCalendar | None = None,
) -> tuple[int, list[str]]:
    got, clamps = check_open(structure, n, premium, state, book, config, equity, calendar, DAY)
    return got, [c.rule for c in clamps]


# ---- configuration


def test_the_defaults_are_the_seeds_option_profile() -> None:
    d = DEFAULT_OPTIONS_RISK
    assert (d.cash_reserve, d.earnings_blackout_days, d.auto_close_dte) == (0.40, 7, 3)
    assert (d.take_profit, d.stop_loss, d.stop_basis) == (0.50, 1.00, "max_loss")


def test_a_stop_beyond_the_max_loss_is_refused_with_what_to_do() -> None:
    with pytest.raises(ValidationError, match="can never fire"):
        OptionsRiskConfig(stop_loss=1.5)
    assert OptionsRiskConfig(stop_loss=1.5, stop_basis="credit").stop_loss == 1.5
    with pytest.raises(ValidationError, match="cash_reserve"):
        OptionsRiskConfig(cash_reserve=1.0)
    with pytest.raises(ValidationError, match="Extra inputs"):
        OptionsRiskConfig(stop_pct=0.5)  # type: ignore[call-arg]


# ---- check_open


def test_the_collateral_and_the_cash_reserve_shrink_an_open() -> None:
    state = AccountState("a", Decimal(100_000))
    book = OptionBook("a")
    put = cash_secured_put(P(100))
    # 40% of 100,000 kept; each put takes its 10,000 strike (the premium does not count).
    got, rules = allowed(put, 10, 1.5, state, book, cfg(cash_reserve=0.40))
    assert (got, rules) == (6, ["collateral"])
    assert allowed(put, 10, 1.5, state, book, cfg(cash_reserve=0.0)) == (10, [])
    assert allowed(put, 10, 1.5, state, book, cfg(cash_reserve=0.95))[0] == 0


def test_what_is_already_reserved_counts_against_new_opens() -> None:
    state = AccountState("a", Decimal(100_000))
    book = book_with(state, (cash_secured_put(P(100)), 5, [1.5]))  # 50,750 reserved
    got, _ = allowed(cash_secured_put(P(100)), 10, 1.5, state, book, cfg(cash_reserve=0.40))
    assert got == 1  # 100,750 cash - 50,750 - 40,000 = 10,000: one more


def test_a_credit_spread_needs_its_max_loss_and_fees() -> None:
    state = AccountState("a", Decimal(10_000))
    spread = bull_put(P(100), P(95))  # width 5, credit 1.20: max loss 380 per unit
    assert allowed(spread, 100, 1.2, state, OptionBook("a"), cfg())[0] == 26  # 10,000 // 380
    got, _ = allowed(spread, 100, 1.2, state, OptionBook("a"), cfg(fee_per_contract=5.0))
    assert got == 10_000 // (380 + 20) == 25  # 2 legs, each way


def test_max_open_spreads_refuses_at_the_limit_and_not_below_it() -> None:
    state = AccountState("a", Decimal(100_000))
    book = book_with(
        state,
        (bull_put(P(100), P(95)), 1, [0.8, 2.0]),
        (bull_call(C(100), C(105)), 1, [3.0, 1.0]),
        (cash_secured_put(P(90)), 1, [1.0]),  # not a spread
    )
    spread = iron_condor(P(85), P(90), C(110), C(115))
    assert allowed(spread, 1, 1.0, state, book, cfg(max_open_spreads=2)) == (
        0,
        ["max_open_spreads"],
    )
    assert allowed(spread, 1, 1.0, state, book, cfg(max_open_spreads=3)) == (1, [])
    assert allowed(cash_secured_put(P(90)), 1, 1.0, state, book, cfg(max_open_spreads=0))[0] == 1


def test_covered_calls_only_on_held_unreserved_shares() -> None:
    state = AccountState("a", Decimal(1_000))
    state.positions[ROOT] = Position(ROOT, Decimal(350), Decimal(90), DAY)
    book = book_with(state, (covered_call(C(110)), 1, [1.2]))
    call = covered_call(C(115))
    assert allowed(call, 5, 1.0, state, book, cfg()) == (2, ["covered_shares"])
    state.positions[ROOT].quantity = Decimal(600)
    assert allowed(call, 5, 1.0, state, book, cfg()) == (5, [])
    del state.positions[ROOT]
    assert allowed(call, 5, 1.0, state, book, cfg()) == (0, ["covered_shares"])


def test_the_earnings_blackout_refuses_inside_and_notes_an_unknown_date() -> None:
    state = AccountState("a", Decimal(100_000))
    book, put = OptionBook("a"), cash_secured_put(P(100))
    # XYZ reports 85 days before DAY and 5 days after: the calendar knows DAY.
    reports = StaticEarningsCalendar.from_mapping({ROOT: [DAY - timedelta(85), DAY + timedelta(5)]})
    week = cfg(earnings_blackout_days=7)
    assert allowed(put, 1, 1.0, state, book, week, calendar=reports) == (0, ["earnings_blackout"])
    assert allowed(put, 1, 1.0, state, book, cfg(earnings_blackout_days=4), calendar=reports) == (
        1,
        [],
    )
    assert allowed(put, 1, 1.0, state, book, cfg(), calendar=reports) == (1, [])  # 0 disables
    unknown = StaticEarningsCalendar.from_mapping({"ABC": []})
    assert allowed(put, 1, 1.0, state, book, week, calendar=unknown) == (1, ["earnings_unknown"])
    assert allowed(put, 1, 1.0, state, book, week, calendar=None) == (1, ["earnings_unknown"])


def test_undefined_risk_is_refused_by_the_rules_too() -> None:
    naked = object.__new__(Structure)
    object.__setattr__(naked, "kind", StructureKind.BEAR_CALL)
    object.__setattr__(naked, "legs", (Leg(C(100), -1),))
    state = AccountState("a", Decimal(1_000_000))
    assert allowed(naked, 1, 2.0, state, OptionBook("a"), cfg()) == (0, ["defined_risk"])


kinds_prices = st.sampled_from(
    [
        (cash_secured_put(P(100)), [1.5]),
        (bull_put(P(100), P(95)), [0.8, 2.0]),
        (bull_call(C(100), C(105)), [3.0, 1.0]),
        (iron_condor(P(85), P(90), C(110), C(115)), [0.3, 0.9, 0.8, 0.25]),
    ]
)


@settings(max_examples=200, deadline=None)
@given(
    cash=st.integers(0, 300_000),
    reserve=st.floats(0, 0.9),
    fee=st.integers(0, 200),
    opens=st.lists(st.tuples(kinds_prices, st.integers(1, 50)), min_size=1, max_size=12),
)
def test_opens_sized_by_the_rules_keep_cash_above_collateral_plus_the_reserve(
    cash: int, reserve: float, fee: int, opens: list[tuple[tuple[Structure, list[float]], int]]
) -> None:
    config = cfg(cash_reserve=reserve, fee_per_contract=fee / 100, max_open_spreads=1000)
    state = AccountState("a", Decimal(cash))
    book = OptionBook("a")
    equity = float(cash)
    for i, ((structure, prices), n) in enumerate(opens):
        premium = -sum(leg.quantity * p for leg, p in zip(structure.legs, prices, strict=True))
        got, _ = check_open(structure, n, premium, state, book, config, equity, None, DAY)
        assert 0 <= got <= n
        if got == 0:
            continue
        legs = tuple(
            LegFill(leg.contract.symbol, leg.quantity * got, p)
            for leg, p in zip(structure.legs, prices, strict=True)
        )
        fees = Decimal(fee) / 100 * sum(abs(x.contracts) for x in legs)
        pid = position_id("a", f"c{i}", structure)
        fill = OptionFill(f"o{i}", "a", pid, OptionAction.OPEN, legs, fees, DAY)
        book.open(fill, structure, got, state)  # never refused: the rules sized it
        assert float(state.cash - book.reserved_cash()) >= reserve * equity - 0.01


# ---- monitor


def marks(**by_symbol: float) -> dict[str, float]:
    return by_symbol


SPREAD = bull_put(P(100), P(95))  # credit 1.20 on width 5: max gain 1.20, max loss 3.80
S100, S95 = P(100).symbol, P(95).symbol


def spread_book() -> OptionBook:
    return book_with(AccountState("a", Decimal(100_000)), (SPREAD, 1, [0.8, 2.0]))


def exits(
    book: OptionBook, prices: dict[str, float], day: date, config: OptionsRiskConfig
) -> list[str]:
    return [e.rule for e in monitor(book, prices, day, config)]


def test_a_spread_is_closed_at_the_auto_close_dte_and_not_a_day_before() -> None:
    book, quiet = spread_book(), {S100: 1.5, S95: 0.5}  # gain 0.20: no price rule fires
    assert exits(book, quiet, EXP - timedelta(4), cfg()) == []
    assert exits(book, quiet, EXP - timedelta(3), cfg()) == ["auto_close"]
    assert exits(book, quiet, EXP - timedelta(3), cfg(auto_close_dte=2)) == []
    assert exits(book, {}, EXP - timedelta(1), cfg()) == ["auto_close"]  # no marks: DTE still


def test_a_cash_secured_put_is_held_into_expiry() -> None:
    book = book_with(AccountState("a", Decimal(100_000)), (cash_secured_put(P(100)), 1, [1.5]))
    assert exits(book, {S100: 1.4}, EXP - timedelta(1), cfg()) == []


def test_take_profit_at_its_share_of_the_max_gain() -> None:
    book = spread_book()
    assert exits(book, {S100: 1.0, S95: 0.4}, DAY, cfg()) == ["take_profit"]  # gain 0.60 of 1.20
    assert exits(book, {S100: 1.01, S95: 0.4}, DAY, cfg()) == []
    assert exits(book, {S100: 1.0, S95: 0.4}, DAY, cfg(take_profit=0.6)) == []
    assert exits(book, {S100: 1.0, S95: 0.4}, DAY, cfg(take_profit=None)) == []


def test_the_stop_at_the_max_loss_fires_only_when_the_mark_says_it_is_lost() -> None:
    book = spread_book()
    lost = {S100: 5.5, S95: 0.5}  # worth -5.00: loss 3.80, the whole max loss
    assert exits(book, lost, DAY, cfg()) == ["stop_loss"]
    nearly = {S100: 5.4, S95: 0.5}  # loss 3.70
    assert exits(book, nearly, DAY, cfg()) == []
    assert exits(book, nearly, DAY, cfg(stop_loss=0.9)) == ["stop_loss"]
    assert exits(book, lost, DAY, cfg(stop_loss=None)) == []


def test_the_stop_on_the_credit_fires_at_a_loss_equal_to_the_credit() -> None:
    book = spread_book()
    credit = cfg(stop_basis="credit")
    assert exits(book, {S100: 2.9, S95: 0.5}, DAY, credit) == ["stop_loss"]  # loss 1.20
    assert exits(book, {S100: 2.8, S95: 0.5}, DAY, credit) == []  # loss 1.10
    assert exits(book, {S100: 2.9, S95: 0.5}, DAY, cfg()) == []  # the max-loss basis waits


def test_a_covered_call_has_no_stop_but_takes_its_profit() -> None:
    state = AccountState("a", Decimal(0))
    state.positions[ROOT] = Position(ROOT, Decimal(100), Decimal(90), DAY)
    book = book_with(state, (covered_call(C(110)), 1, [1.2]))
    call = C(110).symbol
    assert exits(book, {call: 30.0}, DAY, cfg(stop_basis="credit")) == []
    assert exits(book, {call: 0.6}, DAY, cfg()) == ["take_profit"]


def test_a_debit_spread_takes_profit_on_width_minus_debit_and_stops_on_its_debit() -> None:
    state = AccountState("a", Decimal(100_000))
    book = book_with(state, (bull_call(C(100), C(105)), 1, [3.0, 1.0]))  # debit 2, max gain 3
    c100, c105 = C(100).symbol, C(105).symbol
    assert exits(book, {c100: 5.0, c105: 1.5}, DAY, cfg()) == ["take_profit"]  # gain 1.50
    assert exits(book, {c100: 0.5, c105: 0.5}, DAY, cfg()) == ["stop_loss"]  # worth 0: lost
    assert exits(book, {c100: 0.6, c105: 0.5}, DAY, cfg()) == []
