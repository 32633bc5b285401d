"""rl_ensemble: expected target levels become weights; the policies step once per cycle."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from invest.runtime.backtest.runner import replay
from invest.runtime.brokers.fills import FillModel
from invest.runtime.brokers.paper import PaperBroker
from invest.runtime.config import AccountConfig
from invest.runtime.config.rl import RLParams
from invest.runtime.cycle import AccountRuntime
from invest.runtime.domain import AccountState, Regime
from invest.runtime.market import Market
from invest.runtime.policy.contract import level_weights
from invest.runtime.policy.pack import load_pack
from invest.runtime.policy.state import MemoryStateStore
from invest.runtime.policy.vote import Action
from invest.runtime.risk.engine import RiskEngine
from invest.runtime.strategies.rl_ensemble import RLEnsemble
from tests.runtime.conftest import make_market, position, relaxed_risk
from tests.runtime.policy.support import (
    FakeEnsemble,
    by_trend,
    copy_fixture_pack,
    scripted,
    trend_market,
)

UNIVERSE = ("UP", "DOWN", "FLAT")
T = 299
OUT, EQ, OVER = Action.OUT, Action.EQUAL, Action.OVER


def _strategy(market: Market, fake: FakeEnsemble, **params: object) -> RLEnsemble:
    rl = RLEnsemble(
        RLParams(**params),
        UNIVERSE,
        "IDX",
        fake,
        MemoryStateStore(),
    )
    rl.prepare(market)
    return rl


def _flat() -> AccountState:
    return AccountState("acct", Decimal(10_000))


def _holding(market: Market, *symbols: str) -> AccountState:
    day = market.day(T)
    return AccountState(
        "acct",
        Decimal(1000),
        {s: position(s, 10, market.price(s, T), day) for s in symbols},
    )


def test_the_targets_are_level_weights_of_the_expected_levels_and_the_votes_are_recorded() -> None:
    market = trend_market()
    p = _strategy(market, FakeEnsemble(by_trend()), max_weight=1.0).propose(T, _flat())
    # UP over, FLAT equal, DOWN out: 2/N and 1/N of N = 3
    assert p.targets == pytest.approx({"UP": 2 / 3, "FLAT": 1 / 3})
    assert p.regime is Regime.ATTACK
    assert p.scores == {"UP": 2.0, "FLAT": 1.0, "DOWN": 0.0}
    assert list(p.scores) == ["UP", "FLAT", "DOWN"]  # highest level first
    assert p.extra["rl"]["UP"] == {
        "action": "OVER",
        "confidence": 1.0,
        "level": 2.0,
        "p": [0.0, 0.0, 1.0],
        "votes": ["OVER"] * 5,
    }
    assert p.extra["rl"]["DOWN"]["action"] == "OUT"
    assert set(p.extra["rl"]) == set(UNIVERSE)
    assert any("recorded, not gating" in n for n in p.notes)


def test_mixed_policies_give_fractional_levels_weighted_as_the_trainer_does() -> None:
    market = trend_market()
    votes = scripted({0: [OVER, OVER, EQ, OUT, OUT], 1: [EQ] * 5, 2: [OUT, OUT, OUT, OUT, OVER]})
    p = _strategy(market, FakeEnsemble(votes), max_weight=0.3).propose(T, _flat())
    levels = np.array([1.0, 1.0, 0.4])  # UP: 0.2 * 1 + 0.4 * 2; FLAT: 0.2 * 2
    assert p.scores == pytest.approx(dict(zip(UNIVERSE, levels, strict=True)))
    want = level_weights(levels, 1.0, 0.3)
    np.testing.assert_allclose(want, [0.3, 0.3, 0.4 / 3])  # 1/3 capped at 0.3
    assert p.targets == pytest.approx(dict(zip(UNIVERSE, want, strict=True)))
    assert p.extra["rl"]["UP"]["p"] == [0.4, 0.2, 0.4]


def test_a_target_below_min_weight_is_no_position() -> None:
    market = trend_market()
    votes = scripted({0: [EQ] * 5, 1: [EQ] * 5, 2: [OUT, OUT, OUT, OUT, EQ]})  # FLAT: level 0.2
    kept = _strategy(market, FakeEnsemble(votes), min_weight=0.05).propose(T, _flat())
    assert kept.targets["FLAT"] == pytest.approx(0.2 / 3)  # 6.7% >= 5%
    votes = scripted({0: [EQ] * 5, 1: [EQ] * 5, 2: [OUT, OUT, OUT, OUT, OUT]})
    dust = _strategy(market, FakeEnsemble(votes), min_weight=0.07).propose(T, _flat())
    assert "FLAT" not in dust.targets
    votes = scripted({0: [EQ] * 5, 1: [EQ] * 5, 2: [OUT, OUT, OUT, OUT, EQ]})
    small = _strategy(market, FakeEnsemble(votes), min_weight=0.07).propose(T, _flat())
    assert "FLAT" not in small.targets  # 6.7% < 7%: dust
    assert small.scores["FLAT"] == pytest.approx(0.2)  # the level is still recorded


def test_the_strategy_cap_limits_each_name() -> None:
    market = trend_market()
    p = _strategy(market, FakeEnsemble(by_trend())).propose(T, _flat())  # max_weight 0.25
    assert p.targets == {"UP": 0.25, "FLAT": 0.25}


def test_a_book_asking_for_more_than_equity_is_scaled_down() -> None:
    market = trend_market()
    every_over = scripted({i: [OVER] * 5 for i in range(3)})
    p = _strategy(market, FakeEnsemble(every_over), max_weight=1.0).propose(T, _flat())
    assert p.targets == pytest.approx(dict.fromkeys(UNIVERSE, 1 / 3))  # 3 x 2/3, scaled to 1


def test_out_exits_a_holding_and_equal_keeps_it_at_one_slot() -> None:
    market = trend_market()
    p = _strategy(market, FakeEnsemble(by_trend()), max_weight=1.0).propose(
        T, _holding(market, "UP", "DOWN", "FLAT")
    )
    assert "DOWN" not in p.targets
    assert p.targets == pytest.approx({"UP": 2 / 3, "FLAT": 1 / 3})


def test_a_symbol_the_policies_did_not_step_keeps_its_current_weight() -> None:
    market = trend_market(gap=("FLAT", T))
    price = market.price("FLAT", T)  # the last good close
    assert price == market.price("FLAT", T - 1)
    state = AccountState(
        "acct", Decimal(8000), {"FLAT": position("FLAT", 2000 / price, price, market.day(T))}
    )
    rl = _strategy(market, FakeEnsemble(by_trend()), max_weight=1.0)
    p = rl.propose(T, state)
    assert p.extra["rl"]["FLAT"] == {"action": None, "confidence": 0.0, "level": None, "votes": []}
    assert p.targets["FLAT"] == pytest.approx(0.2)  # 2000 of 10000, as it was
    assert p.scores["FLAT"] == pytest.approx(0.6)  # its level: the weight in slots of 1/3
    assert p.targets["UP"] == pytest.approx(2 / 3)
    assert "DOWN" not in p.targets


def test_top_n_holds_only_the_highest_levels() -> None:
    market = trend_market()
    votes = scripted({0: [OVER] * 5, 1: [EQ] * 5, 2: [EQ, EQ, EQ, EQ, OUT]})
    p = _strategy(market, FakeEnsemble(votes), top_n=2, max_weight=1.0).propose(T, _flat())
    assert p.targets == pytest.approx({"UP": 2 / 3, "DOWN": 1 / 3})
    assert p.scores["FLAT"] == 0.0
    every = _strategy(market, FakeEnsemble(votes), max_weight=1.0).propose(T, _flat())
    assert set(every.targets) == set(UNIVERSE)


def test_the_regime_is_recorded_but_does_not_gate() -> None:
    days = 300
    t = np.arange(days, dtype=np.float64)
    closes = np.column_stack(
        [
            50 * np.exp(0.004 * t),
            80 * np.exp(-0.004 * t),
            30 + 0.1 * np.sin(t),
            1000 * np.exp(-0.002 * t),
        ]
    )
    market = make_market(closes, (*UNIVERSE, "IDX"))
    p = _strategy(market, FakeEnsemble(by_trend())).propose(T, _flat())
    assert p.regime is Regime.DEFENSE
    assert p.targets == {"UP": 0.25, "FLAT": 0.25}


def test_proposing_twice_on_one_session_steps_the_policies_once() -> None:
    market = trend_market()
    fake = FakeEnsemble(by_trend())
    rl = _strategy(market, fake)
    for t in range(290, 295):
        assert rl.propose(t, _flat()) == rl.propose(t, _flat())
    state = rl.signal.store.load("acct", rl.signal.spec, UNIVERSE, "2099-01-01")
    assert state["UP"].h[0, 0, 0] == 5.0


def test_a_backtest_with_the_onnx_pack_runs_the_live_cycle(tmp_path: Path) -> None:
    market = trend_market()
    pack = load_pack(copy_fixture_pack(tmp_path))
    params = RLParams(max_weight=0.4)
    strategy = RLEnsemble(params, UNIVERSE, "IDX", pack, MemoryStateStore())
    cfg = AccountConfig(universe=UNIVERSE, benchmark="IDX", cash=10_000)
    fills = FillModel(slippage_bps=0.0)
    acct = AccountRuntime(
        "rl",
        cfg,
        strategy,
        RiskEngine("rl", relaxed_risk(), fills),
        PaperBroker(fills),
        AccountState("rl", Decimal(10_000)),
    )
    result = replay(acct, market, market.day(250))
    assert len(result.decisions) == 50
    for rec in result.decisions:
        assert rec["strategy"] == "rl_ensemble"
        assert set(rec["rl"]) == set(UNIVERSE)
        assert all(len(v["votes"]) == 3 for v in rec["rl"].values() if v["votes"])
        for v in rec["rl"].values():
            assert 0.0 <= v["level"] <= 2.0
            assert sum(v["p"]) == pytest.approx(1.0, abs=1e-3)
        assert all(0 < w <= 0.4 for w in rec["proposed"].values())
    assert float(acct.state.cash) >= 0
