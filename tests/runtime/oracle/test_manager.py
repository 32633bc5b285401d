"""Manager mode: two passes, typed actions validated one by one, abstention when the model fails."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from invest.runtime.oracle import (
    Action,
    ManagerOracle,
    MarketRegime,
    MemoryStore,
    PreviousDecision,
    TradeAction,
    build_oracle,
    vote_actions,
)
from invest.runtime.oracle.manager.prompts import ANALYST_SYSTEM
from tests.runtime.oracle.support import (
    FakeLLMServer,
    FixedClock,
    Reply,
    completion,
    make_config,
    sample_context,
)

ANALYSIS = json.dumps(
    {
        "regime": "bull",
        "sector_scores": {"Technology": 2, "Energy": -1},
        "portfolio_health": "healthy, 40% cash",
        "opportunities": ["AI capex"],
        "threats": ["rates"],
    }
)
DECISIONS = json.dumps(
    {
        "actions": [
            {
                "action": "BUY",
                "symbol": "AAPL",
                "amount": 2500,
                "thesis": "earnings beat",
                "stop_loss_pct": 0.08,
                "take_profit_pct": 0.25,
                "time_stop_days": 40,
            },
            {"action": "SELL", "symbol": "MSFT", "thesis": "cloud probe"},
            {"action": "BUY", "symbol": "NVDA", "amount": "a lot"},
            {"action": "BUY", "symbol": "GME", "amount": 1000},
            {"action": "HOLD", "symbol": "NVDA"},
        ]
    }
)


def _by_pass(analysis: str, decisions: str) -> Callable[[dict[str, Any]], Reply]:
    def respond(body: dict[str, Any]) -> Reply:
        system = body["messages"][0]["content"]
        return completion(analysis if system == ANALYST_SYSTEM else decisions)

    return respond


@pytest.fixture
def manager_for(
    llm_server: FakeLLMServer,
    make_client: Callable[..., Any],
    store: MemoryStore,
    clock: FixedClock,
    tmp_path: Path,
) -> Callable[..., ManagerOracle]:
    def build(replay_only: bool = False, **overrides: Any) -> ManagerOracle:
        config = make_config(llm_server, mode="manager", **overrides)
        client = make_client(config, replay_only=replay_only)
        oracle = build_oracle(
            config, client, store, account="acct", now=clock.now, audit_dir=tmp_path
        )
        assert isinstance(oracle, ManagerOracle)
        return oracle

    return build


def _context():
    previous = (PreviousDecision("MSFT", "BUY", days_ago=40, pnl_pct=0.05, thesis="cloud growth"),)
    return replace(sample_context(), previous=previous)


def test_two_passes_give_an_analysis_and_validated_actions(manager_for, llm_server) -> None:
    llm_server.respond = _by_pass(ANALYSIS, DECISIONS)
    result = manager_for().decide(_context(), cycle_id="c1")
    assert result.status == "decided"
    assert result.analysis is not None
    assert result.analysis.regime is MarketRegime.BULL
    assert result.analysis.sector_scores == {"Technology": 2.0, "Energy": -1.0}
    assert [(a.action, a.symbol) for a in result.actions] == [
        (Action.BUY, "AAPL"),
        (Action.SELL, "MSFT"),
        (Action.HOLD, "NVDA"),
    ]
    buy = result.of(Action.BUY)[0]
    assert buy.amount == Decimal("2500.00")
    assert (buy.stop_loss_pct, buy.take_profit_pct, buy.time_stop_days) == (0.08, 0.25, 40)
    assert result.of(Action.SELL)[0].amount is None
    assert len(result.dropped) == 2
    assert any("GME" in d for d in result.dropped)
    assert any("NVDA" in d and "amount" in d for d in result.dropped)


def test_pass_two_sees_the_analysis_the_portfolio_and_previous_decisions(
    manager_for, llm_server
) -> None:
    llm_server.respond = _by_pass(ANALYSIS, DECISIONS)
    manager_for().decide(_context(), cycle_id="c1")
    analysis_req, decisions_req = (r.body or {} for r in llm_server.chat_requests)
    assert analysis_req["messages"][0]["content"] == ANALYST_SYSTEM
    body = json.loads(decisions_req["messages"][1]["content"])
    assert body["analysis"]["regime"] == "BULL"
    assert body["portfolio"]["cash_usd"] == "40000.00"
    assert body["previous_decisions"] == [
        {"symbol": "MSFT", "action": "BUY", "day": -40, "pnl_pct": 0.05, "thesis": "cloud growth"}
    ]
    assert body["buyable"] == ["AAPL", "MSFT", "NVDA"]
    assert body["held"] == ["MSFT"]
    assert "2024" not in decisions_req["messages"][1]["content"]


def test_an_unusable_analysis_is_repaired_once_then_the_manager_abstains(
    manager_for, llm_server
) -> None:
    llm_server.answer('{"regime": "spicy"}', '{"regime": "still spicy"}')
    result = manager_for().decide(_context(), cycle_id="c1")
    assert result.status == "abstained"
    assert result.actions == ()
    assert result.note == "analysis unusable"
    assert len(llm_server.chat_requests) == 2


def test_unusable_decisions_mean_no_actions_but_keep_the_analysis(manager_for, llm_server) -> None:
    llm_server.respond = _by_pass(ANALYSIS, "I would hold everything.")
    result = manager_for(fallback_models=()).decide(_context(), cycle_id="c1")
    assert result.status == "abstained"
    assert result.actions == ()
    assert result.analysis is not None


def test_a_server_that_fails_means_no_actions(manager_for, llm_server) -> None:
    llm_server.queue(*[Reply(500, {}) for _ in range(4)])
    result = manager_for().decide(_context(), cycle_id="c1")
    assert result.status == "abstained"
    assert result.actions == ()
    assert result.note.startswith("LLM unavailable")


def test_slow_answers_mean_no_actions(manager_for, llm_server) -> None:
    llm_server.queue(Reply(delay_s=0.5, body={}), Reply(delay_s=0.5, body={}))
    result = manager_for(timeout_s=0.2, max_retries=0).decide(_context(), cycle_id="c1")
    assert result.status == "abstained"
    assert "timeout" in result.note


def test_self_consistency_keeps_only_trades_most_samples_agree_on(manager_for, llm_server) -> None:
    samples = [
        '{"actions": [{"action": "BUY", "symbol": "AAPL", "amount": 1000},'
        ' {"action": "BUY", "symbol": "NVDA", "amount": 900}]}',
        '{"actions": [{"action": "BUY", "symbol": "AAPL", "amount": 3000}]}',
        '{"actions": [{"action": "BUY", "symbol": "AAPL", "amount": 2000}]}',
    ]
    llm_server.answer(ANALYSIS, *samples)
    result = manager_for(self_consistency_k=3).decide(_context(), cycle_id="c1")
    assert [(a.symbol, a.amount) for a in result.actions] == [("AAPL", Decimal("2000.00"))]


def test_vote_actions_holds_on_a_split() -> None:
    buy = TradeAction(action=Action.BUY, symbol="AAPL", amount=Decimal("100.00"))
    sell = TradeAction(action=Action.SELL, symbol="AAPL", amount=None)
    assert vote_actions([[buy], [sell]]) == ()
    assert vote_actions([[buy]]) == (buy,)


def test_a_cached_replay_decides_the_same_with_zero_http_calls(manager_for, llm_server) -> None:
    llm_server.respond = _by_pass(ANALYSIS, DECISIONS)
    first = manager_for().decide(_context(), cycle_id="c1")
    calls = len(llm_server.requests)
    llm_server.respond = None
    replay = manager_for(replay_only=True).decide(_context(), cycle_id="c1-replay")
    assert len(llm_server.requests) == calls
    assert replay.actions == first.actions
    assert replay.analysis == first.analysis


def test_both_passes_are_audited(manager_for, llm_server, store) -> None:
    llm_server.respond = _by_pass(ANALYSIS, DECISIONS)
    manager_for().decide(_context(), cycle_id="c1")
    kinds = [r.kind for r in store.audit_records("c1")]
    assert kinds == [
        "manager.start",
        "prompt",
        "response",
        "parse",
        "prompt",
        "response",
        "parse",
        "decision",
    ]
