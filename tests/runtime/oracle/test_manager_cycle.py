"""The llm_manager strategy in the cycle: it proposes, the risk engine disposes, its stops hold."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from invest.runtime.config import parse_config
from invest.runtime.cycle import AccountRuntime, MemorySink, run_cycle, settle
from invest.runtime.data.frame import BarFrame
from invest.runtime.domain import (
    AccountState,
    ExitPlan,
    Fill,
    Position,
    Proposal,
    Regime,
    Side,
)
from invest.runtime.market import Market
from invest.runtime.oracle import ChatRequest, ManagerOracle, MemoryStore, OracleConfig
from invest.runtime.oracle.errors import LLMUnavailableError
from invest.runtime.oracle.manager.prompts import ANALYST_SYSTEM, MANAGER_SYSTEM
from invest.runtime.research.watchlist import Watchlist
from invest.runtime.risk.engine import RiskResult
from invest.runtime.strategies.llm_manager import LLMManager, PastDecision, past_decisions
from tests.runtime.oracle.support import FixedClock, ScriptedClient

DAYS = 300
T0 = 260  # the manager's cycle; A falls 5% at DROP
DROP = 264
UNIVERSE = ("A", "B")
ANALYSIS = json.dumps({"regime": "BULL", "summary": "steady uptrend"})


def _market() -> Market:
    i = np.arange(DAYS, dtype=np.float64)
    a = 100 * 1.001**i
    a[DROP:] *= 0.95  # a 5% fall: past a 3% stop, well short of the profile's 15%
    cols = {
        "A": a,
        "B": 50 * 1.0008**i,
        "C": 80 * 1.0012**i,  # in the data, not in the universe
        "IDX": 1000 * 1.0005**i,  # rising: ATTACK
    }
    dates = np.arange(np.datetime64("2020-01-01"), np.datetime64("2020-01-01") + DAYS)
    return Market(
        BarFrame(dates=dates, symbols=tuple(cols), close=np.column_stack(list(cols.values())))
    )


def _decisions(*actions: dict[str, Any]) -> str:
    return json.dumps({"actions": list(actions)})


def _answers(decisions: str) -> Callable[[ChatRequest], str]:
    def answer(request: ChatRequest) -> str:
        system = request.messages[0]["content"]
        if system == ANALYST_SYSTEM:
            return ANALYSIS
        assert system == MANAGER_SYSTEM
        return decisions

    return answer


def _down(request: ChatRequest) -> str:
    raise LLMUnavailableError("connection refused")


class _Capture:
    """Wraps the strategy to keep its proposals (the test reads them like the cycle does)."""

    def __init__(self, inner: LLMManager) -> None:
        self.inner = inner
        self.name = inner.name
        self.proposals: list[Proposal] = []

    def prepare(self, market: Market) -> None:
        self.inner.prepare(market)

    def propose(self, t: int, state: AccountState) -> Proposal:
        p = self.inner.propose(t, state)
        self.proposals.append(p)
        return p


def _manager(
    answer: Callable[[ChatRequest], str],
    tmp_path: Path,
    *,
    universe: tuple[str, ...] = UNIVERSE,
    **kwargs: Any,
) -> tuple[LLMManager, ScriptedClient, MemoryStore]:
    config = OracleConfig(base_url="http://127.0.0.1:9/v1", model="main", mode="manager")
    client = ScriptedClient(answer)
    store = MemoryStore()
    clock = FixedClock()
    oracle = ManagerOracle(
        config, client, store, account="mgr", now=clock.now, audit_dir=tmp_path / "cycles"
    )
    return LLMManager(oracle, universe, "IDX", account="mgr", **kwargs), client, store


def _account(strategy: LLMManager, market: Market, state: AccountState | None = None) -> Any:
    settings = parse_config(
        {"accounts": {"mgr": {"universe": list(UNIVERSE), "benchmark": "IDX", "cash": 10_000}}}
    )
    acct = AccountRuntime.build("mgr", settings, state=state)
    acct.strategy = _Capture(strategy)
    acct.strategy.prepare(market)
    return acct


def _cycle(acct: Any, market: Market, t: int, sink: MemorySink) -> RiskResult:
    result = run_cycle(acct, market, t, sink)
    # The line handed to cycle.run_cycle (idempotent, so harmless once it is there):
    proposal = acct.strategy.proposals[-1]
    acct.state.plan_exits(
        proposal.extra.get("exits", {}), [i.symbol for i in result.intents if i.side is Side.BUY]
    )
    return result


def test_an_llm_buy_carries_its_stop_to_the_position_and_the_monitor_sells_at_that_stop(
    tmp_path: Path,
) -> None:
    buy = {
        "action": "BUY",
        "symbol": "A",
        "amount": 1500,
        "thesis": "trend",
        "stop_loss_pct": 0.03,
        "take_profit_pct": 0.5,
        "time_stop_days": 60,
    }
    manager, _, _ = _manager(_answers(_decisions(buy)), tmp_path)
    market = _market()
    acct = _account(manager, market)
    sink = MemorySink()
    result = _cycle(acct, market, T0, sink)
    [order] = result.intents
    assert (order.symbol, order.side) == ("A", Side.BUY)
    assert 1400 < float(order.notional) <= 1500

    settle(acct, market, T0 + 1, sink)
    pos = acct.state.positions["A"]
    assert (pos.stop_loss_pct, pos.take_profit_pct, pos.time_stop_days) == (0.03, 0.5, 60)
    assert acct.state.exit_plans == {}  # used once

    sold_at = None
    for t in range(T0 + 1, T0 + 10):
        monitor = run_cycle(acct, market, t, sink, monitor_only=True)
        if monitor.intents:
            [stop] = monitor.intents
            sold_at = t
            break
    assert sold_at == DROP  # the first close below avg -3%; the profile's -15% is far away
    assert stop.side is Side.SELL
    assert stop.quantity == pos.quantity
    assert stop.reason.startswith("stop_loss")
    assert "-3%" in stop.reason


def test_an_llm_buy_of_ten_times_the_cap_is_clamped_by_the_risk_engine(tmp_path: Path) -> None:
    huge = {"action": "BUY", "symbol": "A", "amount": 20_000, "thesis": "all in"}
    manager, _, _ = _manager(_answers(_decisions(huge)), tmp_path)
    market = _market()
    acct = _account(manager, market)
    sink = MemorySink()
    result = _cycle(acct, market, T0, sink)
    proposal = acct.strategy.proposals[-1]
    assert proposal.targets["A"] == pytest.approx(2.0)  # what the LLM asked for
    [order] = result.intents
    assert float(order.notional) <= 0.20 * 10_000 + 1  # the balanced profile's 20% cap
    record = sink.decisions[-1]
    assert {"rule": "max_position", "symbol": "A"}.items() <= record["clamps"][0].items()
    assert record["targets"]["A"] == pytest.approx(0.20)


def test_an_llm_action_on_a_symbol_outside_the_universe_is_dropped_with_a_note(
    tmp_path: Path,
) -> None:
    decisions = _decisions(
        {"action": "BUY", "symbol": "B", "amount": 1000, "thesis": "ok"},
        {"action": "BUY", "symbol": "C", "amount": 1000, "thesis": "not ours"},
        {"action": "BUY", "symbol": "ZZZ", "amount": 1000, "thesis": "made up"},
    )
    manager, _, _ = _manager(_answers(decisions), tmp_path)
    market = _market()
    manager.prepare(market)
    proposal = manager.propose(T0, AccountState("mgr", Decimal(10_000)))
    assert set(proposal.targets) == {"B"}
    assert proposal.targets["B"] == pytest.approx(0.10)
    dropped = [n for n in proposal.notes if "dropped" in n]
    assert any("C" in n and "universe" in n for n in dropped)
    assert any("ZZZ" in n for n in dropped)
    llm = proposal.extra["llm"]
    assert llm["mode"] == "manager"
    assert llm["status"] == "decided"
    assert llm["analysis"]["regime"] == "BULL"
    assert [a["symbol"] for a in llm["actions"]] == ["B"]
    assert proposal.regime is Regime.ATTACK


def test_a_watchlist_symbol_joins_the_candidates(tmp_path: Path) -> None:
    decisions = _decisions({"action": "BUY", "symbol": "C", "amount": 1000, "thesis": "screened"})
    market = _market()

    def watchlist(day: date) -> Watchlist:
        return Watchlist(day, ("C",), {"C": "momentum"}, "rules")

    manager, client, _ = _manager(_answers(decisions), tmp_path, watchlist=watchlist)
    manager.prepare(market)
    proposal = manager.propose(T0, AccountState("mgr", Decimal(10_000)))
    assert proposal.targets == {"C": pytest.approx(0.10)}
    body = json.loads(client.calls[-1].messages[1]["content"])
    assert body["buyable"] == ["A", "B", "C"]


def test_when_the_llm_is_down_no_new_buys_are_made_and_the_stop_loss_still_fires(
    tmp_path: Path,
) -> None:
    manager, client, _ = _manager(_down, tmp_path)
    market = _market()
    price_a, price_b = market.price("A", T0), market.price("B", T0)
    state = AccountState("mgr", Decimal(6_000))
    # A was bought far above today's price: the profile's 15% stop must fire.
    state.positions["A"] = Position("A", Decimal(10), Decimal(str(price_a * 1.3)), date(2020, 3, 1))
    state.positions["B"] = Position("B", Decimal(20), Decimal(str(price_b)), date(2020, 3, 1))
    acct = _account(manager, market, state)
    sink = MemorySink()
    result = _cycle(acct, market, T0, sink)
    assert client.calls  # it was asked
    assert [(i.symbol, i.side) for i in result.intents] == [("A", Side.SELL)]
    assert result.intents[0].reason.startswith("stop_loss")
    proposal = acct.strategy.proposals[-1]
    assert "B" in proposal.targets  # kept at its current weight: no sell, no buy
    assert proposal.extra["llm"]["status"] == "abstained"
    assert proposal.extra["exits"] == {}
    assert any("abstained" in n and "no new buys" in n for n in proposal.notes)


def test_sell_with_an_amount_trims_sell_without_one_closes_and_hold_keeps_the_weight(
    tmp_path: Path,
) -> None:
    market = _market()
    pa, pb = market.price("A", T0), market.price("B", T0)
    state = AccountState("mgr", Decimal(5_000))
    state.positions["A"] = Position(
        "A", Decimal(str(2_000 / pa)), Decimal(str(pa)), date(2020, 3, 1)
    )
    state.positions["B"] = Position(
        "B", Decimal(str(3_000 / pb)), Decimal(str(pb)), date(2020, 3, 1)
    )
    decisions = _decisions(
        {"action": "SELL", "symbol": "A", "amount": 500, "thesis": "trim"},
        {"action": "HOLD", "symbol": "B", "thesis": "fine"},
    )
    manager, _, _ = _manager(_answers(decisions), tmp_path)
    manager.prepare(market)
    p = manager.propose(T0, state)
    assert p.targets["A"] == pytest.approx(0.15, abs=1e-6)
    assert p.targets["B"] == pytest.approx(0.30, abs=1e-6)
    closing = _decisions({"action": "SELL", "symbol": "A", "thesis": "out"})
    manager, _, _ = _manager(_answers(closing), tmp_path)
    manager.prepare(market)
    p = manager.propose(T0, state)
    assert "A" not in p.targets
    assert p.targets["B"] == pytest.approx(0.30, abs=1e-6)


def test_the_next_cycle_shows_earlier_decisions_with_their_live_pnl(tmp_path: Path) -> None:
    decisions = _decisions({"action": "BUY", "symbol": "A", "amount": 1000, "thesis": "trend"})
    market = _market()
    ledger_rows = [PastDecision(date(2020, 8, 1), "B", "SELL", 40.0, "from the ledger")]
    manager, client, _ = _manager(
        _answers(decisions), tmp_path, history=lambda day: [d for d in ledger_rows if d.day < day]
    )
    manager.prepare(market)
    state = AccountState("mgr", Decimal(10_000))
    manager.propose(T0, state)
    manager.propose(T0 + 5, state)
    body = json.loads(client.calls[-1].messages[1]["content"])
    previous = {(d["symbol"], d["action"]): d for d in body["previous_decisions"]}
    a = previous[("A", "BUY")]
    assert a["day"] == -5
    expected = market.price("A", T0 + 5) / market.price("A", T0) - 1
    assert a["pnl_pct"] == pytest.approx(expected, abs=1e-4)
    b = previous[("B", "SELL")]  # a SELL gains when the price falls: B rose, so it is negative
    assert b["pnl_pct"] == pytest.approx(-(market.price("B", T0 + 5) / 40.0 - 1), abs=1e-4)


def test_past_decisions_are_read_back_from_explanation_records() -> None:
    records = [
        {
            "day": "2024-06-10",
            "llm": {
                "mode": "manager",
                "actions": [{"symbol": "A", "action": "BUY", "price": 12.5, "thesis": "t"}],
            },
        },
        {"day": "2024-06-11", "llm": {"status": "reviewed", "verdicts": []}},  # a gate record
        {
            "day": "2024-06-12",
            "llm": {"mode": "manager", "actions": [{"symbol": "B", "action": "SELL"}]},
        },
    ]
    found = past_decisions(records, before=date(2024, 6, 12))
    assert found == [PastDecision(date(2024, 6, 10), "A", "BUY", 12.5, "t")]


def test_a_pending_exit_plan_lands_on_the_position_at_the_fill_and_is_used_once() -> None:
    state = AccountState("mgr", Decimal(10_000))
    state.plan_exits(
        {"A": {"stop_loss_pct": 0.05, "take_profit_pct": None, "time_stop_days": 10}},
        ["A", "B"],
    )
    assert state.exit_plans == {"A": ExitPlan(0.05, None, 10)}
    fill = Fill("id1", "mgr", "A", Side.BUY, Decimal(5), Decimal(100), Decimal(0), date(2024, 1, 2))
    state.apply_fill(fill)
    pos = state.positions["A"]
    assert (pos.stop_loss_pct, pos.take_profit_pct, pos.time_stop_days) == (0.05, None, 10)
    assert state.exit_plans == {}
    state.apply_fill(fill)  # a second fill without a plan keeps the levels
    assert state.positions["A"].stop_loss_pct == 0.05
    state.plan_exits({"A": {"stop_loss_pct": 7}}, ["A"])  # out of range: ignored
    assert state.exit_plans == {}


def test_the_wiring_builds_a_replaying_manager_auditing_under_home(tmp_path: Path) -> None:
    from invest.runtime.errors import ConfigError
    from invest.runtime.oracle.accounts import build_gate
    from invest.runtime.oracle.store import JsonFileStore
    from invest.runtime.strategies.llm_manager import build_manager

    settings = parse_config(
        {
            "accounts": {
                "mgr": {
                    "universe": list(UNIVERSE),
                    "benchmark": "IDX",
                    "strategy": "llm_manager",
                    "oracle": {"mode": "manager", "news": {"feeds": ["https://x.test/rss"]}},
                }
            }
        }
    )
    now = FixedClock().now
    manager = build_manager(settings, "mgr", tmp_path, now, mode="replay")
    assert isinstance(manager, LLMManager)
    assert isinstance(manager.oracle, ManagerOracle)
    assert isinstance(manager.oracle.store, JsonFileStore)
    assert manager.oracle.store.root == tmp_path / "oracle"
    assert manager.oracle.audit_dir == tmp_path / "oracle" / "cycles"
    assert manager.sources == []  # a replay reads no news
    live = build_manager(settings, "mgr", tmp_path, now)
    assert isinstance(live, LLMManager)
    assert len(live.sources) == 1
    live.close()
    assert build_gate(settings, "mgr", tmp_path, now) is None  # manager mode: no gate
    with pytest.raises(ConfigError, match="needs its LLM"):
        build_manager(settings, "mgr", tmp_path, now, mode="off")
    market = _market()
    manager.prepare(market)
    proposal = manager.propose(T0, AccountState("mgr", Decimal(10_000)))
    assert proposal.extra["llm"]["status"] == "abstained"  # replay only, nothing cached
    assert "replay only" in proposal.extra["llm"]["note"]
    assert list((tmp_path / "oracle" / "cycles").iterdir())
    manager.close()
