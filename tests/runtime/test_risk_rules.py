"""The hard risk rules as pure functions: exits, drawdown brake, caps, liquidity, correlation."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from invest.runtime.config import RiskProfile
from invest.runtime.risk.rules import (
    cap_weights,
    correlated_with,
    drawdown_brake,
    exit_reason,
    high_water,
    liquidity_reason,
)
from tests.runtime.conftest import position, relaxed_risk

DAY = date(2022, 6, 1)
OPENED = DAY - timedelta(days=10)


# -- exit_reason: stop-loss ------------------------------------------------------------


def test_stop_loss_fires_at_the_stop_level_and_not_above_it() -> None:
    risk = relaxed_risk(stop_loss_pct=0.15)
    pos = position("A", 10, 100, OPENED)
    assert exit_reason(pos, 85.01, DAY, risk) is None
    hit = exit_reason(pos, 85.0, DAY, risk)
    assert hit is not None
    assert hit[0] == "stop_loss"
    assert "85.00" in hit[1]
    assert exit_reason(pos, 40.0, DAY, risk) == (
        "stop_loss",
        hit[1].replace("85.00 <=", "40.00 <="),
    )


def test_no_stop_loss_when_the_profile_disables_it_and_the_position_sets_none() -> None:
    pos = position("A", 10, 100, OPENED)
    assert exit_reason(pos, 1.0, DAY, relaxed_risk(stop_loss_pct=None)) is None


def test_a_position_stop_loss_overrides_a_wider_profile_stop() -> None:
    risk = relaxed_risk(stop_loss_pct=0.15)
    tight = position("A", 10, 100, OPENED, stop_loss_pct=0.05)
    hit = exit_reason(tight, 94.0, DAY, risk)
    assert hit is not None
    assert hit[0] == "stop_loss"
    assert exit_reason(position("A", 10, 100, OPENED), 94.0, DAY, risk) is None


def test_a_position_stop_loss_overrides_a_tighter_profile_stop() -> None:
    loose = position("A", 10, 100, OPENED, stop_loss_pct=0.30)
    assert exit_reason(loose, 80.0, DAY, relaxed_risk(stop_loss_pct=0.15)) is None
    assert exit_reason(loose, 70.0, DAY, relaxed_risk(stop_loss_pct=0.15)) is not None


def test_a_position_stop_loss_applies_even_when_the_profile_has_none() -> None:
    pos = position("A", 10, 100, OPENED, stop_loss_pct=0.10)
    hit = exit_reason(pos, 89.0, DAY, relaxed_risk(stop_loss_pct=None))
    assert hit is not None
    assert hit[0] == "stop_loss"


# -- exit_reason: take-profit ---------------------------------------------------------


def test_take_profit_fires_at_its_level_and_not_below() -> None:
    risk = relaxed_risk(take_profit_pct=0.20)
    pos = position("A", 10, 100, OPENED)
    assert exit_reason(pos, 119.99, DAY, risk) is None
    hit = exit_reason(pos, 120.0, DAY, risk)
    assert hit is not None
    assert hit[0] == "take_profit"
    assert "120.00" in hit[1]


def test_take_profit_is_off_by_default_in_the_profile() -> None:
    assert RiskProfile().take_profit_pct is None
    pos = position("A", 10, 100, OPENED)
    assert exit_reason(pos, 1_000.0, DAY, RiskProfile()) is None


def test_a_position_take_profit_overrides_the_profile() -> None:
    pos = position("A", 10, 100, OPENED, take_profit_pct=0.10)
    assert exit_reason(pos, 109.0, DAY, relaxed_risk()) is None
    hit = exit_reason(pos, 110.5, DAY, relaxed_risk(take_profit_pct=0.50))
    assert hit is not None
    assert hit[0] == "take_profit"


# -- exit_reason: time stop ------------------------------------------------------------


def test_time_stop_fires_once_the_position_is_that_many_days_old() -> None:
    risk = relaxed_risk(time_stop_days=30)
    pos = position("A", 10, 100, DAY - timedelta(days=29))
    assert exit_reason(pos, 100.0, DAY, risk) is None
    hit = exit_reason(pos, 100.0, DAY + timedelta(days=1), risk)
    assert hit == ("time_stop", "held 30 days >= 30")


def test_a_position_time_stop_overrides_the_profile() -> None:
    pos = position("A", 10, 100, DAY - timedelta(days=3), time_stop_days=3)
    assert exit_reason(pos, 100.0, DAY, relaxed_risk(time_stop_days=None)) == (
        "time_stop",
        "held 3 days >= 3",
    )
    patient = position("A", 10, 100, DAY - timedelta(days=40), time_stop_days=60)
    assert exit_reason(patient, 100.0, DAY, relaxed_risk(time_stop_days=30)) is None


def test_stop_loss_is_reported_before_a_time_stop_that_also_fires() -> None:
    risk = relaxed_risk(stop_loss_pct=0.1, time_stop_days=5)
    pos = position("A", 10, 100, DAY - timedelta(days=50))
    hit = exit_reason(pos, 50.0, DAY, risk)
    assert hit is not None
    assert hit[0] == "stop_loss"


def test_no_exit_for_a_quiet_position_under_the_default_profile() -> None:
    pos = position("A", 10, 100, OPENED)
    assert exit_reason(pos, 101.0, DAY, RiskProfile()) is None


# -- drawdown_brake ---------------------------------------------------------------------


def test_drawdown_brake_stays_off_above_the_threshold() -> None:
    risk = relaxed_risk(drawdown_brake_pct=0.20)
    engaged, dd = drawdown_brake(81.0, 100.0, False, risk)
    assert engaged is False
    assert dd == pytest.approx(-0.19)


def test_drawdown_brake_engages_at_exactly_the_threshold() -> None:
    engaged, dd = drawdown_brake(80.0, 100.0, False, relaxed_risk(drawdown_brake_pct=0.20))
    assert engaged is True
    assert dd == pytest.approx(-0.20)


def test_drawdown_brake_engages_beyond_the_threshold() -> None:
    engaged, _ = drawdown_brake(50.0, 100.0, False, relaxed_risk(drawdown_brake_pct=0.20))
    assert engaged is True


def test_engaged_drawdown_brake_holds_until_the_drawdown_recovers_to_half() -> None:
    risk = relaxed_risk(drawdown_brake_pct=0.20)
    # -15% and -10.5%: better than the trigger but not yet back to half of it
    assert drawdown_brake(85.0, 100.0, True, risk)[0] is True
    assert drawdown_brake(89.5, 100.0, True, risk)[0] is True
    # -10%: recovered to half the trigger, released
    assert drawdown_brake(90.0, 100.0, True, risk)[0] is False
    assert drawdown_brake(95.0, 100.0, True, risk)[0] is False


def test_a_released_brake_does_not_engage_again_between_half_and_the_trigger() -> None:
    risk = relaxed_risk(drawdown_brake_pct=0.20)
    assert drawdown_brake(85.0, 100.0, False, risk)[0] is False


def test_drawdown_brake_with_no_peak_yet_reports_no_drawdown() -> None:
    assert drawdown_brake(100.0, 0.0, False, relaxed_risk()) == (False, 0.0)


@settings(max_examples=200, deadline=None)
@given(
    peak=st.floats(1.0, 1e7),
    ratio=st.floats(0.0, 1.0),
    engaged=st.booleans(),
    pct=st.floats(0.01, 0.99),
)
def test_drawdown_brake_has_hysteresis_between_the_trigger_and_half_of_it(
    peak: float, ratio: float, engaged: bool, pct: float
) -> None:
    risk = relaxed_risk(drawdown_brake_pct=pct)
    on, dd = drawdown_brake(peak * ratio, peak, engaged, risk)
    assert dd == pytest.approx(ratio - 1, abs=1e-9)
    if dd < -pct - 1e-9:
        assert on
    elif dd > -pct / 2 + 1e-9:
        assert not on
    elif -pct + 1e-9 < dd < -pct / 2 - 1e-9:
        assert on is engaged  # inside the band the previous state holds


# -- high_water: the peak the drawdown is measured from -------------------------------------


def test_the_peak_follows_new_highs_and_holds_through_a_drawdown() -> None:
    risk = relaxed_risk()
    assert high_water(120.0, 100.0, 100.0, False, risk) == 120.0
    assert high_water(80.0, 60.0, 100.0, True, risk) == 100.0  # invested: the peak holds


def test_a_flat_book_under_an_engaged_brake_rebases_the_peak_to_its_equity() -> None:
    risk = relaxed_risk()  # drawdown_flat_pct 1% by default
    assert high_water(75.0, 0.0, 100.0, True, risk) == 75.0
    assert high_water(75.0, 0.7, 100.0, True, risk) == 75.0  # 0.93% invested: flat
    assert high_water(75.0, 0.8, 100.0, True, risk) == 100.0  # 1.07%: still a book to protect


def test_a_flat_book_without_the_brake_keeps_its_peak() -> None:
    # Losses on both sides of a flat spell add up: -15%, cash, then -5% more trips -20%.
    assert high_water(85.0, 0.0, 100.0, False, relaxed_risk()) == 100.0


def test_the_rebase_releases_a_latched_brake_that_the_old_rule_kept() -> None:
    risk = relaxed_risk(drawdown_brake_pct=0.20)
    # All cash 25% below the old peak, the brake engaged: the old rule holds it for good.
    assert drawdown_brake(75.0, 100.0, True, risk)[0] is True
    peak = high_water(75.0, 0.0, 100.0, True, risk)
    assert drawdown_brake(75.0, peak, True, risk) == (False, 0.0)
    # drawdown_flat_pct = 0 is the old rule: cash never re-bases the peak.
    assert high_water(75.0, 0.0, 100.0, True, relaxed_risk(drawdown_flat_pct=0.0)) == 100.0


# -- cap_weights ------------------------------------------------------------------------


def test_cap_weights_caps_each_name_at_the_max_position() -> None:
    risk = relaxed_risk(max_position_pct=0.20)
    out, clamps = cap_weights({"A": 0.5, "B": 0.1, "C": 0.25}, risk)
    assert out == pytest.approx({"A": 0.20, "B": 0.10, "C": 0.20})
    assert [(c.rule, c.symbol) for c in clamps] == [("max_position", "A"), ("max_position", "C")]
    assert "50.0%" in clamps[0].reason


def test_cap_weights_scales_the_sum_down_to_one_minus_the_cash_reserve() -> None:
    risk = relaxed_risk(max_position_pct=1.0, min_cash_pct=0.10)
    out, clamps = cap_weights({"A": 0.6, "B": 0.3, "C": 0.3}, risk)
    assert sum(out.values()) == pytest.approx(0.90)
    assert out["A"] / out["B"] == pytest.approx(2.0)
    assert [(c.rule, c.symbol) for c in clamps] == [("cash_reserve", "*")]


def test_cap_weights_caps_names_before_scaling_the_sum() -> None:
    risk = relaxed_risk(max_position_pct=0.4, min_cash_pct=0.2)
    out, clamps = cap_weights({"A": 0.9, "B": 0.4, "C": 0.4}, risk)
    # capped to 0.4 each (sum 1.2), then scaled to 0.8: equal thirds
    assert out == pytest.approx({"A": 0.8 / 3, "B": 0.8 / 3, "C": 0.8 / 3})
    assert [c.rule for c in clamps] == ["max_position", "cash_reserve"]


def test_cap_weights_leaves_weights_within_limits_alone() -> None:
    risk = relaxed_risk(max_position_pct=0.25, min_cash_pct=0.05)
    targets = {"A": 0.25, "B": 0.25, "C": 0.25, "D": 0.20}
    assert cap_weights(targets, risk) == (targets, [])


@settings(max_examples=200, deadline=None)
@given(
    targets=st.dictionaries(
        st.sampled_from("ABCDEFGH"), st.floats(0.0, 3.0, allow_nan=False), max_size=8
    ),
    cap=st.floats(0.01, 1.0),
    reserve=st.floats(0.0, 0.99),
)
def test_capped_weights_never_break_either_limit(
    targets: dict[str, float], cap: float, reserve: float
) -> None:
    risk = relaxed_risk(max_position_pct=cap, min_cash_pct=reserve)
    out, _ = cap_weights(targets, risk)
    assert set(out) == set(targets)
    assert all(0 <= w <= cap + 1e-9 for w in out.values())
    assert sum(out.values()) <= 1 - reserve + 1e-9
    assert all(out[s] <= targets[s] + 1e-12 for s in targets)  # only ever shrinks


# -- liquidity_reason ----------------------------------------------------------------------


def test_liquidity_refuses_a_price_below_the_floor_on_unadjusted_data() -> None:
    risk = relaxed_risk(min_price=5.0)
    assert liquidity_reason(4.99, None, False, risk) == "price 4.99 < 5.00"
    assert liquidity_reason(5.0, None, False, risk) is None


def test_liquidity_skips_the_price_floor_on_adjusted_data() -> None:
    assert liquidity_reason(0.26, None, True, relaxed_risk(min_price=5.0)) is None


def test_liquidity_refuses_a_dollar_volume_below_the_floor() -> None:
    risk = relaxed_risk(min_dollar_volume=1_000_000.0)
    why = liquidity_reason(50.0, 999_999.0, False, risk)
    assert why == "avg dollar volume 999,999 < 1,000,000"
    assert liquidity_reason(50.0, 1_000_000.0, False, risk) is None


def test_liquidity_skips_the_dollar_volume_floor_when_there_is_no_volume() -> None:
    risk = relaxed_risk(min_dollar_volume=1_000_000.0)
    assert liquidity_reason(50.0, None, False, risk) is None
    assert liquidity_reason(50.0, float("nan"), False, risk) is None


def test_liquidity_still_applies_the_volume_floor_on_adjusted_data() -> None:
    risk = relaxed_risk(min_price=5.0, min_dollar_volume=1_000.0)
    assert liquidity_reason(1.0, 10.0, True, risk) == "avg dollar volume 10 < 1,000"


# -- correlated_with -----------------------------------------------------------------------


def _returns(n: int = 60, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 0.01, n)
    noise = rng.normal(0, 0.01, n)
    # columns: x, 2x (same direction), -x, independent noise, constant
    return np.column_stack([x, 2 * x, -x, noise, np.zeros(n)])


def test_correlated_with_flags_a_holding_that_moves_with_the_buy() -> None:
    hits = correlated_with(_returns(), 0, [1, 2, 3], 0.9)
    assert [k for k, _ in hits] == [1]
    assert hits[0][1] == pytest.approx(1.0)


def test_correlated_with_ignores_negative_and_unrelated_holdings() -> None:
    assert correlated_with(_returns(), 0, [2, 3], 0.5) == []


def test_correlated_with_skips_constant_series() -> None:
    assert correlated_with(_returns(), 0, [4], 0.0) == []


def test_correlated_with_needs_twenty_common_observations() -> None:
    rets = _returns()
    rets[19:, 1] = np.nan  # 19 finite rows left in the holding's column
    assert correlated_with(rets, 0, [1], 0.9) == []
    rets = _returns()
    rets[20:, 1] = np.nan  # 20 left: enough
    assert [k for k, _ in correlated_with(rets, 0, [1], 0.9)] == [1]


def test_correlated_with_uses_only_rows_where_both_have_returns() -> None:
    rets = _returns()
    rets[::3, 0] = np.nan
    rets[1::3, 1] = np.nan
    hits = correlated_with(rets, 0, [1], 0.9)
    assert [k for k, _ in hits] == [1]
