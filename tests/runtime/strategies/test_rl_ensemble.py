"""rl_ensemble: votes become target weights; the policies step once per cycle."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from invest.runtime.backtest.runner import replay
from invest.runtime.brokers.fills import FillModel
from invest.runtime.brokers.paper import PaperBroker
from invest.runtime.config import AccountConfig
from invest.runtime.cycle import AccountRuntime
from invest.runtime.domain import AccountState, Regime
from invest.runtime.features import volatility
from invest.runtime.market import Market
from invest.runtime.policy.pack import load_pack
from invest.runtime.policy.params import RLParams
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
B, S, H = Action.BUY, Action.SELL, Action.HOLD


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


def test_a_buy_vote_becomes_a_capped_target_and_the_votes_are_recorded() -> None:
    market = trend_market()
    p = _strategy(market, FakeEnsemble(by_trend())).propose(T, _flat())
    assert p.targets == {"UP": 0.25}
    assert p.regime is Regime.ATTACK
    assert p.scores == {"UP": 1.0, "FLAT": 0.0, "DOWN": -1.0}
    assert p.extra["rl"]["UP"] == {"action": "BUY", "confidence": 1.0, "votes": ["BUY"] * 5}
    assert p.extra["rl"]["DOWN"]["action"] == "SELL"
    assert set(p.extra["rl"]) == set(UNIVERSE)
    assert any("recorded, not gating" in n for n in p.notes)


def test_a_sell_vote_exits_a_holding_and_a_hold_keeps_it() -> None:
    market = trend_market()
    p = _strategy(market, FakeEnsemble(by_trend()), max_weight=1.0).propose(
        T, _holding(market, "UP", "DOWN", "FLAT")
    )
    assert p.targets == {"UP": 0.5, "FLAT": 0.5}


def test_a_low_confidence_buy_is_a_hold() -> None:
    market = trend_market()
    votes = scripted({0: [B, B, B, S, H]})
    assert _strategy(market, FakeEnsemble(votes), min_confidence=0.6).propose(T, _flat()).targets
    p = _strategy(market, FakeEnsemble(votes), min_confidence=0.8).propose(T, _flat())
    assert p.targets == {}
    assert p.extra["rl"]["UP"] == {
        "action": "HOLD",
        "confidence": 0.6,
        "votes": ["BUY", "BUY", "BUY", "SELL", "HOLD"],
    }


def test_holdings_come_first_and_new_buys_fill_top_n_by_confidence() -> None:
    market = trend_market()
    votes = scripted({0: [B, B, B, H, H], 1: [B] * 5})
    p = _strategy(market, FakeEnsemble(votes), top_n=2, max_weight=1.0).propose(
        T, _holding(market, "FLAT")
    )
    assert p.targets == {"FLAT": 0.5, "DOWN": 0.5}


def test_inverse_volatility_weights_favour_the_calmer_name() -> None:
    market = trend_market()
    votes = scripted({0: [B] * 5, 2: [B] * 5})
    p = _strategy(market, FakeEnsemble(votes), weighting="inverse_vol", max_weight=1.0).propose(
        T, _flat()
    )
    vol = volatility(market.close, 20)[T]
    inv = {s: 1 / vol[market.col[s]] for s in ("UP", "FLAT")}
    assert p.targets == pytest.approx({s: x / sum(inv.values()) for s, x in inv.items()})
    capped = _strategy(market, FakeEnsemble(votes), weighting="inverse_vol", max_weight=0.55)
    assert max(capped.propose(T, _flat()).targets.values()) == 0.55


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
    assert p.targets == {"UP": 0.25}


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
    params = RLParams(min_confidence=0.6, max_weight=0.4)
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
        assert all(0 < w <= 0.4 for w in rec["proposed"].values())
    assert float(acct.state.cash) >= 0
