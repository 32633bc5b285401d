"""RiskEngine.plan: a proposal in, order intents that obey every hard rule out."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from invest.runtime.brokers.fills import FillModel
from invest.runtime.domain import HaltState, OrderIntent, Side, client_order_id
from invest.runtime.market import Market
from invest.runtime.risk.engine import RiskEngine, RiskResult
from tests.runtime.conftest import (
    account,
    build_market4,
    columns,
    engine,
    make_market,
    position,
    proposal,
    relaxed_risk,
    rising,
)

T = 29  # last row of the market4 fixture: A=100, B=50, C=20, D=10
CYCLE = "acct:2022-02-11"
MARKET4 = build_market4()  # for property tests, which cannot take function-scoped fixtures


def _by_symbol(res: RiskResult) -> dict[str, OrderIntent]:
    return {i.symbol: i for i in res.intents}


def _rules(res: RiskResult) -> list[tuple[str, str]]:
    return [(c.rule, c.symbol) for c in res.clamps]


def _old(market: Market) -> object:
    return market.day(T) - timedelta(days=365)


# -- halt states -------------------------------------------------------------------------


def test_a_halted_account_gets_no_orders_and_one_halt_clamp(market4: Market) -> None:
    state = account(
        5_000,
        position("A", 10, 200, _old(market4)),  # stop-loss hit: still no order
        halt=HaltState.HALTED,
    )
    res = engine(relaxed_risk(stop_loss_pct=0.15)).plan(
        market4, T, CYCLE, state, proposal(B=0.5, C=0.3)
    )
    assert res.intents == []
    assert _rules(res) == [("halt", "*")]
    assert "HALTED" in res.clamps[0].reason


def test_a_reducing_account_only_sells(market4: Market) -> None:
    state = account(
        4_800,
        position("A", 50, 100, _old(market4)),  # 5,000 of 10,000: trimmed to 20%
        position("C", 10, 40, _old(market4)),  # 200, stop-loss hit
        halt=HaltState.REDUCING,
    )
    res = engine(relaxed_risk(stop_loss_pct=0.15)).plan(
        market4, T, CYCLE, state, proposal(A=0.2, B=0.5, D=0.2)
    )
    intents = _by_symbol(res)
    assert set(intents) == {"A", "C"}
    assert all(i.side is Side.SELL for i in res.intents)
    assert float(intents["A"].quantity) == pytest.approx(30, abs=1e-5)
    assert intents["C"].quantity == Decimal(10)
    assert ("halt", "*") in _rules(res)
    assert "sells only" in next(c.reason for c in res.clamps if c.rule == "halt")


def test_an_active_account_with_the_same_proposal_also_buys(market4: Market) -> None:
    state = account(5_000, position("A", 50, 100, _old(market4)))
    res = engine(relaxed_risk()).plan(market4, T, CYCLE, state, proposal(A=0.2, B=0.3, D=0.1))
    sides = {i.symbol: i.side for i in res.intents}
    assert sides == {"A": Side.SELL, "B": Side.BUY, "D": Side.BUY}


# -- position monitors ---------------------------------------------------------------------


def test_a_stop_loss_sells_the_whole_position_even_before_the_min_holding_period(
    market4: Market,
) -> None:
    yesterday = market4.day(T) - timedelta(days=1)
    state = account(1_000, position("A", 10, 200, yesterday))
    risk = relaxed_risk(stop_loss_pct=0.15, min_holding_days=5)
    res = engine(risk).plan(market4, T, CYCLE, state, proposal(A=0.5))
    assert len(res.intents) == 1
    sell = res.intents[0]
    assert (sell.symbol, sell.side, sell.quantity) == ("A", Side.SELL, Decimal(10))
    assert sell.reason.startswith("stop_loss:")
    assert ("stop_loss", "A") in _rules(res)
    assert ("min_holding", "A") not in _rules(res)
    assert "A" not in res.targets  # the strategy's wish to keep it is dropped


def test_monitors_run_without_a_proposal(market4: Market) -> None:
    state = account(
        1_000,
        position("A", 10, 200, _old(market4)),
        position("B", 10, 49, _old(market4)),
    )
    res = engine(relaxed_risk(stop_loss_pct=0.15)).plan(market4, T, CYCLE, state, None)
    assert [(i.symbol, i.side) for i in res.intents] == [("A", Side.SELL)]


def test_a_time_stop_forces_a_full_exit(market4: Market) -> None:
    state = account(1_000, position("B", 7, 50, market4.day(T) - timedelta(days=30)))
    res = engine(relaxed_risk(time_stop_days=30)).plan(market4, T, CYCLE, state, proposal(B=0.9))
    assert [(i.symbol, i.side, i.quantity) for i in res.intents] == [("B", Side.SELL, Decimal(7))]
    assert ("time_stop", "B") in _rules(res)


# -- minimum holding period ------------------------------------------------------------------


def test_the_min_holding_period_blocks_a_rebalancing_sell(market4: Market) -> None:
    two_days = market4.day(T) - timedelta(days=2)
    state = account(1_000, position("A", 10, 100, two_days))
    res = engine(relaxed_risk(min_holding_days=5)).plan(market4, T, CYCLE, state, proposal())
    assert res.intents == []
    assert _rules(res) == [("min_holding", "A")]
    assert res.clamps[0].reason == "held 2 < 5 days: sell waits"


def test_the_min_holding_period_also_blocks_a_trim(market4: Market) -> None:
    two_days = market4.day(T) - timedelta(days=2)
    state = account(0, position("A", 100, 100, two_days))
    res = engine(relaxed_risk(min_holding_days=5)).plan(market4, T, CYCLE, state, proposal(A=0.5))
    assert res.intents == []
    assert ("min_holding", "A") in _rules(res)


def test_a_position_old_enough_is_sold_when_its_target_is_zero(market4: Market) -> None:
    five_days = market4.day(T) - timedelta(days=5)
    state = account(1_000, position("A", 10, 100, five_days))
    res = engine(relaxed_risk(min_holding_days=5)).plan(market4, T, CYCLE, state, proposal())
    assert [(i.symbol, i.side, i.quantity, i.reason) for i in res.intents] == [
        ("A", Side.SELL, Decimal(10), "target 0")
    ]


# -- trades per cycle --------------------------------------------------------------------------


def test_max_trades_keeps_every_forced_exit_even_over_the_cap(market4: Market) -> None:
    state = account(
        10_000,
        position("C", 10, 40, _old(market4)),
        position("D", 10, 20, _old(market4)),
    )
    risk = relaxed_risk(stop_loss_pct=0.15, max_trades_per_cycle=1)
    res = engine(risk).plan(market4, T, CYCLE, state, proposal(A=0.3, B=0.3))
    assert sorted((i.symbol, i.side) for i in res.intents) == [("C", Side.SELL), ("D", Side.SELL)]
    assert sorted(s for r, s in _rules(res) if r == "max_trades") == ["A", "B"]


def test_max_trades_drops_the_smallest_buys(market4: Market) -> None:
    state = account(10_000)
    risk = relaxed_risk(max_trades_per_cycle=2)
    res = engine(risk).plan(market4, T, CYCLE, state, proposal(A=0.3, B=0.1, C=0.2))
    assert sorted(i.symbol for i in res.intents) == ["A", "C"]
    dropped = [c for c in res.clamps if c.rule == "max_trades"]
    assert [c.symbol for c in dropped] == ["B"]
    assert dropped[0].reason == "over 2 trades per cycle: buy dropped"


def test_max_trades_keeps_sells_before_buys(market4: Market) -> None:
    state = account(10_000, position("D", 5, 10, _old(market4)))  # a 50-dollar sell
    risk = relaxed_risk(max_trades_per_cycle=1)
    res = engine(risk).plan(market4, T, CYCLE, state, proposal(A=0.5))
    assert [(i.symbol, i.side) for i in res.intents] == [("D", Side.SELL)]
    assert ("max_trades", "A") in _rules(res)


def test_forced_exits_use_up_the_trade_cap(market4: Market) -> None:
    state = account(10_000, position("C", 10, 40, _old(market4)))
    risk = relaxed_risk(stop_loss_pct=0.15, max_trades_per_cycle=2)
    res = engine(risk).plan(market4, T, CYCLE, state, proposal(A=0.3, B=0.2))
    assert [(i.symbol, i.side) for i in res.intents] == [("C", Side.SELL), ("A", Side.BUY)]


# -- anti-leverage -----------------------------------------------------------------------------


def test_buys_are_sized_from_cash_minus_the_reserve_not_from_equity(market4: Market) -> None:
    # Equity 10,000 of which 8,000 is in A; the proposal wants 90% in B.
    state = account(2_000, position("A", 80, 100, _old(market4)))
    risk = relaxed_risk(min_cash_pct=0.05)
    res = engine(risk).plan(market4, T, CYCLE, state, proposal(A=0.0, B=0.9))
    buy = _by_symbol(res)["B"]
    # 2,000 cash - 500 reserve = 1,500 at 50: 30 shares, not 180 (equity-sized)
    assert buy.quantity == Decimal(30)
    assert ("cash", "B") in _rules(res)
    sell = _by_symbol(res)["A"]
    assert sell.side is Side.SELL  # its proceeds are not spent in the same cycle


def test_no_buys_when_cash_is_inside_the_reserve(market4: Market) -> None:
    state = account(400, position("A", 96, 100, _old(market4)))  # cash 4% < 5% reserve
    res = engine(relaxed_risk(min_cash_pct=0.05)).plan(
        market4, T, CYCLE, state, proposal(A=0.5, B=0.4)
    )
    assert [i.side for i in res.intents] == [Side.SELL]


@settings(max_examples=200, deadline=None)
@given(
    cash=st.decimals("0", "100000", places=2),
    held=st.lists(st.integers(0, 200), min_size=4, max_size=4),
    weights=st.lists(st.floats(0.0, 1.5), min_size=4, max_size=4),
    reserve=st.floats(0.0, 0.5),
    cap=st.floats(0.05, 1.0),
    slippage=st.floats(0.0, 100.0),
    commission=st.floats(0.0, 0.02),
    min_commission=st.sampled_from([0.0, 1.0, 5.0]),
    fractional=st.booleans(),
)
def test_buys_never_cost_more_than_settled_cash_minus_the_reserve(
    cash: Decimal,
    held: list[int],
    weights: list[float],
    reserve: float,
    cap: float,
    slippage: float,
    commission: float,
    min_commission: float,
    fractional: bool,
) -> None:
    market4 = MARKET4
    syms = ("A", "B", "C", "D")
    old = _old(market4)
    state = account(
        cash,
        *(position(s, q, market4.price(s, T), old) for s, q in zip(syms, held, strict=True) if q),
    )
    fills = FillModel(slippage, commission, min_commission, fractional)
    risk = relaxed_risk(min_cash_pct=reserve, max_position_pct=cap)
    res = engine(risk, fills).plan(
        market4, T, CYCLE, state, proposal(**dict(zip(syms, weights, strict=True)))
    )
    budget = float(cash) - reserve * res.equity
    cost = 0.0
    for i in res.intents:
        if i.side is Side.BUY:
            px = fills.price(Side.BUY, float(i.ref_price))
            cost += float(i.quantity) * px + float(fills.fees(float(i.quantity) * px))
            assert i.quantity > 0
            assert fractional or i.quantity == i.quantity.to_integral_value()
    assert cost <= max(budget, 0.0) + 0.01
    for i in res.intents:
        if i.side is Side.SELL:
            assert 0 < i.quantity <= state.positions[i.symbol].quantity


# -- tolerance band ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (0.22, None),  # +200 of 10,000: inside the 5% band
        (0.26, (Side.BUY, 6)),  # +600: outside
        (0.16, None),  # -400: inside
        (0.14, (Side.SELL, 6)),  # -600: outside
        (0.0, (Side.SELL, 20)),  # a zero target always exits
    ],
)
def test_the_tolerance_band_skips_small_weight_changes(
    market4: Market, target: float, expected: tuple[Side, int] | None
) -> None:
    state = account(8_000, position("A", 20, 100, _old(market4)))  # A is 20% of 10,000
    res = engine(relaxed_risk(rebalance_band=0.05)).plan(
        market4, T, CYCLE, state, proposal(A=target)
    )
    got = [(i.side, pytest.approx(float(i.quantity), abs=1e-5)) for i in res.intents]
    assert got == ([] if expected is None else [expected])


def test_the_band_does_not_block_opening_a_position_smaller_than_it(market4: Market) -> None:
    """A 20-name equal-weight book holds 4.75% slots: under a 5% band none ever opened."""
    res = engine(relaxed_risk(rebalance_band=0.05)).plan(
        market4, T, CYCLE, account(10_000), proposal(A=0.03)
    )
    assert [(i.symbol, i.side) for i in res.intents] == [("A", Side.BUY)]
    assert float(res.intents[0].quantity) * 100 == pytest.approx(300, rel=0.01)


# -- drawdown brake -------------------------------------------------------------------------------


def test_the_drawdown_brake_cuts_the_book_and_is_remembered(market4: Market) -> None:
    # 5,000 cash + 100 B at 50: equity 10,000, invested, -50% from the peak.
    state = account(5_000, position("B", 100, 50, _old(market4)), peak_equity=20_000.0)
    risk = relaxed_risk(drawdown_brake_pct=0.20, drawdown_cut=0.5)
    res = engine(risk).plan(market4, T, CYCLE, state, proposal(A=0.8))
    assert state.brake is True
    assert state.peak_equity == 20_000.0
    assert res.drawdown == pytest.approx(-0.5)
    assert res.targets == pytest.approx({"A": 0.4})
    assert _by_symbol(res)["A"].quantity == Decimal(40)
    assert ("drawdown_brake", "*") in _rules(res)


def test_the_drawdown_brake_engages_at_the_trigger_while_the_book_is_invested(
    market4: Market,
) -> None:
    # 8,000 in A and no cash: exactly -20% from a 10,000 peak.
    state = account(0, position("A", 80, 100, _old(market4)), peak_equity=10_000.0)
    risk = relaxed_risk(drawdown_brake_pct=0.20, drawdown_cut=0.5)
    res = engine(risk).plan(market4, T, CYCLE, state, proposal(A=0.8))
    assert state.brake is True
    assert res.targets == pytest.approx({"A": 0.4})
    assert _by_symbol(res)["A"].side is Side.SELL  # the book is cut: 80 -> 32 shares
    assert float(_by_symbol(res)["A"].quantity) == pytest.approx(48)


def test_a_flat_book_releases_a_latched_brake_and_buys_at_full_size(market4: Market) -> None:
    # The latch the old rule left: all cash 25% below the peak, the brake engaged. Cash
    # cannot recover a drawdown, so the old rule kept the book at half size for good.
    state = account(7_500, peak_equity=10_000.0, brake=True)
    risk = relaxed_risk(drawdown_brake_pct=0.20, drawdown_cut=0.5)
    res = engine(risk).plan(market4, T, CYCLE, state, proposal(A=0.8))
    assert state.brake is False
    assert state.peak_equity == 7_500.0  # re-based: the loss is realised
    assert res.drawdown == 0.0
    assert res.targets == pytest.approx({"A": 0.8})
    assert _by_symbol(res)["A"].quantity == Decimal(60)  # 6,000 / 100
    assert "drawdown_brake" not in {c.rule for c in res.clamps}


def test_drawdown_flat_pct_zero_keeps_the_old_latch(market4: Market) -> None:
    state = account(7_500, peak_equity=10_000.0, brake=True)
    risk = relaxed_risk(drawdown_brake_pct=0.20, drawdown_cut=0.5, drawdown_flat_pct=0.0)
    res = engine(risk).plan(market4, T, CYCLE, state, proposal(A=0.8))
    assert state.brake is True
    assert res.targets == pytest.approx({"A": 0.4})


def test_a_book_invested_above_the_flat_threshold_keeps_its_peak(market4: Market) -> None:
    # 2% invested (one A at 100 on 5,000 equity) is above the 1% default: not flat.
    state = account(4_900, position("A", 1, 100, _old(market4)), peak_equity=10_000.0, brake=True)
    engine(relaxed_risk()).plan(market4, T, CYCLE, state, None)
    assert state.peak_equity == 10_000.0
    assert state.brake is True
    # A quarter share (25 of 5,000: 0.5%) is under it: flat, so the peak re-bases.
    state = account(
        4_975, position("A", "0.25", 100, _old(market4)), peak_equity=10_000.0, brake=True
    )
    engine(relaxed_risk()).plan(market4, T, CYCLE, state, None)
    assert state.peak_equity == pytest.approx(5_000.0)
    assert state.brake is False


def test_the_peak_equity_follows_new_highs(market4: Market) -> None:
    state = account(1_000, position("A", 10, 50, _old(market4)), peak_equity=500.0)
    engine(relaxed_risk()).plan(market4, T, CYCLE, state, None)
    assert state.peak_equity == pytest.approx(2_000.0)


# -- buy filters ------------------------------------------------------------------------------------


def test_a_buy_of_a_symbol_without_a_bar_today_is_blocked_with_the_reason() -> None:
    closes, syms = columns(A=rising(30), B=rising(30, 50))
    closes[-1, 1] = np.nan
    market = make_market(closes, syms)
    res = engine(relaxed_risk()).plan(market, T, CYCLE, account(10_000), proposal(A=0.3, B=0.3))
    assert [i.symbol for i in res.intents] == ["A"]
    data = [c for c in res.clamps if c.rule == "data"]
    assert [c.symbol for c in data] == ["B"]
    assert "no close" in data[0].reason


def test_a_buy_below_the_dollar_volume_floor_is_blocked() -> None:
    closes, syms = columns(A=rising(30), B=rising(30, 50))
    volume = np.column_stack([np.full(30, 1e6), np.full(30, 100.0)])
    market = make_market(closes, syms, volume=volume)
    risk = relaxed_risk(min_dollar_volume=1_000_000.0)
    res = engine(risk).plan(market, T, CYCLE, account(10_000), proposal(A=0.3, B=0.3))
    assert [i.symbol for i in res.intents] == ["A"]
    assert ("liquidity", "B") in _rules(res)


def test_a_window_without_any_volume_skips_the_dollar_volume_floor() -> None:
    closes, syms = columns(A=rising(30), B=rising(30, 50))
    volume = np.column_stack([np.full(30, np.nan), np.full(30, 100.0)])
    volume[-5:, 1] = np.nan  # B: the last 5 days lack volume, the 15 before are thin
    market = make_market(closes, syms, volume=volume)
    risk = relaxed_risk(min_dollar_volume=1_000_000.0)
    res = engine(risk).plan(market, T, CYCLE, account(10_000), proposal(A=0.3, B=0.3))
    assert [i.symbol for i in res.intents] == ["A"]
    assert _rules(res) == [("liquidity", "B")]


def test_the_price_floor_applies_to_raw_data_but_not_to_adjusted_data() -> None:
    closes, syms = columns(P=rising(30, 1.0, 0.01))  # a 1.29 stock
    risk = relaxed_risk(min_price=5.0)
    raw = engine(risk).plan(make_market(closes, syms), T, CYCLE, account(1_000), proposal(P=0.5))
    assert raw.intents == []
    assert ("liquidity", "P") in _rules(raw)
    adj = make_market(closes, syms, adjusted=True)
    res = engine(risk).plan(adj, T, CYCLE, account(1_000), proposal(P=0.5))
    assert [i.symbol for i in res.intents] == ["P"]


def test_a_correlated_buy_is_made_with_a_warning_clamp() -> None:
    rng = np.random.default_rng(3)
    a = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, 80)))
    closes, syms = columns(A=a, B=a / 2, C=rising(80))
    market = make_market(closes, syms)
    state = account(10_000, position("A", 10, a[-1], market.day(0)))
    risk = relaxed_risk(correlation_warn=0.9)
    res = engine(risk).plan(market, 79, CYCLE, state, proposal(A=0.1, B=0.3))
    assert "B" in _by_symbol(res)
    warn = [c for c in res.clamps if c.rule == "correlation"]
    assert [c.symbol for c in warn] == ["B"]
    assert "with A" in warn[0].reason


# -- pending orders, ids and explanations --------------------------------------------------------------


def test_symbols_with_pending_orders_are_skipped(market4: Market) -> None:
    state = account(10_000, position("A", 10, 200, _old(market4)))  # stop-loss hit
    risk = relaxed_risk(stop_loss_pct=0.15)
    res = engine(risk).plan(market4, T, CYCLE, state, proposal(B=0.2, C=0.2), pending={"A", "B"})
    assert [i.symbol for i in res.intents] == ["C"]
    assert not any(c.symbol in {"A", "B"} for c in res.clamps)


def test_intents_carry_the_idempotent_client_id_and_the_reference_close(market4: Market) -> None:
    res = engine(relaxed_risk()).plan(market4, T, CYCLE, account(10_000), proposal(B=0.5))
    (buy,) = res.intents
    assert buy.account == "acct"
    assert buy.cycle_id == CYCLE
    assert buy.client_order_id == client_order_id("acct", CYCLE, "B", Side.BUY)
    assert buy.ref_price == Decimal("50")
    assert buy.quantity == Decimal(100)


def test_every_clamp_names_its_rule_symbol_and_reason(market4: Market) -> None:
    yesterday = market4.day(T) - timedelta(days=1)
    state = account(
        3_000,
        position("A", 10, 200, _old(market4)),  # stop-loss
        position("B", 40, 50, yesterday),  # too young to trim
        peak_equity=100_000.0,  # drawdown brake
    )
    risk = relaxed_risk(
        stop_loss_pct=0.15,
        min_holding_days=5,
        max_position_pct=0.3,
        min_cash_pct=0.1,
        max_trades_per_cycle=1,
        min_price=15.0,
    )
    res = engine(risk).plan(market4, T, CYCLE, state, proposal(A=0.5, B=0.1, C=1.0, D=0.5))
    rules = {c.rule for c in res.clamps}
    assert {"stop_loss", "drawdown_brake", "max_position", "min_holding", "liquidity"} <= rules
    for c in res.clamps:
        assert c.rule
        assert c.symbol
        assert c.reason
        assert c.as_dict() == {"rule": c.rule, "symbol": c.symbol, "reason": c.reason}


def test_plan_does_not_touch_cash_or_positions(market4: Market) -> None:
    state = account(5_000, position("A", 50, 100, _old(market4)))
    RiskEngine("acct", relaxed_risk(), FillModel()).plan(market4, T, CYCLE, state, proposal(B=0.9))
    assert state.cash == Decimal(5_000)
    assert state.positions["A"].quantity == Decimal(50)


def test_a_proposed_symbol_missing_from_the_data_is_skipped_with_a_reason(
    market4: Market,
) -> None:
    res = engine(relaxed_risk()).plan(market4, T, CYCLE, account(10_000), proposal(ZZZ=0.5, A=0.2))
    assert [i.symbol for i in res.intents] == ["A"]
    assert ("data", "ZZZ") in _rules(res)
    assert "ZZZ" not in res.targets


def test_a_holding_missing_from_the_data_is_valued_at_cost_and_left_alone(
    market4: Market,
) -> None:
    state = account(1_000, position("ZZZ", 10, 50, _old(market4)))
    risk = relaxed_risk(stop_loss_pct=0.15, correlation_warn=0.5)
    res = engine(risk).plan(market4, T, CYCLE, state, proposal(A=0.5))
    assert res.equity == pytest.approx(1_500.0)
    assert [(i.symbol, i.side) for i in res.intents] == [("A", Side.BUY)]
    assert ("data", "ZZZ") in _rules(res)
