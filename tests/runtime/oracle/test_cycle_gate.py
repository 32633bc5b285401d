"""The oracle inside the cycle: it only lowers buys, never holds up a sell, replays for free."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from invest.runtime.backtest.runner import BacktestResult, replay
from invest.runtime.config import parse_config
from invest.runtime.cycle import AccountRuntime, run_cycle
from invest.runtime.data.sample import SampleData
from invest.runtime.domain import AccountState, Position, Side
from invest.runtime.market import Market
from invest.runtime.oracle.gate.cycle import build_cycle_gate
from invest.runtime.oracle.store import MemoryStore
from tests.runtime.oracle.support import FakeLLMServer, Reply, completion

UNIVERSE = ["AAPL", "MSFT", "KO", "JNJ"]


def _now() -> datetime:
    return datetime(2026, 11, 21, tzinfo=UTC)


def _settings(oracle: dict[str, Any]) -> Any:
    return parse_config(
        {
            "accounts": {
                "gated": {
                    "universe": UNIVERSE,
                    "schedule": "30 16 * * fri",
                    "trend_king": {"top_n": 2},
                    "oracle": oracle,
                }
            }
        }
    )


def _shrink_everything(body: dict[str, Any]) -> Reply:
    # Answer for every symbol of the universe; the parser drops the ones not proposed.
    verdicts = [
        {"symbol": s, "verdict": "SHRINK", "fraction": 0.5, "reason": "half size"} for s in UNIVERSE
    ]
    return completion(json.dumps({"verdicts": verdicts}))


def _backtest(settings: Any, tmp: Path, *, replay_only: bool, store: MemoryStore) -> BacktestResult:
    cfg = settings.account("gated")
    gate = build_cycle_gate(
        cfg.oracle, "gated", tmp, now=_now, replay_only=replay_only, store=store
    )
    acct = AccountRuntime.build("gated", settings, gate=gate)
    frame = SampleData().load(acct.symbols(), None, date(2020, 12, 31))
    try:
        return replay(acct, Market(frame), date(2019, 1, 2))
    finally:
        gate.close()


def test_a_backtest_on_cached_verdicts_runs_twice_with_identical_results(tmp_path: Path) -> None:
    server = FakeLLMServer()
    server.respond = _shrink_everything
    server.start()
    store = MemoryStore()
    try:
        settings = _settings({"base_url": server.url, "model": "main", "timeout_s": 2.0})
        live = _backtest(settings, tmp_path, replay_only=False, store=store)
    finally:
        server.stop()
    calls = len(server.chat_requests)
    assert calls > 0
    first = _backtest(settings, tmp_path, replay_only=True, store=store)
    second = _backtest(settings, tmp_path, replay_only=True, store=store)
    assert len(server.chat_requests) == calls  # the replays asked nobody
    for r in (first, second):
        np.testing.assert_array_equal(r.equity, live.equity)
        assert r.decisions == live.decisions
    shrunk = [c for d in live.decisions for c in d["clamps"] if c["rule"] == "llm_shrink"]
    assert shrunk
    assert all(d["llm"]["status"] in {"reviewed", "partial"} for d in live.decisions if d["llm"])


def test_a_stop_loss_sell_goes_through_while_the_llm_endpoint_is_down(tmp_path: Path) -> None:
    # Nothing listens on this port: every LLM call fails to connect.
    settings = _settings(
        {"base_url": "http://127.0.0.1:9/v1", "model": "main", "timeout_s": 0.3, "max_retries": 0}
    )
    cfg = settings.account("gated")
    gate = build_cycle_gate(cfg.oracle, "gated", tmp_path, now=_now, store=MemoryStore())
    market = Market(SampleData().load([*UNIVERSE, "SP500"], None, date(2021, 12, 31)))
    t = len(market) - 1
    price = market.price("KO", t)
    state = AccountState("gated", Decimal(5_000))
    # Bought well above today's price: the stop-loss must fire.
    state.positions["KO"] = Position("KO", Decimal(10), Decimal(str(price * 1.5)), date(2021, 1, 4))
    acct = AccountRuntime.build("gated", settings, state=state, gate=gate)
    acct.strategy.prepare(market)
    from invest.runtime.cycle import MemorySink

    sink = MemorySink()
    try:
        result = run_cycle(acct, market, t, sink)
    finally:
        gate.close()
    sells = [i for i in result.intents if i.side is Side.SELL and i.symbol == "KO"]
    assert len(sells) == 1
    assert sells[0].quantity == Decimal(10)
    assert sells[0].reason.startswith("stop_loss")
    # New buys follow on_unavailable = "block": none is sent, each with its reason.
    assert not [i for i in result.intents if i.side is Side.BUY]
    record = sink.decisions[-1]
    assert record["llm"] is not None
    assert record["llm"]["status"] == "abstained"
    assert any(c["rule"] == "llm_veto" for c in record["clamps"])


def test_an_api_key_in_the_config_file_is_refused_and_the_environment_one_is_used(
    monkeypatch: Any,
) -> None:
    import pytest

    from invest.runtime.errors import ConfigError

    oracle = {"provider": "mistral", "api_key": "sk-in-the-file"}
    with pytest.raises(ConfigError, match="secrets never go in the config file") as exc:
        _settings(oracle)
    assert "sk-in-the-file" not in str(exc.value)
    with pytest.raises(ConfigError, match="set INVEST_LLM_API_KEY"):
        _settings({"provider": "mistral"})
    monkeypatch.setenv("INVEST_LLM_API_KEY", "sk-from-env")
    cfg = _settings({"provider": "mistral"}).account("gated").oracle
    assert cfg.api_key.get_secret_value() == "sk-from-env"
    assert "sk-from-env" not in repr(cfg)


def test_llm_check_probes_each_configured_endpoint(
    tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    from invest.runtime.cli import main

    server = FakeLLMServer()
    server.answer("OK", '{"ok": true}')  # the one-token completion, then the JSON-mode one
    server.start()
    try:
        config = tmp_path / "config.toml"
        config.write_text(
            f'[accounts.up]\nuniverse = ["AAPL"]\n[accounts.up.oracle]\nbase_url = "{server.url}"\n'
            'model = "main"\n'
            '[accounts.down]\nuniverse = ["AAPL"]\n[accounts.down.oracle]\n'
            'base_url = "http://127.0.0.1:9/v1"\nmodel = "main"\nconnect_timeout_s = 0.5\n'
        )
        assert main(["--config", str(config), "llm", "check"]) == 1
    finally:
        server.stop()
    out = capsys.readouterr().out
    assert "up: openai" in out
    assert "OK (ok)" in out
    assert "main: OK (main answered in " in out
    assert [r.body["max_tokens"] for r in server.chat_requests if r.body] == [1, 20]
    assert "down: openai" in out
    assert "FAIL (unreachable" in out


def test_invest_run_audits_the_gate_into_the_ledger(
    tmp_path: Path, monkeypatch: Any, capsys: Any
) -> None:
    from invest.runtime.cli import main
    from invest.runtime.ledger import Ledger

    monkeypatch.setenv("INVEST_HOME", str(tmp_path))
    server = FakeLLMServer()
    server.respond = _shrink_everything
    server.start()
    try:
        config = tmp_path / "config.toml"
        config.write_text(
            '[accounts.gated]\nuniverse = ["AAPL", "MSFT"]\n'
            '[accounts.gated.trend_king]\ndefensive = ["KO", "JNJ"]\nmax_weight = 0.5\n'
            f'[accounts.gated.oracle]\nbase_url = "{server.url}"\nmodel = "main"\n'
        )
        assert main(["--config", str(config), "run", "gated"]) == 0
    finally:
        server.stop()
    assert "llm_shrink" in capsys.readouterr().out
    ledger = Ledger(tmp_path / "ledger.sqlite", readonly=True)
    rows = ledger.conn.execute("SELECT cycle_id, kind FROM llm_audit").fetchall()
    assert rows
    assert {r[0] for r in rows} == {"gated:2022-12-28"}
    assert (tmp_path / "oracle" / "cycles").is_dir()
