"""hybrid: trend_king proposes, the ensemble vetoes a pick whose mean P(OUT) reaches min_confidence."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np

from invest.runtime.config import TrendKingParams
from invest.runtime.config.rl import RLParams
from invest.runtime.data.frame import BarFrame
from invest.runtime.domain import AccountState, Regime
from invest.runtime.market import Market
from invest.runtime.policy.pack import load_pack
from invest.runtime.policy.state import MemoryStateStore
from invest.runtime.policy.vote import Action
from invest.runtime.strategies.hybrid import Hybrid
from invest.runtime.strategies.trend_king import TrendKing
from tests.runtime.policy.support import FakeEnsemble, copy_fixture_pack, scripted

DAYS = 300
T = DAYS - 1
DRIFTS = {"A": 0.004, "B": 0.003, "C": 0.002, "D": -0.001, "E": 0.0005}
UNIVERSE = tuple(DRIFTS)
OUT, EQ, OVER = Action.OUT, Action.EQUAL, Action.OVER
TK = TrendKingParams(top_n=2, max_weight=1.0)


def _market(index_drift: float = 0.001) -> Market:
    rng = np.random.default_rng(1)
    cols = [100 * np.exp(np.cumsum(mu + rng.normal(0, 0.01, DAYS))) for mu in DRIFTS.values()]
    cols.append(100 * np.exp(np.cumsum(np.full(DAYS, index_drift))))
    dates = np.arange(np.datetime64("2020-01-01"), np.datetime64("2020-01-01") + DAYS)
    return Market(
        BarFrame(dates=dates, symbols=(*UNIVERSE, "IDX"), close=np.column_stack(cols), source="t")
    )


def _hybrid(market: Market, pack: object, tk: TrendKingParams = TK, **rl: object) -> Hybrid:
    h = Hybrid(tk, RLParams(**rl), UNIVERSE, "IDX", pack, MemoryStateStore())  # type: ignore[arg-type]
    h.prepare(market)
    return h


def _rules(market: Market, tk: TrendKingParams = TK) -> TrendKing:
    tk_ = TrendKing(tk, UNIVERSE, "IDX")
    tk_.prepare(market)
    return tk_


def _flat() -> AccountState:
    return AccountState("acct", Decimal(10_000))


def test_a_pick_the_ensemble_wants_out_of_is_vetoed_and_the_record_says_why() -> None:
    market = _market()
    base = _rules(market).propose(T, _flat())
    assert set(base.targets) == {"A", "B"}
    p = _hybrid(market, FakeEnsemble(scripted({0: [OUT] * 5}))).propose(T, _flat())
    assert p.targets == {"B": base.targets["B"]}  # the vetoed weight stays in cash
    assert p.scores == base.scores
    assert p.regime is Regime.ATTACK
    assert p.extra["rl"]["A"] == {
        "action": "OUT",
        "confidence": 1.0,
        "level": 0.0,
        "p": [1.0, 0.0, 0.0],
        "votes": ["OUT"] * 5,
    }
    assert p.extra["rl"]["B"]["p"] == [0.0, 1.0, 0.0]
    assert "RL veto A: P(OUT) 100% >= 50% (mean of 5 policies)" in p.notes
    assert not any("RL veto B" in n for n in p.notes)


def test_the_veto_is_at_or_above_min_confidence_and_not_below() -> None:
    market = _market()
    base = _rules(market).propose(T, _flat())
    three_of_five = scripted(
        {0: [OUT, OUT, OUT, OVER, OVER]}
    )  # mean P(OUT) 0.6, expected level 0.8
    at = _hybrid(market, FakeEnsemble(three_of_five), min_confidence=0.6).propose(T, _flat())
    assert set(at.targets) == {"B"}
    assert at.extra["rl"]["A"]["p"] == [0.6, 0.0, 0.4]
    assert at.extra["rl"]["A"]["level"] == 0.8
    assert at.extra["rl"]["A"]["votes"] == ["OUT", "OUT", "OUT", "OVER", "OVER"]
    below = _hybrid(market, FakeEnsemble(three_of_five), min_confidence=0.61)
    assert below.propose(T, _flat()).targets == base.targets
    default = _hybrid(
        market, FakeEnsemble(scripted({0: [OUT, OUT, EQ, EQ, OVER]}))
    )  # P(OUT) 0.4 < 0.5
    assert default.propose(T, _flat()).targets == base.targets


def test_over_or_equal_levels_add_nothing_to_the_rules() -> None:
    market = _market()
    base = _rules(market).propose(T, _flat())
    every_over = scripted({i: [OVER] * 5 for i in range(len(UNIVERSE))})
    assert _hybrid(market, FakeEnsemble(every_over)).propose(T, _flat()).targets == base.targets


def test_the_policies_step_in_defense_too() -> None:
    market = _market(index_drift=-0.002)
    fake = FakeEnsemble(scripted({}))
    hybrid = _hybrid(market, fake, TrendKingParams(defensive=("IDX",), max_weight=0.5))
    for t in range(T - 2, T + 1):
        p = hybrid.propose(t, _flat())
    assert p.regime is Regime.DEFENSE
    assert p.targets == {"IDX": 0.5}  # not voted on: kept
    assert len(fake.calls) == 3
    assert set(p.extra["rl"]) == set(UNIVERSE)


def test_with_the_onnx_pack_the_targets_are_a_subset_of_trend_kings(tmp_path: Path) -> None:
    market = _market()
    pack = load_pack(copy_fixture_pack(tmp_path))
    hybrid = _hybrid(market, pack, min_confidence=0.8)
    rules = _rules(market)
    outcomes = set()
    for t in range(T - 10, T + 1):
        p = hybrid.propose(t, _flat())
        base = rules.propose(t, _flat())
        assert p.targets.items() <= base.targets.items()
        for s in base.targets:
            vetoed = s not in p.targets
            assert vetoed == (p.extra["rl"][s]["p"][0] >= 0.8)
            assert len(p.extra["rl"][s]["votes"]) == 3
            outcomes.add(vetoed)
    assert outcomes == {True, False}  # the window sees both a veto and a kept pick


def test_with_shrink_a_lukewarm_pick_is_scaled_by_its_level_and_never_grown() -> None:
    market = _market()
    base = _rules(market).propose(T, _flat())
    # A: 2 of 5 policies OUT, 3 EQUAL -> P(OUT) 40% (< 50%: no veto), level 0.6.
    # B: every policy OVER -> level 2: kept at trend_king's weight, not doubled.
    votes = scripted({0: [OUT, OUT, EQ, EQ, EQ], 1: [OVER] * 5})
    plain = _hybrid(market, FakeEnsemble(votes)).propose(T, _flat())
    assert plain.targets == base.targets  # without shrink only a veto changes a pick
    shrunk = _hybrid(market, FakeEnsemble(votes), shrink=True).propose(T, _flat())
    assert shrunk.targets["A"] == base.targets["A"] * 0.6
    assert shrunk.targets["B"] == base.targets["B"]
    assert any(n.startswith("RL shrink A: level 0.60") for n in shrunk.notes)
