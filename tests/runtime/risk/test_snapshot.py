"""risk.snapshot: the screens' VaR/CVaR, concentration and drawdown, checked against sums by hand."""

from __future__ import annotations

import math
from statistics import NormalDist, fmean, stdev

import numpy as np
import pytest

from invest.runtime.risk.snapshot import (
    RiskSnapshot,
    account_risk,
    closes_to_returns,
    risk_lines,
)

#: 100 daily returns: 96 quiet days and four losses whose order the VaR must find.
LOSSES = {7: -0.05, 33: -0.02, 61: -0.04, 90: -0.03}
RETURNS = [LOSSES.get(i, 0.001 if i % 2 else 0.002) for i in range(100)]


def _equity(returns: list[float], start: float = 10_000.0) -> list[float]:
    out = [start]
    for r in returns:
        out.append(out[-1] * (1 + r))
    return out


def test_realised_var_and_cvar_are_the_order_statistics_of_the_equity_returns() -> None:
    snap = account_risk(_equity(RETURNS), {})
    f = snap.realised
    assert f is not None
    assert (f.days, snap.days, snap.note) == (100, 100, "")
    # Sorted by hand: -0.05, -0.04, -0.03, -0.02, then the quiet days (0.001 the lowest).
    # 95%: k = ceil(100 * 0.05) = 5 -> the fifth worst is +0.001, a gain: VaR -0.001.
    assert f.var95 == pytest.approx(-0.001, abs=1e-12)
    assert f.cvar95 == pytest.approx((0.05 + 0.04 + 0.03 + 0.02 - 0.001) / 5, abs=1e-12)
    # 99%: k = 1, the worst day alone.
    assert f.var99 == pytest.approx(0.05, abs=1e-12)
    assert f.cvar99 == pytest.approx(0.05, abs=1e-12)
    # Normal figures from the sample mean and standard deviation (statistics, not numpy).
    mu, sigma = fmean(RETURNS), stdev(RETURNS)
    z = NormalDist().inv_cdf(0.99)
    assert f.param_var99 == pytest.approx(-mu + sigma * z, rel=1e-9)
    phi = math.exp(-z * z / 2) / math.sqrt(2 * math.pi)
    assert f.param_cvar99 == pytest.approx(-mu + sigma * phi / 0.01, rel=1e-9)
    assert f.param_var95 == pytest.approx(-mu + sigma * NormalDist().inv_cdf(0.95), rel=1e-9)


def test_only_the_trailing_window_counts() -> None:
    """A crash older than the lookback leaves the VaR; inside it, it is the VaR."""
    old_crash = [-0.2, *RETURNS]
    inside = account_risk(_equity(old_crash), {}, lookback=101)
    outside = account_risk(_equity(old_crash), {}, lookback=100)
    assert inside.realised is not None
    assert outside.realised is not None
    # 101 returns: k = ceil(1.01) = 2 worst at 99%, the crash and -0.05
    assert inside.realised.cvar99 == pytest.approx((0.2 + 0.05) / 2)
    assert outside.realised.var99 == outside.realised.cvar99 == pytest.approx(0.05)
    assert (inside.realised.days, outside.realised.days, outside.days) == (101, 100, 101)
    # the drawdown reads the whole curve, the window or not
    assert outside.max_drawdown is not None
    assert outside.max_drawdown < -0.2


def test_too_little_history_says_how_much_is_needed_instead_of_a_figure() -> None:
    snap = account_risk(_equity(RETURNS[:12]), {"AAA": 0.5})
    assert snap.realised is None
    assert snap.note == "n/a (needs 60 sessions, has 12)"
    assert risk_lines(snap, forward=False)[0] == "realised VaR99 n/a (needs 60 sessions, has 12)"
    # exactly min_days is enough
    assert account_risk(_equity(RETURNS[:60]), {}).realised is not None
    assert account_risk([], {}).note == "n/a (needs 60 sessions, has 0)"


def test_concentration_and_drawdown_of_the_book() -> None:
    snap = account_risk([100.0, 120.0, 90.0, 108.0], {"B": 0.3, "A": 0.5, "C": 0.1, "D": 0.1})
    assert snap.largest == ("A", 0.5)
    assert snap.top3 == pytest.approx(0.9)
    assert snap.hhi == pytest.approx(0.25 + 0.09 + 0.01 + 0.01)  # invested total is 1.0
    assert snap.drawdown == pytest.approx(108 / 120 - 1)
    assert snap.max_drawdown == pytest.approx(90 / 120 - 1)
    assert risk_lines(snap, forward=False)[1] == (
        "largest A 50.0%, top 3 90.0%, HHI 0.360; DD -10.0% (max -25.0%)"
    )
    empty = account_risk([100.0], {})
    assert (empty.largest, empty.top3, empty.hhi) == (None, 0.0, 0.0)
    assert risk_lines(empty)[-1].startswith("no position")


def test_forward_var_is_todays_weights_on_the_held_names_returns() -> None:
    rng = np.random.default_rng(7)
    a, b = rng.normal(0, 0.02, 120), rng.normal(0, 0.01, 120)
    weights = {"AAA": 0.6, "BBB": 0.3}
    snap = account_risk([100.0], weights, {"AAA": list(a), "BBB": list(b), "ZZZ": [0.0]})
    f = snap.forward
    assert f is not None
    assert (f.days, snap.forward_note) == (120, "")
    book = sorted(0.6 * x + 0.3 * y for x, y in zip(a, b, strict=True))
    assert f.var99 == pytest.approx(-book[2 - 1])  # k = ceil(120 * 0.01) = 2
    assert f.var95 == pytest.approx(-book[6 - 1])  # k = ceil(6.0) = 6
    assert f.cvar95 == pytest.approx(-sum(book[:6]) / 6)
    # it moves with the weights
    heavier = account_risk([100.0], {"AAA": 0.9, "BBB": 0.3}, {"AAA": list(a), "BBB": list(b)})
    assert heavier.forward is not None
    assert heavier.forward.var99 > f.var99


def test_forward_window_starts_after_a_missing_close_and_names_what_is_missing() -> None:
    rng = np.random.default_rng(1)
    closes = list(100 * np.cumprod(1 + rng.normal(0, 0.01, 101)))
    gap = closes.copy()
    gap[30] = float("nan")  # returns 29 and 30 touch it
    returns = {"AAA": closes_to_returns(closes), "BBB": closes_to_returns(gap)}
    assert sum(math.isnan(r) for r in returns["BBB"]) == 2
    snap = account_risk([100.0], {"AAA": 0.5, "BBB": 0.5}, returns)
    assert snap.forward is not None
    assert snap.forward.days == 100 - 31
    short = account_risk([100.0], {"AAA": 0.5, "BBB": 0.5}, returns, min_days=70)
    assert short.forward is None
    assert short.forward_note == "n/a (needs 70 sessions of the held names' closes, has 69)"
    assert account_risk([100.0], {"CCC": 0.2}, returns).forward_note == "n/a (no closes of CCC)"
    assert account_risk([100.0], {"AAA": 0.2}).forward_note == "n/a (no market data here)"


def test_the_dict_form_round_trips() -> None:
    rng = np.random.default_rng(3)
    a = list(rng.normal(0, 0.02, 90))
    snap = account_risk(_equity(RETURNS), {"AAA": 0.4, "BBB": 0.2}, {"AAA": a, "BBB": a})
    back = RiskSnapshot.from_dict(snap.as_dict())
    assert risk_lines(back) == risk_lines(snap)
    assert back.as_dict() == snap.as_dict()


def test_bad_equity_is_refused_in_one_line() -> None:
    with pytest.raises(ValueError, match="positive finite daily values"):
        account_risk([100.0, 0.0, 90.0], {})
    with pytest.raises(ValueError, match=">= 2"):
        account_risk([100.0], {}, min_days=1)


def test_a_var_that_rounds_to_zero_reads_0_00_never_minus_zero() -> None:
    """A book flat on most days (an options account between trades) has a 99% VaR of a
    tiny gain: the line says 0.00%, not -0.00%."""
    flat = [0.00001] * 98 + [0.002, 0.001]
    (line,) = [x for x in risk_lines(account_risk(_equity(flat), {})) if x.startswith("realised")]
    assert "-0.00%" not in line
    assert "VaR99 0.00%" in line
