"""The promotion gate on synthetic fold replays (numpy only: no torch, no training)."""

from __future__ import annotations

import math
import subprocess
import sys
from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pytest

from invest.runtime.backtest.walkforward import RLStats, YearReplay, rl_stats
from invest.trainer.config import PromotionGate
from invest.trainer.gate import (
    chained_figures,
    degenerate_checks,
    evaluate,
    sharpe,
    sharpe_diff_ci,
    year_rows,
)

DAYS = 252
LOG3 = math.log(3)


def curve(returns: np.ndarray) -> np.ndarray:
    """Equity of 100,000 compounded by ``returns`` (one more point than returns)."""
    return 100_000.0 * np.concatenate([[1.0], np.cumprod(1.0 + returns)])


def year(
    y: int,
    *,
    seed: int | None = None,
    tk: float = 0.0003,
    hy_edge: float = 0.0003,
    rl: float = 0.0008,
    actions: tuple[int, int, int] = (400, 350, 250),
    entropy: float = 0.7,
    exposure: float = 0.6,
    trade_diff: int = 6,
    identical: bool = False,
) -> YearReplay:
    """A healthy fold by default: hybrid beats trend_king, rl_ensemble beats equal weight."""
    rng = np.random.default_rng(y if seed is None else seed)
    market = rng.normal(0.0003, 0.01, DAYS)
    r_tk = 0.6 * market + rng.normal(tk - 0.00018, 0.004, DAYS)
    r_hy = r_tk.copy() if identical else 0.9 * r_tk + hy_edge
    r_rl = 0.5 * market + rng.normal(rl - 0.00015, 0.004, DAYS)
    r_ew = market
    r_ix = 0.9 * market
    days = tuple(date(y, 1, 1) + timedelta(days=i) for i in range(DAYS + 1))
    equity = {
        "trend_king": curve(r_tk),
        "rl_ensemble": curve(r_rl),
        "hybrid": curve(r_hy),
        "equal_weight": curve(r_ew),
        "index": curve(r_ix),
    }
    n = sum(actions)
    return YearReplay(
        y,
        days,
        equity,
        rl=RLStats(n, actions, entropy),
        exposure=exposure * 0.95,
        budget=0.95,
        trade_diff=0 if identical else trade_diff,
        trades={"trend_king": 50, "rl_ensemble": 80, "hybrid": 50 + trade_diff},
    )


def healthy(**kw: object) -> list[YearReplay]:
    return [year(y, **kw) for y in range(2013, 2019)]  # type: ignore[arg-type]


GATE = PromotionGate(validation_end=2014, min_sharpe=0.0, max_drawdown=0.5)


def by_name(checks: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    return {str(c["check"]): c for c in checks}


def test_a_healthy_pack_passes_every_criterion_and_check() -> None:
    out = evaluate(healthy(), GATE)
    assert [c for c in out["criteria"] + out["degenerate"] if not c["passed"]] == []
    assert out["passed"] is True
    assert out["test_years"] == [2015, 2016, 2017, 2018]
    ci = out["sharpe_diff_ci"]
    assert ci["low"] <= ci["estimate"] <= ci["high"]
    assert ci["sessions"] == 4 * DAYS
    assert "2015-2018" in out["rule"]
    assert set(out["values"]) >= {"hybrid_sharpe_vs_trend_king", "rl_sharpe_vs_equal_weight"}


def test_always_out_fails_the_one_action_check_whatever_the_performance() -> None:
    out = evaluate(healthy(actions=(1000, 0, 0)), GATE)
    checks = by_name(out["degenerate"])
    assert checks["one_action"]["passed"] is False
    assert checks["one_action"]["value"] == 1.0
    assert "OUT" in str(checks["one_action"]["detail"])
    assert all(c["passed"] for c in out["criteria"])
    assert out["passed"] is False


def test_96_percent_of_one_action_is_degenerate_94_is_not() -> None:
    assert not by_name(degenerate_checks(healthy(actions=(960, 20, 20)), GATE))["one_action"][
        "passed"
    ]
    assert by_name(degenerate_checks(healthy(actions=(940, 30, 30)), GATE))["one_action"]["passed"]


def test_near_uniform_probabilities_fail_the_entropy_check() -> None:
    out = evaluate(healthy(entropy=0.99 * LOG3), GATE)
    check = by_name(out["degenerate"])["uniform_probabilities"]
    assert check["passed"] is False
    assert check["value"] == pytest.approx(0.99)
    assert out["passed"] is False
    assert by_name(degenerate_checks(healthy(entropy=0.97 * LOG3), GATE))["uniform_probabilities"][
        "passed"
    ]


def test_a_hybrid_identical_to_trend_king_fails_the_no_change_check() -> None:
    out = evaluate(healthy(identical=True), GATE)
    check = by_name(out["degenerate"])["hybrid_is_trend_king"]
    assert check["passed"] is False
    assert set(check["value"].values()) == {0}  # type: ignore[union-attr]
    # The Sharpe difference is exactly 0, which the default threshold accepts:
    # only the degenerate check refuses it.
    assert by_name(out["criteria"])["hybrid_sharpe_vs_trend_king"]["value"] == 0.0
    assert by_name(out["criteria"])["hybrid_sharpe_vs_trend_king"]["passed"] is True
    assert out["passed"] is False


def test_hybrid_identical_in_some_years_only_is_not_degenerate() -> None:
    reps = healthy()
    reps[0] = replace(reps[0], trade_diff=0)
    assert by_name(degenerate_checks(reps, GATE))["hybrid_is_trend_king"]["passed"]


def test_a_hybrid_that_changes_trades_only_in_validation_years_is_refused() -> None:
    reps = [r if r.year <= 2014 else replace(r, trade_diff=0) for r in healthy()]
    out = evaluate(reps, GATE)
    check = by_name(out["degenerate"])["hybrid_is_trend_king"]
    assert check["value"] == {"2015": 0, "2016": 0, "2017": 0, "2018": 0}
    assert check["passed"] is False
    assert out["passed"] is False


@pytest.mark.parametrize("exposure", [0.0, 0.02, 0.97, 1.0])
def test_exposure_stuck_near_0_or_100_percent_in_every_year_fails(exposure: float) -> None:
    check = by_name(degenerate_checks(healthy(exposure=exposure), GATE))["constant_exposure"]
    assert check["passed"] is False
    assert len(check["value"]) == 6  # type: ignore[arg-type]


def test_exposure_stuck_in_some_years_only_is_not_degenerate() -> None:
    reps = healthy(exposure=0.0)
    reps[3] = replace(reps[3], exposure=0.5)
    assert by_name(degenerate_checks(reps, GATE))["constant_exposure"]["passed"]


def test_checks_without_rl_replays_fail() -> None:
    reps = [replace(r, rl=None, exposure=None, trade_diff=None) for r in healthy()]
    assert not any(c["passed"] for c in degenerate_checks(reps, GATE))
    no_rl = [
        replace(r, equity={k: v for k, v in r.equity.items() if k not in ("rl_ensemble", "hybrid")})
        for r in reps
    ]
    out = evaluate(no_rl, GATE)
    assert out["passed"] is False
    assert out["sharpe_diff_ci"] is None
    assert by_name(out["criteria"])["hybrid_sharpe_vs_trend_king"]["value"] is None


def test_only_test_years_are_gated_validation_years_are_reported() -> None:
    reps = healthy()
    # Wreck hybrid in the validation years (2013, 2014): the gate must not see it.
    for i in (0, 1):
        eq = dict(reps[i].equity)
        eq["hybrid"] = curve(np.full(DAYS, -0.004))
        reps[i] = replace(reps[i], equity=eq)
    out = evaluate(reps, GATE)
    assert out["passed"] is True
    assert out["chained"]["validation"]["hybrid"]["max_drawdown"] < -0.6
    assert out["chained"]["test"]["hybrid"]["max_drawdown"] > -0.5
    rows = year_rows(reps, 2014)
    assert [r[:2] for r in rows] == [
        [2013, "validation"],
        [2014, "validation"],
        [2015, "test"],
        [2016, "test"],
        [2017, "test"],
        [2018, "test"],
    ]
    # Moving validation_end to 2012 makes the wrecked years test years: refused.
    assert evaluate(reps, GATE.model_copy(update={"validation_end": 2012}))["passed"] is False


def test_no_test_year_is_not_passed() -> None:
    out = evaluate(healthy(), GATE.model_copy(update={"validation_end": 2030}))
    assert out["passed"] is False
    assert out["test_years"] == []
    assert out["sharpe_diff_ci"] is None
    assert "none after 2030" in out["rule"]


def test_thresholds_refuse_a_hybrid_worse_than_trend_king_and_a_deep_drawdown() -> None:
    out = evaluate(healthy(hy_edge=-0.002), GATE)
    assert by_name(out["criteria"])["hybrid_sharpe_vs_trend_king"]["passed"] is False
    assert by_name(out["criteria"])["hybrid_max_drawdown_vs_trend_king"]["passed"] is False
    assert out["passed"] is False
    strict = GATE.model_copy(update={"max_drawdown": 0.01})
    assert (
        by_name(evaluate(healthy(), strict)["criteria"])["hybrid_max_drawdown"]["passed"] is False
    )
    ci_gate = GATE.model_copy(update={"sharpe_diff_ci_min": 10.0})
    out = evaluate(healthy(), ci_gate)
    assert by_name(out["criteria"])["sharpe_diff_ci_low"]["passed"] is False


def test_chained_figures_compound_the_years() -> None:
    reps = []
    for y, r in ((2015, 0.001), (2016, -0.0005)):
        rep = year(y)
        eq = dict(rep.equity)
        eq["trend_king"] = curve(np.full(DAYS, r))
        reps.append(replace(rep, equity=eq))
    figs = chained_figures(reps, 2014)
    tk = figs["test"]["trend_king"]
    assert tk is not None
    want = 1.001**DAYS * 0.9995**DAYS - 1
    assert tk["total_return"] == pytest.approx(want)
    assert tk["cagr"] == pytest.approx((1 + want) ** 0.5 - 1)
    assert tk["max_drawdown"] == pytest.approx(0.9995**DAYS - 1)
    assert figs["validation"]["trend_king"] is None
    assert figs["all"]["trend_king"] == tk


def test_bootstrap_ci_brackets_a_known_sharpe_difference() -> None:
    rng = np.random.default_rng(42)
    n = 10 * DAYS
    common = rng.normal(0.0, 0.01, n)
    a = common + rng.normal(0.0008, 0.005, n)
    b = common + rng.normal(0.0002, 0.005, n)
    sd = math.sqrt(0.01**2 + 0.005**2)
    true_diff = (0.0008 - 0.0002) / sd * math.sqrt(DAYS)  # ~0.85
    ci = sharpe_diff_ci(a, b, block=21, resamples=2000, seed=7)
    assert ci["low"] < true_diff < ci["high"]
    assert ci["low"] > 0  # the difference is large enough to be seen
    assert ci["estimate"] == pytest.approx(sharpe(a) - sharpe(b))
    assert ci == sharpe_diff_ci(a, b, block=21, resamples=2000, seed=7)  # seeded
    null = sharpe_diff_ci(a, a + 0.0, seed=7)
    assert null["low"] == null["high"] == 0.0
    with pytest.raises(ValueError, match="paired"):
        sharpe_diff_ci(a, b[:-1])


def test_rl_stats_from_records_always_out() -> None:
    rec = {
        "rl": {"A": {"p": [0.9, 0.05, 0.05]}, "B": {"p": [0.8, 0.1, 0.1]}, "C": {"action": None}}
    }
    stats = rl_stats([rec] * 10)
    assert stats.symbol_days == 20
    assert stats.actions == (20, 0, 0)
    assert stats.top_share == 1.0
    assert stats.entropy_source == "mean"
    assert stats.entropy_ratio is not None
    assert stats.entropy_ratio < 0.6
    measured = rl_stats([rec] * 10, policy_entropy=(30.0, 60))
    assert measured.entropy == 0.5
    assert measured.entropy_source == "policies"
    assert rl_stats([{"rl": None}]).entropy is None


def test_the_gate_imports_no_torch() -> None:
    code = "import sys, invest.trainer.gate; print('torch' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "False"
