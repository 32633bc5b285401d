"""The LLM variant of an options account in the options cycle, against the loopback server.

The account is built from its config as `invest backtest` builds it (an oracle section
on a wheel account, :func:`build_options_strategy`), and runs weekly cycles on the
sample's modelled chains while the server answers, lies or is down:

- down: every exit of the monitors is sent and fills, and nothing new opens (block);
- invented candidates and larger sizes: no order beyond the rules' candidates and sizes;
- a valid choice: the orders differ from the rules version's (the LLM moves the output);
- replay: the cached answers give the same orders with the server stopped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from invest.runtime.backtest.options_runner import llm_notes, modelled_account, options_market
from invest.runtime.cli import main
from invest.runtime.config import Settings, parse_config
from invest.runtime.cycle import MemorySink
from invest.runtime.data.sample import SampleData
from invest.runtime.errors import ConfigError
from invest.runtime.market import Market
from invest.runtime.options.plan import OptionsContext, OptionsPlan, OptionsStrategy
from invest.runtime.options_cycle import OptionsAccount, run_options_session
from invest.runtime.oracle.options.prompts import SPREADS_SYSTEM, TYPE_SYSTEM, WHEEL_SYSTEM
from invest.runtime.oracle.options.review import LLMOptionsStrategy
from invest.runtime.strategies import Wheel, build_options_strategy
from tests.runtime.oracle.support import FakeLLMServer, FixedClock, Reply, completion

START, END = date(2016, 1, 4), date(2016, 9, 30)
#: The server goes down from this day on in the "down" test.
DOWN_FROM = date(2016, 5, 2)

Respond = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]


def account(oracle: dict[str, Any] | None, **extra: Any) -> dict[str, Any]:
    acct: dict[str, Any] = {
        "strategy": "wheel",
        "universe": ["KO", "PG", "PFE"],
        "cash": 50_000,
        "schedule": "0 16 * * mon",
        "options": {"risk": {"take_profit": 0.5, "cash_reserve": 0.4}},
        **extra,
    }
    if oracle is not None:
        acct["oracle"] = oracle
    return acct


def settings(server: FakeLLMServer | None, **oracle: Any) -> Settings:
    section = {
        "base_url": server.url if server is not None else "http://127.0.0.1:9/v1",
        "model": "main",
        "timeout_s": 2.0,
        "connect_timeout_s": 1.0,
        "max_retries": 0,
        "backoff_s": 0.0,
        **oracle,
    }
    return parse_config({"accounts": {"w": account(section)}})


@pytest.fixture(scope="module")
def market() -> Market:
    return options_market(SampleData(), parse_config({"accounts": {"w": account(None)}}), "w", END)


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    s = FakeLLMServer()
    s.start()
    yield s
    s.stop()


def answering(server: FakeLLMServer, choose: Respond) -> None:
    """Make ``server`` answer with ``choose(candidates)``'s actions (the wheel, spreads' pass 2);
    spreads' pass 1 gets the first allowed type."""

    def respond(body: dict[str, Any]) -> Reply:
        system = body["messages"][0]["content"]
        user = json.loads(body["messages"][1]["content"])
        if system == TYPE_SYSTEM:
            kind = user["allowed_types"][0]["type"]
            return completion(json.dumps({"spread_type": kind, "reason": "the first one"}))
        assert system in {WHEEL_SYSTEM, SPREADS_SYSTEM}
        actions = choose(user["candidates"]) or [{"action": "SKIP", "reason": "nothing"}]
        return completion(json.dumps({"actions": actions}))

    server.respond = respond


def every_candidate(candidates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rules' own choice: each candidate at its max contracts."""
    return [
        {"action": c["action"], "candidate_id": c["id"], "contracts": c["max_contracts"]}
        for c in candidates
    ]


def first_at_one(candidates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A narrower choice than the rules': the first candidate, one contract."""
    return [
        {"action": c["action"], "candidate_id": c["id"], "contracts": 1, "reason": "one is enough"}
        for c in candidates[:1]
    ]


def hostile(candidates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An invented candidate, an OCC symbol, ten times the size, and one valid action."""
    actions: list[dict[str, Any]] = [
        {"action": "SELL_PUT", "candidate_id": "c99", "contracts": 3, "reason": "invented"},
        {"action": "SELL_PUT", "candidate_id": "KO160219P00040000", "contracts": 1},
        {"action": "CLOSE", "position_id": "p99", "reason": "invented"},
    ]
    for c in candidates:
        actions.append(
            {"action": c["action"], "candidate_id": c["id"], "contracts": 10 * c["max_contracts"]}
        )
    if candidates:
        c = candidates[-1]
        actions.append({"action": c["action"], "candidate_id": c["id"], "contracts": 1})
    return actions


@dataclass
class RulesSpy:
    """The rules strategy, its plan kept per day (what the LLM could choose from)."""

    inner: OptionsStrategy
    plans: dict[date, OptionsPlan] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.inner.name

    def plan(self, ctx: OptionsContext) -> OptionsPlan:
        plan = self.inner.plan(ctx)
        self.plans[ctx.day] = plan
        return plan


@pytest.fixture
def built() -> Iterator[list[LLMOptionsStrategy]]:
    """The LLM variants a test built; their clients are closed after it."""
    made: list[LLMOptionsStrategy] = []
    yield made
    for strategy in made:
        strategy.close()


def llm_variant(
    cfg: Settings, home: Path, built: list[LLMOptionsStrategy], mode: str = "live"
) -> LLMOptionsStrategy:
    strategy = build_options_strategy(
        cfg.account("w"), mode=mode, name="w", home=home, now=FixedClock().now
    )
    assert isinstance(strategy, LLMOptionsStrategy)
    built.append(strategy)
    return strategy


def llm_account(
    cfg: Settings, market: Market, home: Path, built: list[LLMOptionsStrategy], mode: str = "live"
) -> tuple[OptionsAccount, RulesSpy]:
    strategy = llm_variant(cfg, home, built, mode)
    spy = RulesSpy(strategy.rules)
    strategy.rules = spy
    return modelled_account("w", cfg, market, strategy=strategy), spy


def sessions(
    acct: OptionsAccount,
    market: Market,
    sink: MemorySink | None = None,
    start: date = START,
    end: date = END,
) -> MemorySink:
    """Run ``acct`` over [start, end], its cycle on Mondays."""
    sink = sink if sink is not None else MemorySink()
    for t in range(market.frame.row_from(start), len(market)):
        if market.day(t) > end:
            break
        run_options_session(acct, market, t, sink, cycle=market.day(t).weekday() == 0)
    return sink


def cycle_day(cycle_id: str) -> date:
    return date.fromisoformat(cycle_id.split(":")[1])


def orders(sink: MemorySink) -> list[tuple[str, str, str, int]]:
    return sorted(
        (o.cycle_id, o.action.value, o.position_id, o.contracts)
        for o in sink.option_orders.values()
    )


def within_the_rules(sink: MemorySink, spy: RulesSpy) -> list[str]:
    """Each open order not among that day's rules candidates, or larger than the candidate."""
    wrong = []
    for o in sink.option_orders.values():
        if o.action.value != "open":
            continue
        allowed = {c.structure: c.contracts for c in spy.plans[cycle_day(o.cycle_id)].candidates}
        if o.structure not in allowed or o.contracts > allowed[o.structure]:
            wrong.append(f"{o.cycle_id} {o.structure.underlying} x{o.contracts}")
    return wrong


# -- config and construction ---------------------------------------------------------------


def test_an_options_account_takes_an_oracle_section_and_becomes_the_llm_variant(
    tmp_path: Path,
) -> None:
    cfg = settings(None).account("w")
    assert cfg.oracle is not None
    assert isinstance(build_options_strategy(cfg, mode="off"), Wheel)  # --oracle off: rules
    for mode in ("live", "replay"):
        variant = build_options_strategy(
            cfg, mode=mode, name="w", home=tmp_path, now=FixedClock().now
        )
        assert isinstance(variant, LLMOptionsStrategy)
        assert isinstance(variant.rules, Wheel)
        assert variant.name == "wheel_llm"
        variant.close()
    # never quietly the rules version: the mode must be said
    with pytest.raises(ConfigError, match="oracle section"):
        build_options_strategy(cfg)
    rules_only = parse_config({"accounts": {"w": account(None)}}).account("w")
    assert isinstance(build_options_strategy(rules_only), Wheel)


@pytest.mark.parametrize(
    ("oracle", "message"),
    [
        ({"mode": "manager"}, 'mode "manager" is for strategy = "llm_manager"'),
        ({"news": {"feeds": ["https://example.com/rss"]}}, "prompts carry no headlines"),
    ],
)
def test_an_options_oracle_refuses_what_options_cannot_use(
    oracle: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        parse_config({"accounts": {"w": account(oracle)}})
    (line,) = [x for x in str(err.value).splitlines() if message in x]
    assert line.strip().startswith("accounts.w: an options account")
    with pytest.raises(ConfigError, match="no watchlist section"):
        parse_config({"accounts": {"w": account({}, watchlist="tech")}})


# -- the cycle against the server ------------------------------------------------------------


def test_server_down_every_exit_still_fills_and_nothing_new_opens(
    server: FakeLLMServer, market: Market, tmp_path: Path, built: list[LLMOptionsStrategy]
) -> None:
    answering(server, every_candidate)
    acct, spy = llm_account(settings(server), market, tmp_path, built)
    sink = sessions(acct, market, end=DOWN_FROM - timedelta(days=1))
    opened_before = [o for o in sink.option_orders.values() if o.action.value == "open"]
    assert opened_before, "the server answered: the variant opened positions"
    # The server goes down. A fresh client: the old one's kept-alive connection would
    # still reach the stopped server's handler thread, which is no "down".
    server.stop()
    down = llm_variant(settings(server), tmp_path, built)
    down.rules = spy
    acct.strategy = down
    sessions(acct, market, sink, start=DOWN_FROM)
    after = [o for o in sink.option_orders.values() if cycle_day(o.cycle_id) >= DOWN_FROM]
    # fail closed: no open once the server is down (rolls included)
    assert [o for o in after if o.action.value == "open"] == []
    # ... and the monitors' exits of the positions opened before all went out and filled
    exits = [o for o in after if o.action.value == "close" and o.limit_premium is None]
    assert {o.rule for o in exits} & {"take_profit", "auto_close", "stop_loss"}
    filled = {f.client_order_id for f in sink.option_fills if f.action == "close"}
    assert {o.client_order_id for o in exits} <= filled
    # the rules' own closes (a roll's buy-back) are kept without the model
    rules_closes = {c.position_id for d, p in spy.plans.items() if d >= DOWN_FROM for c in p.closes}
    closed = {o.position_id for o in after if o.action.value == "close"}
    assert rules_closes <= closed
    # each cycle's record says the model abstained and the opens followed block
    cycles = [
        r for r in sink.decisions if date.fromisoformat(r["day"]) > DOWN_FROM and r["context"]
    ]
    assert cycles
    for rec in cycles:
        llm = rec["context"]["llm"]
        assert llm["status"] in {"abstained", "nothing_to_review"}
        if llm["status"] == "abstained":
            assert llm["policy"] == "block"
            assert any("on_unavailable=block" in n for n in rec["notes"])


def test_invented_candidates_and_larger_sizes_never_reach_an_order(
    server: FakeLLMServer, market: Market, tmp_path: Path, built: list[LLMOptionsStrategy]
) -> None:
    answering(server, hostile)
    acct, spy = llm_account(settings(server), market, tmp_path, built)
    sink = sessions(acct, market)
    opens = [o for o in sink.option_orders.values() if o.action.value == "open"]
    assert opens, "the one valid action per cycle opens"
    assert within_the_rules(sink, spy) == []
    assert all(o.contracts == 1 for o in opens)  # the valid action's size, not 10x
    notes = [n for r in sink.decisions for n in r["notes"] if n.startswith("LLM action dropped")]
    assert any("c99" in n for n in notes)
    assert any("KO160219P00040000" in n for n in notes)
    dropped = [d for r in sink.decisions if r["context"] for d in r["context"]["llm"]["dropped"]]
    assert len(dropped) >= 3


def test_a_valid_choice_changes_the_orders_and_the_record_says_why(
    server: FakeLLMServer, market: Market, tmp_path: Path, built: list[LLMOptionsStrategy]
) -> None:
    rules = modelled_account(
        "w",
        settings(server),
        market,
        strategy=build_options_strategy(settings(server).account("w"), mode="off"),
    )
    rules_sink = sessions(rules, market)
    answering(server, first_at_one)
    acct, spy = llm_account(settings(server), market, tmp_path, built)
    sink = sessions(acct, market)
    assert orders(sink) != orders(rules_sink)
    assert within_the_rules(sink, spy) == []
    llm_opens = [o for o in sink.option_orders.values() if o.action.value == "open"]
    rules_opens = [o for o in rules_sink.option_orders.values() if o.action.value == "open"]
    assert llm_opens
    assert len({o.cycle_id for o in llm_opens}) == len(llm_opens)  # one open per cycle at most
    assert len(llm_opens) < len(rules_opens)
    rec = next(r for r in sink.decisions if r["opens"])
    assert rec["strategy"] == "wheel_llm"
    assert rec["context"]["llm"]["status"] == "decided"
    assert rec["context"]["llm"]["decisions"][0]["reason"] == "one is enough"
    assert "LLM: one is enough" in rec["opens"][0]["reason"]
    assert any("decided" in n for n in llm_notes(sink.decisions))
    assert llm_notes(rules_sink.decisions) == []


def test_replay_from_the_cache_gives_the_same_orders_with_the_server_stopped(
    server: FakeLLMServer, market: Market, tmp_path: Path, built: list[LLMOptionsStrategy]
) -> None:
    answering(server, first_at_one)
    cfg = settings(server)
    live, _ = llm_account(cfg, market, tmp_path, built, mode="live")
    live_sink = sessions(live, market, end=DOWN_FROM)
    asked = len(server.chat_requests)
    assert asked > 0
    server.stop()
    replay, _ = llm_account(cfg, market, tmp_path, built, mode="replay")
    replay_sink = sessions(replay, market, end=DOWN_FROM)
    assert orders(replay_sink) == orders(live_sink)
    assert any(o.action.value == "open" for o in replay_sink.option_orders.values())
    assert len(server.chat_requests) == asked
    statuses = {r["context"]["llm"]["status"] for r in replay_sink.decisions if r["context"]}
    assert "abstained" not in statuses
    # another home has no cache: replay abstains and, fail-closed, opens nothing
    empty, _ = llm_account(cfg, market, tmp_path / "other", built, mode="replay")
    empty_sink = sessions(empty, market, end=DOWN_FROM)
    assert [o for o in empty_sink.option_orders.values() if o.action.value == "open"] == []


def test_invest_backtest_oracle_modes_for_an_options_account(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INVEST_HOME", str(tmp_path / "home"))
    config = tmp_path / "invest.toml"
    config.write_text(
        "[accounts.wheel-llm]\n"
        'strategy = "wheel"\nuniverse = ["KO", "PG", "PFE"]\ncash = 50000\n'
        'schedule = "0 16 * * mon"\n'
        "[accounts.wheel-llm.options]\n"
        "[accounts.wheel-llm.oracle]\n"
        'base_url = "http://127.0.0.1:9/v1"\nmax_retries = 0\nknowledge_cutoff = "2024-01-01"\n'
    )
    run = ["--config", str(config), "backtest", "--account", "wheel-llm", "--json"]
    window = ["--start", "2016-01-04", "--end", "2016-03-31"]

    def report(mode: str) -> dict[str, Any]:
        assert main([*run, *window, "--oracle", mode]) == 0
        loaded: dict[str, Any] = json.loads(capsys.readouterr().out)
        return loaded

    off, replay = report("off"), report("replay")
    assert off["options"]["opens"], "the rules version opens"
    assert not replay["options"]["opens"], "an empty cache: the opens follow block"
    assert not any(n.startswith("LLM variant") for n in off["notes"])
    assert any("abstained" in n and "on_unavailable=block" in n for n in replay["notes"])
    assert any("cutoff" in n.lower() for n in replay["notes"])


def test_the_spreads_variant_stays_within_the_rules_and_exits_without_the_server(
    server: FakeLLMServer, tmp_path: Path, built: list[LLMOptionsStrategy]
) -> None:
    """Both passes over the loopback server: hostile actions, then the server down."""
    spreads = account(
        {"base_url": server.url, "model": "main", "max_retries": 0, "backoff_s": 0.0},
        strategy="vertical_spreads",
        universe=["SP500"],
        cash=25_000,
        options={"risk": {"take_profit": 0.5, "auto_close_dte": 3}},
    )
    cfg = parse_config({"accounts": {"w": spreads}})
    market = options_market(SampleData(), cfg, "w", END)
    answering(server, hostile)
    acct, spy = llm_account(cfg, market, tmp_path, built)
    # Up until a spread is open with no order pending (its exit then comes with the server down).
    sink = MemorySink()
    t = market.frame.row_from(START)
    while True:
        monday = market.day(t).weekday() == 0
        run_options_session(acct, market, t, sink, cycle=monday)
        t += 1
        opened = [o for o in sink.option_orders.values() if o.action.value == "open"]
        settled = not acct.broker.open_orders()  # no open or close waiting to fill
        if len(opened) >= 2 and acct.book.open_positions() and settled:
            break
    down_from = market.day(t)
    held = {p.id for p in acct.book.open_positions()}
    assert within_the_rules(sink, spy) == []
    assert {len(o.structure.legs) for o in opened} >= {2}
    assert any(r["context"]["llm"]["chosen_type"] for r in sink.decisions if r["context"])
    server.stop()
    down = llm_variant(cfg, tmp_path, built)
    down.rules = spy
    acct.strategy = down
    sessions(acct, market, sink, start=down_from)
    after = [o for o in sink.option_orders.values() if cycle_day(o.cycle_id) >= down_from]
    assert [o for o in after if o.action.value == "open"] == []
    # the spread left open is closed with the server down, by a monitor or the rules
    closed = {o.position_id: o for o in after if o.action.value == "close"}
    assert held <= closed.keys()
    filled = {f.client_order_id for f in sink.option_fills if f.action == "close"}
    assert {closed[p].client_order_id for p in held} <= filled
    rules_closes = {c.position_id for d, p in spy.plans.items() if d >= down_from for c in p.closes}
    for pid in held:
        assert closed[pid].rule in {"take_profit", "stop_loss", "auto_close"} or (
            pid in rules_closes
        ), closed[pid]
