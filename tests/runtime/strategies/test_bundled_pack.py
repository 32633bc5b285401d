"""The bundled pack does something: its votes change decisions (issue 12).

The first bundled pack voted HOLD on every symbol-day, so the demo's hybrid account
was a byte-for-byte copy of trend_king and rl_ensemble never traded. These tests
replay the example config's hybrid account and rl_ensemble with the bundled pack
through the runtime cycle and fail on such an inert pack.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np

from invest.runtime.backtest.runner import BacktestResult, replay
from invest.runtime.config import load_config, parse_config
from invest.runtime.cycle import AccountRuntime
from invest.runtime.data.sample import SampleData
from invest.runtime.market import Market
from invest.runtime.paths import example_config

START, END = date(2021, 1, 1), date(2022, 12, 28)


def _run(strategy: str, **rl: Any) -> BacktestResult:
    settings = load_config(example_config())
    cfg = settings.account("hybrid-daily")
    data = cfg.model_dump(mode="json")
    data["strategy"] = strategy
    data["rl"] = {**data["rl"], **rl}
    one = parse_config({"accounts": {"x": data}})
    acct = AccountRuntime.build("x", one, paper=True)
    market = Market(SampleData().load(acct.symbols(), None, END))
    return replay(acct, market, START)


def _trades(r: BacktestResult) -> set[tuple[str, str, str]]:
    return {(f.day.isoformat(), f.symbol, f.side.value) for f in r.fills}


def test_the_demo_hybrid_account_trades_differently_from_trend_king() -> None:
    hybrid, rules = _run("hybrid"), _run("trend_king")
    assert _trades(hybrid) != _trades(rules)
    assert not np.array_equal(hybrid.equity, rules.equity)
    notes = [n for d in hybrid.decisions for n in d["notes"] if n.startswith("RL ")]
    assert notes, "no RL veto or shrink was recorded"


def test_rl_ensemble_with_the_bundled_pack_trades_and_its_votes_vary() -> None:
    r = _run("rl_ensemble")
    assert r.fills
    invested = 1 - r.cash / r.equity
    assert 0.05 < float(invested.mean()) < 0.99
    actions = {v["action"] for d in r.decisions for v in d["rl"].values() if v["action"]}
    assert len(actions) > 1
