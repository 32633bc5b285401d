"""The dynamic universe: the quarterly selection, its point-in-time reading, its wiring.

The selection is checked on hand-built markets whose momentum and volatility are
known by construction (a drift plus a +-a zigzag: over an even number of sessions the
zigzag cancels, so the momentum is ``exp(drift * sessions) - 1`` exactly, and the
volatility is about ``2a`` a day). The wiring is checked on replays: a holding that
leaves the universe is sold by the risk engine, trend_king on the sample trades
differently with a dynamic universe, and a decision up to a day D is the same on the
data cut at D and on data whose every close after D is a random walk.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from pydantic import ValidationError

from invest.runtime.backtest.runner import BacktestResult, replay
from invest.runtime.config import parse_config
from invest.runtime.config.universe import DynamicUniverseConfig
from invest.runtime.cycle import AccountRuntime
from invest.runtime.data.frame import BarFrame
from invest.runtime.data.sample import SampleData
from invest.runtime.domain import AccountState, Position, Side
from invest.runtime.errors import ConfigError
from invest.runtime.market import Market
from invest.runtime.oracle import ChatRequest, ManagerOracle, MemoryStore, OracleConfig
from invest.runtime.oracle.manager.prompts import ANALYST_SYSTEM
from invest.runtime.strategies.llm_manager import LLMManager
from invest.runtime.universe import UniverseNotes, eligible, selection
from tests.runtime.oracle.support import FixedClock, ScriptedClient

CFG = DynamicUniverseConfig(top_n=2, momentum_days=42, skip_days=2, vol_days=20, min_vol=0.15)


def _with(cfg: DynamicUniverseConfig, **changes: Any) -> DynamicUniverseConfig:
    return cfg.model_copy(update=changes)


def _days(start: str = "2019-01-01", end: str = "2021-01-01") -> npt.NDArray[np.datetime64]:
    every = np.arange(np.datetime64(start), np.datetime64(end))
    return every[np.is_busday(every)]


def _path(n: int, drift: float | npt.NDArray[np.float64], zigzag: float) -> npt.NDArray[np.float64]:
    """100 * exp(cumulative drift + a +-zigzag around it)."""
    steps = np.broadcast_to(np.asarray(drift, dtype=np.float64), (n,))
    level = np.concatenate([[0.0], np.cumsum(steps[1:])])
    return 100 * np.exp(level + zigzag * (-1.0) ** np.arange(n))


def _market(cols: dict[str, npt.NDArray[np.float64]], volume: Any = None) -> Market:
    dates = _days()
    close = np.column_stack([c[: len(dates)] for c in cols.values()])
    return Market(BarFrame(dates, tuple(cols), close, volume=volume, source="test"))


def _starts(m: Market) -> list[int]:
    """First session of each quarter, derived from the dates (row 0 included)."""
    q = [(m.day(t).year, (m.day(t).month - 1) // 3) for t in range(len(m))]
    return [t for t in range(len(m)) if t == 0 or q[t] != q[t - 1]]


def test_the_top_momentum_names_above_the_vol_floor_are_chosen_ties_in_candidate_order() -> None:
    n = len(_days())
    listed = _path(n, 0.004, 0.01)
    listed[:300] = np.nan  # listed at row 300: no momentum until row 342
    cols = {
        "UP3": _path(n, 0.003, 0.01),
        "B2": _path(n, 0.002, 0.01),
        "A2": _path(n, 0.002, 0.01),  # B2's twin: equal momentum, later in candidate order
        "CALM": _path(n, 0.01, 0.0005),  # the best momentum, about 1.6% a year of volatility
        "NEW": listed,
        "DOWN": _path(n, -0.001, 0.01),
    }
    m = _market(cols)
    sel = selection(m, tuple(cols), CFG)
    starts = _starts(m)
    assert list(sel.starts) == starts
    first = next(b for b in starts if b >= 42)
    assert sel.members_at(first) == ("UP3", "B2")  # not A2 (a tie), never CALM (too calm)
    assert (
        sel.labels[int(sel.period[first])] == f"{m.day(first).year}-Q{m.day(first).month // 3 + 1}"
    )
    assert not sel.mask[:first].any()  # no start before it has 42 sessions of history
    new = next(b for b in starts if b - 42 >= 300)
    assert sel.members_at(new) == ("UP3", "NEW")  # NEW ranks first once it has the history
    assert all(sel.members_at(b)[:2] == ("UP3", "B2") for b in starts if first <= b < new)
    # The floor moves the output: with none, CALM's momentum puts it first.
    no_floor = selection(m, tuple(cols), _with(CFG, min_vol=0.0))
    assert no_floor.members_at(first) == ("UP3", "CALM")
    assert np.array_equal(eligible(m, tuple(cols), CFG), sel.mask)
    assert sel.mask.shape == (n, len(cols))


def test_the_selection_holds_for_the_quarter_and_changes_only_on_a_first_session() -> None:
    n = len(_days())
    m0 = _market({"X": _path(n, 0.0, 0.01)})
    starts = _starts(m0)
    q3 = next(b for b in starts if m0.day(b) >= date(2019, 7, 1))
    q4 = next(b for b in starts if b > q3)
    turn = (q3 + q4) // 2  # mid-quarter: LATE starts to run far ahead of STEADY
    late_drift = np.where(np.arange(n) >= turn, 0.02, 0.0)
    m = _market({"STEADY": _path(n, 0.003, 0.01), "LATE": _path(n, late_drift, 0.01)})
    one = _with(CFG, top_n=1)
    sel = selection(m, ("STEADY", "LATE"), one)
    mom = m.close[:, 1] / np.roll(m.close[:, 1], 40) - 1  # LATE's momentum already leads...
    assert mom[turn + 30] > 0.3
    assert all(sel.members_at(t) == ("STEADY",) for t in range(q3, q4))  # ...yet it waits
    assert sel.members_at(q4) == ("LATE",)
    periods = np.unique(sel.period[q3:q4])
    assert len(periods) == 1
    # Monthly: the first session of the month after the turn already picks LATE.
    monthly = selection(m, ("STEADY", "LATE"), _with(one, rebalance="monthly"))
    nxt = next(t for t in range(turn + 1, n) if m.day(t).month != m.day(t - 1).month)
    if nxt - turn < 3:  # too few sessions of the new drift for the 40-session momentum
        nxt = next(t for t in range(nxt + 1, n) if m.day(t).month != m.day(t - 1).month)
    assert nxt < q4
    assert monthly.members_at(nxt) == ("LATE",)


def test_the_dollar_volume_floor_applies_only_where_the_data_has_volume() -> None:
    n = len(_days())
    cols = {"BIG": _path(n, 0.002, 0.01), "THIN": _path(n, 0.003, 0.01)}
    volume = np.column_stack([np.full(n, 1e6), np.full(n, 100.0)])  # THIN: ~$10k a day
    floor = _with(CFG, top_n=1, min_dollar_volume=1e6)
    b = next(b for b in _starts(_market(cols)) if b >= 42)
    assert selection(_market(cols, volume), tuple(cols), floor).members_at(b) == ("BIG",)
    assert selection(_market(cols), tuple(cols), floor).members_at(b) == ("THIN",)  # no volume
    assert selection(_market(cols, volume * 1e4), tuple(cols), floor).members_at(b) == ("THIN",)


def test_the_notes_name_the_universe_when_it_changes_only() -> None:
    n = len(_days())
    late_drift = np.where(np.arange(n) >= 300, 0.02, 0.0)
    m = _market({"STEADY": _path(n, 0.003, 0.01), "LATE": _path(n, late_drift, 0.01)})
    sel = selection(m, ("STEADY", "LATE"), _with(CFG, top_n=1))
    notes = UniverseNotes()
    lines = [line for t in range(len(m)) for line in notes.at(sel, t)]
    assert lines[0] == "universe 2019-Q1 (0 of 2 candidates): none eligible"
    assert lines[1] == "universe 2019-Q2 (1 of 2 candidates): STEADY; in: STEADY; out: -"
    assert lines[-1].endswith("LATE; in: LATE; out: STEADY")
    assert len(lines) == 3
    # The engine prepares a fresh Market each cycle: the same universe is not noted again.
    again = _market({"STEADY": _path(n, 0.003, 0.01), "LATE": _path(n, late_drift, 0.01)})
    fresh = selection(again, ("STEADY", "LATE"), _with(CFG, top_n=1))
    assert fresh is not sel
    assert notes.at(fresh, len(m) - 1) == ()


def test_a_bad_config_is_refused_with_what_to_change() -> None:
    with pytest.raises(ValidationError, match="skip_days"):
        DynamicUniverseConfig(momentum_days=30, skip_days=30)
    acct: dict[str, Any] = {"universe": ["A", "B"], "dynamic_universe": {"top_n": 3}}
    with pytest.raises(ConfigError, match=r"top_n \(3\) exceeds the 2 candidates"):
        parse_config({"accounts": {"a": acct}})
    rl = {**acct, "strategy": "rl_ensemble", "dynamic_universe": {"top_n": 1}}
    with pytest.raises(ConfigError, match='not "rl_ensemble"'):
        parse_config({"accounts": {"a": rl}})
    ok = parse_config({"accounts": {"a": {**acct, "dynamic_universe": {"top_n": 1}}}})
    assert ok.account("a").dynamic_universe == DynamicUniverseConfig(top_n=1)
    assert (
        parse_config({"accounts": {"a": {"universe": ["A"]}}}).account("a").dynamic_universe is None
    )


# -- the wiring: replays ---------------------------------------------------------------------


def _rotation_market() -> Market:
    """A leads until mid-Q1 2020, then B: the Q2 2020 universe (top 1) swaps A for B."""
    dates = _days()
    n = len(dates)
    turn = int(np.searchsorted(dates, np.datetime64("2020-02-14")))
    row = np.arange(n)
    a = _path(n, np.where(row < turn, 0.003, 0.0002), 0.005)
    b = _path(n, np.where(row < turn, 0.0005, 0.006), 0.005)
    idx = _path(n, 0.0008, 0.001)  # rising: ATTACK throughout
    return Market(BarFrame(dates, ("A", "B", "IDX"), np.column_stack([a, b, idx]), source="t"))


def _replay(market: Market, dynamic: dict[str, Any] | None, start: date) -> BacktestResult:
    acct: dict[str, Any] = {
        "universe": ["A", "B"],
        "benchmark": "IDX",
        "trend_king": {"top_n": 1, "max_weight": 0.9},
    }
    if dynamic is not None:
        acct["dynamic_universe"] = dynamic
    settings = parse_config({"accounts": {"a": acct}})
    return replay(AccountRuntime.build("a", settings, paper=True), market, start)


def test_a_holding_that_leaves_the_universe_is_sold_through_the_risk_engine() -> None:
    m = _rotation_market()
    dyn = {"top_n": 1, "momentum_days": 42, "skip_days": 0, "vol_days": 20, "min_vol": 0.0}
    start = date(2020, 1, 2)
    dynamic, static = _replay(m, dyn, start), _replay(m, None, start)
    q2 = "2020-04-01"
    held_before = {
        s for d in dynamic.decisions if "2020-03-20" <= d["day"] < q2 for s in d["weights"]
    }
    assert held_before == {"A"}
    rec = next(d for d in dynamic.decisions if d["day"] == q2)
    assert "universe 2020-Q2 (1 of 2 candidates): B; in: B; out: A" in rec["notes"]
    sells = [o for o in rec["orders"] if o["side"] == "sell"]
    assert [o["symbol"] for o in sells] == ["A"]
    assert any(o["symbol"] == "B" and o["side"] == "buy" for o in rec["orders"])
    first_sell = min(f.day for f in dynamic.fills if f.symbol == "A" and f.side is Side.SELL)
    assert first_sell == date(2020, 4, 2)  # closes only: the order fills at the next close
    # The mask is what sold it: the static universe keeps A (ranked 2nd, within exit_rank).
    rec_static = next(d for d in static.decisions if d["day"] == q2)
    assert not [o for o in rec_static["orders"] if o["symbol"] == "A"]
    assert "A" in rec_static["weights"]


@pytest.fixture(scope="module")
def sample() -> BarFrame:
    source = SampleData()
    return source.load(tuple(source.symbols()), None, None)


def _sample_run(frame: BarFrame, dynamic: dict[str, Any] | None, start: date) -> BacktestResult:
    universe = [s for s in frame.symbols if s != "SP500"]
    acct: dict[str, Any] = {"strategy": "trend_king", "universe": universe}
    if dynamic is not None:
        acct["dynamic_universe"] = dynamic
    settings = parse_config({"accounts": {"acct": acct}})
    return replay(AccountRuntime.build("acct", settings, paper=True), Market(frame), start)


def test_trend_king_on_the_sample_trades_differently_with_a_dynamic_universe(
    sample: BarFrame,
) -> None:
    start = date(2015, 1, 2)
    static = _sample_run(sample, None, start)
    dynamic = _sample_run(sample, {"top_n": 8}, start)
    assert [f.symbol for f in dynamic.fills] != [f.symbol for f in static.fills]
    notes = [n for d in dynamic.decisions for n in d["notes"] if n.startswith("universe ")]
    assert len(notes) > 10  # most quarters change at least one name
    # Every name trend_king ranked was in its quarter's universe.
    m = Market(sample)
    universe = tuple(s for s in sample.symbols if s != "SP500")
    sel = selection(m, universe, DynamicUniverseConfig(top_n=8))
    for d in dynamic.decisions:
        members = set(sel.members_at(m.frame.row_for(date.fromisoformat(d["day"]))))
        assert set(d["scores"]) <= members
    assert any(set(d["scores"]) - set(sel.members_at(0)) for d in static.decisions)


CUT = date(2019, 10, 1)  # the first session of 2019-Q4: its selection reads this very day


def _random_walk_after(frame: BarFrame, cut: date, seed: int = 11) -> BarFrame:
    after = frame.dates > np.datetime64(cut, "D")
    close = frame.close.copy()
    steps = np.random.default_rng(seed).normal(0.0, 0.03, size=(int(after.sum()), close.shape[1]))
    close[after] = close[~after][-1] * np.exp(np.cumsum(steps, axis=0))
    return dataclasses.replace(frame, close=close)


def test_the_universe_and_the_decisions_up_to_a_day_ignore_every_later_price(
    sample: BarFrame,
) -> None:
    walk_frame = _random_walk_after(sample, CUT)
    cut_frame = sample.between(None, CUT)
    universe = tuple(s for s in sample.symbols if s != "SP500")
    cfg = DynamicUniverseConfig(top_n=6)
    rows = len(cut_frame)
    masks = [eligible(Market(f), universe, cfg)[:rows] for f in (sample, cut_frame, walk_frame)]
    assert masks[0].any()
    assert np.array_equal(masks[0], masks[1])
    assert np.array_equal(masks[0], masks[2])
    # The random walk does move the universe after the cut, so equality above is no accident.
    assert not np.array_equal(
        eligible(Market(walk_frame), universe, cfg), eligible(Market(sample), universe, cfg)
    )

    # Each quarter's selection equals the one made on the data cut at its first session.
    full = selection(Market(sample), universe, cfg)
    for b in full.starts[-24:]:
        seen = selection(Market(sample.rows(0, b + 1)), universe, cfg)
        assert seen.members_at(b) == full.members_at(b), sample.dates[b]

    start = date(2019, 1, 2)
    runs = [_sample_run(f, {"top_n": 6}, start) for f in (sample, cut_frame, walk_frame)]
    upto = [[d for d in r.decisions if d["day"] <= CUT.isoformat()] for r in runs]
    named = [n for d in upto[0] for n in d["notes"] if n.startswith("universe ")]
    assert len(named) >= 2
    assert "in:" in named[-1]  # a change of universe lies before the cut
    assert upto[0] == upto[1] == upto[2]
    fills = [[f.client_order_id for f in r.fills if f.day <= CUT] for r in runs]
    assert fills[0] == fills[1] == fills[2]


# -- llm_manager -------------------------------------------------------------------------------


def test_llm_manager_offers_only_the_universe_and_keeps_holdings_sellable(tmp_path: Path) -> None:
    n = len(_days())
    cols = {
        "UP3": _path(n, 0.003, 0.01),
        "UP2": _path(n, 0.002, 0.01),
        "FLAT": _path(n, 0.0, 0.01),
        "IDX": _path(n, 0.0008, 0.001),
    }
    m = _market(cols)
    decisions = json.dumps(
        {
            "actions": [
                {"action": "BUY", "symbol": "UP3", "amount": 500, "thesis": "in"},
                {"action": "BUY", "symbol": "FLAT", "amount": 500, "thesis": "out"},
                {"action": "SELL", "symbol": "FLAT", "thesis": "left the universe"},
            ]
        }
    )

    def answer(request: ChatRequest) -> str:
        if request.messages[0]["content"] == ANALYST_SYSTEM:
            return json.dumps({"regime": "BULL", "summary": "up"})
        return decisions

    def manager(dynamic: DynamicUniverseConfig | None) -> tuple[LLMManager, ScriptedClient]:
        config = OracleConfig(base_url="http://127.0.0.1:9/v1", model="main", mode="manager")
        client = ScriptedClient(answer)
        oracle = ManagerOracle(
            config,
            client,
            MemoryStore(),
            account="mgr",
            now=FixedClock().now,
            audit_dir=tmp_path / ("dyn" if dynamic else "static"),
        )
        mgr = LLMManager(oracle, ("UP3", "UP2", "FLAT"), "IDX", account="mgr", dynamic=dynamic)
        mgr.prepare(m)
        return mgr, client

    t = len(m) - 1
    state = AccountState("mgr", Decimal(9_000))
    state.positions["FLAT"] = Position("FLAT", Decimal(10), Decimal(100), m.day(0))
    dyn, client = manager(DynamicUniverseConfig(top_n=2, momentum_days=42, vol_days=20))
    p = dyn.propose(t, state)
    body = json.loads(client.calls[-1].messages[1]["content"])
    assert body["buyable"] == ["UP2", "UP3"]
    assert body["held"] == ["FLAT"]
    assert "FLAT" not in p.targets  # the SELL of a held name outside the universe went through
    assert "UP3" in p.targets
    assert any("FLAT" in n and "dropped" in n and "BUY" in n for n in p.notes)
    assert any(n.startswith("universe ") for n in p.notes)
    static, client2 = manager(None)
    static.propose(t, state)
    assert json.loads(client2.calls[-1].messages[1]["content"])["buyable"] == ["FLAT", "UP2", "UP3"]


def test_hybrid_ranks_only_the_universe_while_its_ensemble_steps_on_every_candidate(
    sample: BarFrame,
) -> None:
    frame = sample.between(None, date(2019, 6, 28))
    universe = [s for s in frame.symbols if s != "SP500"]
    acct = {
        "strategy": "hybrid",
        "universe": universe,
        "rl": {"pack": "default"},
        "dynamic_universe": {"top_n": 6},
    }
    settings = parse_config({"accounts": {"h": acct}})
    r = replay(AccountRuntime.build("h", settings, paper=True), Market(frame), date(2019, 3, 1))
    sel = selection(Market(frame), tuple(universe), DynamicUniverseConfig(top_n=6))
    assert any(n.startswith("universe 2019-Q2") for d in r.decisions for n in d["notes"])
    assert sum(bool(d["scores"]) for d in r.decisions) > 20  # ATTACK days ranked something
    for d in r.decisions:
        members = set(sel.members_at(frame.row_for(date.fromisoformat(d["day"]))))
        assert set(d["scores"]) <= members
        assert set(d["rl"]) == set(universe)  # the policies see every candidate
