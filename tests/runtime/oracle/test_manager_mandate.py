"""The LLM manager is told its account's mandate: the buckets and where the book stands."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from invest.runtime.config import parse_config
from invest.runtime.config.mandate import MandateConfig
from invest.runtime.data.frame import BarFrame
from invest.runtime.domain import AccountState, Position
from invest.runtime.market import Market
from invest.runtime.oracle import ChatRequest, ManagerOracle, MemoryStore, OracleConfig
from invest.runtime.oracle.manager.prompts import ANALYST_SYSTEM, MANAGER_SYSTEM
from invest.runtime.strategies.llm_manager import LLMManager, build_manager
from tests.runtime.oracle.support import FixedClock, ScriptedClient

DAYS = 300
T = 260
CORE = MandateConfig(buckets={"etf": 0.6, "stock": 0.3, "cash": 0.1}, band=0.05)
CLASSES = {"ETF": "etf", "A": "stock", "B": "stock"}


def _market() -> Market:
    i = np.arange(DAYS, dtype=np.float64)
    cols = {"ETF": 100 * 1.0005**i, "A": 50 * 1.001**i, "B": 80 * 1.0008**i, "IDX": 1000 + i}
    dates = np.arange(np.datetime64("2020-01-01"), np.datetime64("2020-01-01") + DAYS)
    return Market(
        BarFrame(dates=dates, symbols=tuple(cols), close=np.column_stack(list(cols.values())))
    )


def _answer(request: ChatRequest) -> str:
    if request.messages[0]["content"] == ANALYST_SYSTEM:
        return json.dumps({"regime": "BULL", "summary": "calm"})
    return json.dumps({"actions": []})


def _prompts(tmp_path: Path, **kwargs: Any) -> dict[str, dict[str, Any]]:
    """The user message of each pass (by system prompt) for one cycle holding A."""
    config = OracleConfig(base_url="http://127.0.0.1:9/v1", model="main", mode="manager")
    client = ScriptedClient(_answer)
    oracle = ManagerOracle(
        config,
        client,
        MemoryStore(),
        account="core",
        now=FixedClock().now,
        audit_dir=tmp_path / "cycles",
    )
    manager = LLMManager(oracle, ("ETF", "A", "B"), "IDX", account="core", **kwargs)
    market = _market()
    manager.prepare(market)
    price = market.price("A", T)
    held = Position("A", Decimal(40), Decimal(str(round(price, 2))), date(2020, 6, 1))
    state = AccountState("core", Decimal(10_000) - Decimal(40) * Decimal(str(round(price, 2))))
    state.positions["A"] = held
    manager.propose(T, state)
    out = {}
    for call in client.calls:
        out[call.messages[0]["content"]] = json.loads(call.messages[1]["content"])
    return out


def test_the_decision_prompt_carries_the_buckets_and_the_current_weights(tmp_path: Path) -> None:
    prompts = _prompts(tmp_path, mandate=CORE, asset_classes=CLASSES)
    body = prompts[MANAGER_SYSTEM]
    mandate = body["mandate"]
    equity = 10_000.0  # A was bought at its close: equity is the starting cash
    a_weight = body["portfolio"]["positions"][0]["weight"]
    assert 0.1 < a_weight < 0.3
    assert mandate["band"] == 0.05
    assert mandate["buckets"]["etf"] == {"target": 0.6, "weight": 0.0}
    assert mandate["buckets"]["stock"] == {"target": 0.3, "weight": a_weight}
    cash = float(body["portfolio"]["cash_usd"]) / equity
    assert abs(mandate["buckets"]["cash"]["weight"] - cash) < 1e-3
    assert mandate["buckets"]["cash"]["target"] == 0.1
    assert mandate["asset_classes"] == {"A": "stock", "B": "stock", "ETF": "etf"}
    assert "never buys to fill an under-weight class" in mandate["rule"]
    assert prompts[ANALYST_SYSTEM]["mandate"] == mandate  # pass 1 sees it too


def test_without_a_mandate_the_prompt_has_no_mandate_part(tmp_path: Path) -> None:
    prompts = _prompts(tmp_path)
    assert "mandate" not in prompts[MANAGER_SYSTEM]
    assert "mandate" not in prompts[ANALYST_SYSTEM]


def test_build_manager_hands_the_account_mandate_and_the_asset_classes(tmp_path: Path) -> None:
    settings = parse_config(
        {
            "assets": {"SP500": "etf", "AAPL": "stock"},
            "accounts": {
                "core": {
                    "strategy": "llm_manager",
                    "universe": ["SP500", "AAPL"],
                    "mandate": {"buckets": {"etf": 0.6, "stock": 0.3, "cash": 0.1}},
                    "oracle": {
                        "base_url": "http://127.0.0.1:9/v1",
                        "model": "main",
                        "mode": "manager",
                    },
                }
            },
        }
    )
    manager = build_manager(settings, "core", tmp_path, FixedClock().now, "replay")
    assert manager is not None
    assert manager.mandate == settings.account("core").mandate
    assert manager.asset_classes == {"SP500": "etf", "AAPL": "stock"}
    manager.close()
