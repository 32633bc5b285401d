"""trend_king's portfolio construction: the picks' weights by the account's method.

inverse_vol (the default) keeps its own code path and the golden trades
(tests/runtime/backtest/test_golden_trades.py); every other method must move the
targets and give exactly ``construction.weights`` on the same point-in-time inputs.
"""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pytest

from invest.runtime.config import TrendKingParams, parse_config
from invest.runtime.config.portfolio import CONSTRUCTIONS, PortfolioConfig
from invest.runtime.data.frame import BarFrame
from invest.runtime.domain import AccountState, Proposal, Regime
from invest.runtime.errors import ConfigError
from invest.runtime.market import Market
from invest.runtime.policy.state import MemoryStateStore
from invest.runtime.portfolio.construction import ledoit_wolf, weights
from invest.runtime.strategies import build_strategy, rl_strategy
from invest.runtime.strategies.hybrid import Hybrid
from invest.runtime.strategies.trend_king import TrendKing
from tests.runtime.policy.support import FakeEnsemble, scripted

DAYS = 300
T = DAYS - 1
DRIFTS = {"A": 0.004, "B": 0.0038, "C": 0.0036, "D": 0.0034, "E": 0.0032}
NOISE = {"A": 0.004, "B": 0.008, "C": 0.012, "D": 0.016, "E": 0.02}
OTHERS = [m for m in CONSTRUCTIONS if m != "inverse_vol"]


def _closes(seed: int = 1) -> np.ndarray:
    """Five names (A calm .. E wild, B and C correlated through a common factor) and IDX."""
    rng = np.random.default_rng(seed)
    common = rng.normal(0, 0.01, DAYS)
    cols = []
    for sym, mu in DRIFTS.items():
        shock = rng.normal(0, NOISE[sym], DAYS) + (common if sym in "BC" else 0.0)
        cols.append(100 * np.exp(np.cumsum(mu + shock)))
    cols.append(100 * np.exp(np.cumsum(np.full(DAYS, 0.001))))
    return np.column_stack(cols)


def _market(close: np.ndarray) -> Market:
    dates = np.arange(np.datetime64("2020-01-01"), np.datetime64("2020-01-01") + len(close))
    return Market(BarFrame(dates=dates, symbols=(*DRIFTS, "IDX"), close=close, source="test"))


def _tk(m: Market, method: str = "inverse_vol", **kw: object) -> TrendKing:
    params = TrendKingParams(top_n=5, max_weight=0.4)
    tk = TrendKing(
        params, tuple(DRIFTS), "IDX", portfolio=PortfolioConfig(construction=method, **kw)
    )  # type: ignore[arg-type]
    tk.prepare(m)
    return tk


def _propose(tk: TrendKing, t: int = T) -> Proposal:
    return tk.propose(t, AccountState("x", Decimal(10_000)))


MARKET = _market(_closes())


def test_the_fixture_is_in_attack_with_all_five_names_picked() -> None:
    p = _propose(_tk(MARKET))
    assert p.regime is Regime.ATTACK
    assert set(p.targets) == set(DRIFTS)


@pytest.mark.parametrize("method", OTHERS)
def test_a_construction_other_than_inverse_vol_moves_the_targets(method: str) -> None:
    base = _propose(_tk(MARKET)).targets
    moved = _propose(_tk(MARKET, method)).targets
    assert set(moved) == set(base)
    assert max(abs(moved[s] - base[s]) for s in base) > 0.01
    assert all(0.0 <= w <= 0.4 + 1e-12 for w in moved.values())
    assert sum(moved.values()) == pytest.approx(1.0, abs=1e-9)  # 0.4 x 5 >= 1: all in


@pytest.mark.parametrize("method", OTHERS)
def test_the_weights_are_construction_weights_on_the_point_in_time_covariance(
    method: str,
) -> None:
    p = _propose(_tk(MARKET, method, lookback=60, risk_aversion=4.0))
    names = list(p.targets)  # the picks, best first
    cols = [MARKET.col[s] for s in names]
    window = MARKET.close[T - 60 : T + 1, cols]
    cov = ledoit_wolf(window[1:] / window[:-1] - 1.0)[0] * 252
    mu = None
    if method == "mean_variance":  # the record's scores as annual Sharpe ratios x annual vol
        sharpe = np.array([p.scores[s] for s in names]) * math.sqrt(252) / 126
        mu = sharpe * np.sqrt(np.diag(cov))
    want = weights(method, cov, scores=mu, cap=0.4, cash_reserve=0.0, risk_aversion=4.0)
    np.testing.assert_allclose([p.targets[s] for s in names], want, rtol=0, atol=1e-12)


def test_mean_variance_reads_the_scores_and_the_risk_aversion() -> None:
    bold = _propose(_tk(MARKET, "mean_variance", risk_aversion=0.5)).targets
    shy = _propose(_tk(MARKET, "mean_variance", risk_aversion=100.0)).targets
    minvar = _propose(_tk(MARKET, "min_variance")).targets
    assert max(abs(bold[s] - shy[s]) for s in bold) > 0.01
    # Very risk averse, the expected returns hardly matter: close to min variance.
    assert max(abs(shy[s] - minvar[s]) for s in shy) < max(abs(bold[s] - minvar[s]) for s in bold)


def test_a_cap_that_cannot_be_filled_leaves_cash_as_inverse_vol_does() -> None:
    tk = TrendKing(
        TrendKingParams(top_n=2, max_weight=0.3),
        tuple(DRIFTS),
        "IDX",
        portfolio=PortfolioConfig(construction="risk_parity"),
    )
    tk.prepare(MARKET)
    targets = _propose(tk).targets
    assert list(targets.values()) == pytest.approx([0.3, 0.3])


def test_too_few_rows_fall_back_to_inverse_vol_with_a_note() -> None:
    base = _propose(_tk(MARKET))
    p = _propose(_tk(MARKET, "min_variance", lookback=400))
    assert p.targets == base.targets
    assert any("min_variance fell back to inverse_vol" in n and "401 rows" in n for n in p.notes)
    assert not any("fell back" in n for n in _propose(_tk(MARKET, "min_variance")).notes)


def test_a_missing_close_in_a_picks_window_falls_back_to_inverse_vol() -> None:
    close = _closes()
    close[T - 50, 2] = np.nan  # C misses a bar in the 126-day window, not in its 20-day vol
    m = _market(close)
    base = _propose(_tk(m))
    p = _propose(_tk(m, "equal"))
    assert set(p.targets) == set(base.targets)
    assert p.targets == base.targets
    assert any("equal fell back to inverse_vol" in n for n in p.notes)


@pytest.mark.parametrize("method", ["min_variance", "mean_variance"])
def test_a_proposal_never_reads_a_later_row(method: str) -> None:
    """The data truncated at D and the data with a random-walk future propose the same."""
    cut = 250
    close = _closes()
    rng = np.random.default_rng(7)
    future = close.copy()
    steps = np.exp(np.cumsum(rng.normal(0, 0.03, (DAYS - cut - 1, close.shape[1])), axis=0))
    future[cut + 1 :] = close[cut] * steps
    short = _tk(_market(close[: cut + 1]), method)
    walk = _tk(_market(future), method)
    for t in range(200, cut + 1):
        a, b = _propose(short, t), _propose(walk, t)
        assert (a.targets, a.notes) == (b.targets, b.notes)
    assert _propose(walk, T).targets != _propose(_tk(MARKET, method), T).targets


def test_an_account_passes_its_portfolio_section_to_trend_king() -> None:
    settings = parse_config(
        {
            "accounts": {
                "tk": {"universe": list(DRIFTS), "portfolio": {"construction": "risk_parity"}}
            }
        }
    )
    tk = build_strategy(settings.account("tk"))
    assert isinstance(tk, TrendKing)
    assert tk.portfolio.construction == "risk_parity"
    with pytest.raises(ConfigError, match=r"portfolio\.construction"):
        parse_config({"accounts": {"x": {"universe": ["A"], "portfolio": {"construction": "hrp"}}}})


def test_hybrid_weights_its_picks_by_the_accounts_construction() -> None:
    cfg = parse_config(
        {
            "accounts": {
                "h": {
                    "strategy": "hybrid",
                    "universe": list(DRIFTS),
                    "benchmark": "IDX",
                    "trend_king": {"top_n": 5, "max_weight": 0.4},
                    "portfolio": {"construction": "min_variance"},
                }
            }
        }
    ).account("h")
    h = rl_strategy(cfg, FakeEnsemble(scripted({})), MemoryStateStore())
    assert isinstance(h, Hybrid)
    h.prepare(MARKET)
    # The ensemble keeps every pick (all EQUAL): hybrid's targets are trend_king's.
    assert h.propose(T, AccountState("x", Decimal(10_000))).targets == (
        _propose(_tk(MARKET, "min_variance")).targets
    )
