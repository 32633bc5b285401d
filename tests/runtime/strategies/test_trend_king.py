"""trend_king: regime filter, risk-adjusted momentum ranking, inverse-vol weights."""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from invest.runtime.config import TrendKingParams
from invest.runtime.data.frame import BarFrame
from invest.runtime.domain import AccountState, Position, Regime
from invest.runtime.market import Market
from invest.runtime.strategies.trend_king import TrendKing

DAYS = 300


def _market(
    drifts: dict[str, float], index_drift: float, noise: dict[str, float] | None = None
) -> Market:
    rng = np.random.default_rng(1)
    cols, names = [], []
    for sym, mu in drifts.items():
        sd = (noise or {}).get(sym, 0.01)
        cols.append(100 * np.exp(np.cumsum(mu + rng.normal(0, sd, DAYS))))
        names.append(sym)
    cols.append(100 * np.exp(np.cumsum(np.full(DAYS, index_drift))))
    names.append("IDX")
    dates = np.arange(np.datetime64("2020-01-01"), np.datetime64("2020-01-01") + DAYS)
    return Market(
        BarFrame(dates=dates, symbols=tuple(names), close=np.column_stack(cols), source="test")
    )


def _strategy(m: Market, universe: tuple[str, ...], **kw: object) -> TrendKing:
    tk = TrendKing(TrendKingParams(**kw), universe, "IDX")  # type: ignore[arg-type]
    tk.prepare(m)
    return tk


def test_attack_holds_the_strongest_names_by_risk_adjusted_momentum() -> None:
    drifts = {"A": 0.004, "B": 0.003, "C": 0.002, "D": -0.001, "E": 0.0005}
    m = _market(drifts, index_drift=0.001)
    tk = _strategy(m, tuple(drifts), top_n=2, max_weight=1.0)
    p = tk.propose(DAYS - 1, AccountState("x", Decimal(10_000)))
    assert p.regime is Regime.ATTACK
    assert set(p.targets) == {"A", "B"}
    assert abs(sum(p.targets.values()) - 1.0) < 1e-9
    assert list(p.scores)[:2] == ["A", "B"]
    assert "D" not in p.scores  # negative momentum is never ranked


def test_inverse_volatility_weights_favour_the_calmer_name_and_respect_the_cap() -> None:
    drifts = {"CALM": 0.003, "WILD": 0.003}
    m = _market(drifts, 0.001, noise={"CALM": 0.005, "WILD": 0.02})
    tk = _strategy(m, tuple(drifts), top_n=2, max_weight=0.6)
    t = tk.propose(DAYS - 1, AccountState("x", Decimal(10_000))).targets
    assert t["CALM"] == 0.6  # capped; the excess stays in cash
    assert t["WILD"] < 0.4


def test_defense_goes_to_cash_or_to_the_defensive_assets() -> None:
    drifts = {"A": 0.004, "SAFE": 0.0}
    m = _market(drifts, index_drift=-0.002)
    cash = _strategy(m, ("A",)).propose(DAYS - 1, AccountState("x", Decimal(1)))
    assert cash.regime is Regime.DEFENSE
    assert cash.targets == {}
    safe = _strategy(m, ("A",), defensive=("SAFE",), max_weight=0.5).propose(
        DAYS - 1, AccountState("x", Decimal(1))
    )
    assert safe.targets == {"SAFE": 0.5}


def test_a_holding_is_kept_while_it_ranks_within_the_exit_rank() -> None:
    drifts = {"A": 0.004, "B": 0.0035, "C": 0.003, "D": 0.0025}
    m = _market(drifts, 0.001)
    tk = _strategy(m, tuple(drifts), top_n=1, exit_rank=3, max_weight=1.0)
    state = AccountState("x", Decimal(0))
    fresh = tk.propose(DAYS - 1, state)
    assert set(fresh.targets) == {"A"}
    state.positions["C"] = Position("C", Decimal(1), Decimal(100), m.day(0))
    held = tk.propose(DAYS - 1, state)
    assert set(held.targets) == {"C"}  # ranks 3rd <= exit_rank: no churn into A
    state.positions = {"D": Position("D", Decimal(1), Decimal(100), m.day(0))}
    assert set(tk.propose(DAYS - 1, state).targets) == {"A"}  # 4th > exit_rank: rotated out


def test_an_unusable_bar_drops_the_symbol_from_the_ranking() -> None:
    drifts = {"A": 0.004, "B": 0.003}
    m = _market(drifts, 0.001)
    m.usable[DAYS - 1, m.col["A"]] = False
    tk = _strategy(m, tuple(drifts), top_n=1, max_weight=1.0)
    assert set(tk.propose(DAYS - 1, AccountState("x", Decimal(1))).targets) == {"B"}
