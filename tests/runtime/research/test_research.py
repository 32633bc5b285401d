"""The research agent: a rules screen, an LLM ranking, and the rules order when the LLM fails."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from invest.runtime.data.frame import BarFrame
from invest.runtime.market import Market
from invest.runtime.oracle import ChatRequest, MemoryStore, OracleConfig
from invest.runtime.oracle.errors import LLMUnavailableError
from invest.runtime.research.agent import (
    RESEARCH_SYSTEM,
    ResearchAgent,
    ResearchConfig,
    ScreenRules,
    parse_ranking,
    run_research,
    screen,
)
from invest.runtime.research.watchlist import (
    Watchlist,
    effective_universe,
    load_watchlist,
    save_watchlist,
    watchlist_symbols,
)
from tests.runtime.oracle.support import FixedClock, ScriptedClient

DAYS = 200
T = DAYS - 1
#: symbol -> (daily drift, daily noise, shares traded per day)
SHAPES = {
    "LO": (0.001, 0.002, 1e6),
    "HI": (0.003, 0.002, 1e6),
    "FALL": (-0.002, 0.002, 1e6),
    "MID": (0.002, 0.002, 1e6),
    "WILD": (0.004, 0.08, 1e6),  # ~127% annualised volatility: outside the band
    "THIN": (0.005, 0.002, 10.0),  # the best momentum, but ~$2k a day
}
CONFIG = OracleConfig(base_url="http://127.0.0.1:9/v1", model="main")


def _market(volume: bool = True) -> Market:
    rng = np.random.default_rng(7)
    closes, volumes = [], []
    for drift, noise, shares in SHAPES.values():
        closes.append(100 * np.exp(np.cumsum(drift + rng.normal(0, noise, DAYS))))
        volumes.append(np.full(DAYS, shares))
    dates = np.arange(np.datetime64("2024-01-01"), np.datetime64("2024-01-01") + DAYS)
    return Market(
        BarFrame(
            dates=dates,
            symbols=tuple(SHAPES),
            close=np.column_stack(closes),
            volume=np.column_stack(volumes) if volume else None,
        )
    )


def _agent(answer: Callable[[ChatRequest], str], tmp_path: Path) -> tuple[ResearchAgent, Any]:
    store = MemoryStore()
    client = ScriptedClient(answer)
    agent = ResearchAgent(
        store, client, CONFIG, name="daily", now=FixedClock().now, audit_dir=tmp_path / "cycles"
    )
    return agent, (client, store)


def test_the_rules_screen_ranks_by_momentum_and_filters_falling_wild_and_thin_names() -> None:
    rows = screen(_market(), T, [*SHAPES, "NOT_IN_DATA"])
    assert [r.symbol for r in rows] == ["HI", "MID", "LO"]
    assert all(r.momentum > 0 for r in rows)
    assert all(0 < r.volatility < 0.8 for r in rows)
    assert rows[0].dollar_volume is not None
    assert rows[0].dollar_volume > 1e6
    assert "momentum +" in rows[0].reason


def test_without_volume_data_the_liquidity_floor_is_skipped() -> None:
    rows = screen(_market(volume=False), T, list(SHAPES))
    assert [r.symbol for r in rows] == ["THIN", "HI", "MID", "LO"]
    assert rows[0].dollar_volume is None


def test_the_screen_reads_only_rows_up_to_t() -> None:
    full, cut = _market(), Market(_market().frame.rows(0, 150))
    assert screen(full, 149, list(SHAPES)) == screen(cut, 149, list(SHAPES))


def test_the_llm_ranking_reorders_the_screened_names_and_drops_strangers(tmp_path: Path) -> None:
    ranking = {
        "ranking": [
            {"symbol": "LO", "reason": "cheapest of the three"},
            {"symbol": "FAKE", "reason": "not a candidate"},
            {"symbol": "THIN", "reason": "screened out"},
            {"symbol": "HI"},
            {"symbol": "LO", "reason": "twice"},
        ]
    }
    agent, (client, store) = _agent(lambda r: json.dumps(ranking), tmp_path)
    wl = agent.run(_market(), T, list(SHAPES))
    assert wl.source == "llm"
    assert wl.symbols == ("LO", "HI")
    assert wl.reasons["LO"] == "cheapest of the three"
    assert wl.reasons["HI"].startswith("momentum")  # no reason given: the screen's
    assert len(client.calls) == 1  # one prompt
    [request] = client.calls
    assert request.messages[0]["content"] == RESEARCH_SYSTEM
    body = json.loads(request.messages[1]["content"])
    assert list(body["candidates"]) == ["HI", "LO", "MID"]  # sorted keys
    assert body["candidates"]["HI"]["rules_rank"] == 1
    assert "2024" not in request.messages[1]["content"]
    kinds = [r.kind for r in store.audit_records("research:daily:2024-07-18")]
    assert kinds == ["research.screen", "prompt", "response", "parse", "watchlist"]
    [parse] = [r for r in store.audit_records("research:daily:2024-07-18") if r.kind == "parse"]
    assert len(parse.data["problems"]) == 3


def test_llm_garbage_leaves_the_rules_order(tmp_path: Path) -> None:
    agent, (client, _) = _agent(lambda r: "I like tech stocks.", tmp_path)
    wl = agent.run(_market(), T, list(SHAPES))
    assert wl.source == "rules"
    assert wl.symbols == ("HI", "MID", "LO")
    assert "unusable" in wl.note
    assert len(client.calls) == 2  # the answer and one repair


def test_an_llm_that_is_down_leaves_the_rules_order(tmp_path: Path) -> None:
    def down(request: ChatRequest) -> str:
        raise LLMUnavailableError("connection refused")

    agent, _ = _agent(down, tmp_path)
    wl = agent.run(_market(), T, list(SHAPES))
    assert (wl.source, wl.symbols) == ("rules", ("HI", "MID", "LO"))
    assert wl.note.startswith("LLM unavailable")


def test_parse_ranking_validates_item_by_item() -> None:
    text = '```json\n{"watchlist": ["hi", {"ticker": "MID", "why": "steady"}, 42, {"reason": "x"}]}\n```'
    parsed = parse_ranking(text, {"HI", "MID"})
    assert [(r.symbol, r.reason) for r in parsed.ranked] == [("HI", ""), ("MID", "steady")]
    assert len(parsed.problems) == 2
    assert parse_ranking("nothing", {"HI"}).fatal is not None


def test_the_size_limits_the_watchlist(tmp_path: Path) -> None:
    agent = ResearchAgent(MemoryStore(), rules=ScreenRules(size=2), now=FixedClock().now)
    wl = agent.run(_market(), T, list(SHAPES))
    assert wl.symbols == ("HI", "MID")
    assert wl.note == "no LLM configured: rules order"


def test_watchlists_are_saved_per_day_and_loaded_point_in_time(tmp_path: Path) -> None:
    old = Watchlist(date(2024, 6, 3), ("AAPL",), {"AAPL": "a"}, "llm", "daily")
    new = Watchlist(date(2024, 6, 5), ("MSFT", "NVDA"), {}, "rules", "daily", "LLM down")
    save_watchlist(tmp_path, old)
    save_watchlist(tmp_path, new)
    assert load_watchlist(tmp_path, "daily") == new
    assert load_watchlist(tmp_path, "daily", as_of=date(2024, 6, 4)) == old
    assert load_watchlist(tmp_path, "daily", as_of=date(2024, 6, 2)) is None
    assert load_watchlist(tmp_path, "other") is None
    (tmp_path / "daily" / "2024-06-06.json").write_text("{broken")
    assert load_watchlist(tmp_path, "daily") == new  # an unreadable file is skipped
    assert watchlist_symbols(tmp_path, "daily") == ("AAPL", "MSFT", "NVDA")
    assert watchlist_symbols(tmp_path, "daily", until=date(2024, 6, 4)) == ("AAPL",)


def test_an_account_universe_gains_the_watchlist_symbols_it_lacks() -> None:
    wl = Watchlist(date(2024, 6, 5), ("MSFT", "NVDA"))
    assert effective_universe(("AAPL", "MSFT"), wl) == ("AAPL", "MSFT", "NVDA")
    assert effective_universe(("AAPL",), None) == ("AAPL",)


def test_the_daily_job_writes_the_watchlist_and_its_audit_file(tmp_path: Path) -> None:
    config = ResearchConfig(symbols=("hi", "mid", "lo", "fall"), oracle=CONFIG)
    client = ScriptedClient(lambda r: '{"ranking": [{"symbol": "MID", "reason": "steady"}]}')
    wl = run_research(config, "daily", _market(), tmp_path, now=FixedClock().now, client=client)
    assert (wl.source, wl.symbols) == ("llm", ("MID",))
    assert load_watchlist(tmp_path / "research", "daily") == wl
    audit = json.loads(
        (tmp_path / "oracle" / "cycles" / "research_daily_2024-07-18.json").read_text()
    )
    assert [r["kind"] for r in audit][-1] == "watchlist"
    assert (tmp_path / "oracle" / "audit").is_dir()  # the default JSON file store


@pytest.mark.parametrize(
    "bad",
    [
        {"day": "x", "symbols": []},
        {"symbols": ["A"]},
        {"day": "2024-01-01", "symbols": [], "source": "magic"},
    ],
)
def test_a_malformed_watchlist_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="not a watchlist"):
        Watchlist.from_dict(bad)


def test_invest_research_run_saves_the_watchlist_of_a_config_section(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from invest.runtime.cli import main

    monkeypatch.setenv("INVEST_HOME", str(tmp_path))
    config = tmp_path / "config.toml"
    config.write_text('[research.momentum]\nsymbols = ["AAPL", "MSFT", "KO", "XOM", "JNJ"]\n')
    assert main(["--config", str(config), "research", "run", "momentum"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("momentum 2022-12-28 (rules): XOM")
    assert (tmp_path / "research" / "momentum" / "2022-12-28.json").exists()
    assert main(["--config", str(config), "research", "run", "nope"]) == 2
    assert "no research section named 'nope'" in capsys.readouterr().err
