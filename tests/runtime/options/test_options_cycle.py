"""The options cycle: settle, exits first (never held up by the strategy), plan, risk, mark."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import pytest

from invest.runtime.backtest.options_runner import modelled_account, options_market
from invest.runtime.config import Settings, parse_config
from invest.runtime.cycle import MemorySink
from invest.runtime.data.sample import SampleData
from invest.runtime.errors import ConfigError
from invest.runtime.market import Market
from invest.runtime.options.plan import OptionsContext, OptionsPlan
from invest.runtime.options_cycle import OptionsAccount, run_options_session

from .fake_strategies import MiniWheel

START, END = date(2016, 1, 4), date(2016, 12, 30)


def settings(**risk: object) -> Settings:
    return parse_config(
        {
            "accounts": {
                "w": {
                    "strategy": "wheel",
                    "universe": ["KO", "PG", "PFE"],
                    "cash": 50_000,
                    "schedule": "0 16 * * mon",
                    "options": {"risk": risk},
                }
            }
        }
    )


@dataclass
class Spy:
    """Wraps a strategy: notes the broker's market orders when asked, raises when told."""

    inner: MiniWheel
    raise_on: set[date] = field(default_factory=set)
    acct: OptionsAccount | None = None
    seen: dict[date, set[str]] = field(default_factory=dict)
    name: str = "spy"

    def plan(self, ctx: OptionsContext) -> OptionsPlan:
        assert self.acct is not None
        self.seen[ctx.day] = {
            o.client_order_id for o in self.acct.broker.open_orders() if o.limit_premium is None
        }
        if ctx.day in self.raise_on:
            raise RuntimeError("the model is down")
        return self.inner.plan(ctx)


@pytest.fixture(scope="module")
def market() -> Market:
    return options_market(SampleData(), settings(), "w", END)


def sessions(acct: OptionsAccount, market: Market) -> MemorySink:
    """Run ``acct`` from START, its cycle on Mondays."""
    sink = MemorySink()
    for t in range(market.frame.row_from(START), len(market)):
        run_options_session(acct, market, t, sink, cycle=market.day(t).weekday() == 0)
    return sink


def test_exits_are_at_the_broker_before_the_strategy_is_asked_even_when_it_fails(
    market: Market,
) -> None:
    mondays = [
        market.day(t)
        for t in range(len(market))
        if market.day(t) >= START and market.day(t).weekday() == 0
    ]
    spy = Spy(MiniWheel(), raise_on=set(mondays[1::2]))
    acct = modelled_account("w", settings(), market, strategy=spy)
    spy.acct = acct
    sink = sessions(acct, market)
    by_day = {rec["day"]: rec for rec in sink.decisions}
    exit_days = [d for d in mondays if by_day.get(d.isoformat(), {}).get("exits")]
    failed_exit_days = [d for d in exit_days if d in spy.raise_on]
    assert len(exit_days) >= 3, "the year must have Monday exits"
    assert failed_exit_days, "some on the Mondays the strategy fails"
    for d in exit_days:
        exits = {e["client_order_id"] for e in by_day[d.isoformat()]["exits"]}
        assert exits <= spy.seen[d], f"{d}: exits not at the broker when the strategy was asked"
        assert exits <= sink.option_orders.keys()
    for d in failed_exit_days:
        rec = by_day[d.isoformat()]
        assert any("the model is down" in n for n in rec["notes"])
        assert rec["opens"] == []
    # the failing Mondays opened nothing, the others did
    opened_on = {
        o.cycle_id.split(":")[1] for o in sink.option_orders.values() if o.action == "open"
    }
    assert opened_on
    assert not opened_on & {d.isoformat() for d in spy.raise_on}


def test_settlement_fills_reach_the_sink_and_assignment_brings_shares(market: Market) -> None:
    acct = modelled_account("w", settings(), market, strategy=MiniWheel())
    sink = sessions(acct, market)
    assigned = [f for f in sink.option_fills if f.action == "assign"]
    assert assigned
    assert sink.fills
    assert {f.client_order_id for f in sink.fills} <= {f.client_order_id for f in assigned}
    # every position stored is the book's own object, in its final state
    for pid, pos in sink.option_positions_seen.items():
        assert acct.book.position(pid) is pos
    # covered calls were opened only on shares the account held
    calls = [o for o in sink.option_orders.values() if o.structure.kind == "covered_call"]
    assert calls
    assert all(o.structure.underlying in {f.symbol for f in sink.fills} for o in calls)


def test_the_monitors_close_at_the_market_and_the_strategy_opens_at_a_limit(
    market: Market,
) -> None:
    acct = modelled_account("w", settings(take_profit=0.5), market, strategy=MiniWheel())
    sink = sessions(acct, market)
    closes = [o for o in sink.option_orders.values() if o.action == "close"]
    opens = [o for o in sink.option_orders.values() if o.action == "open"]
    assert closes
    assert all(o.limit_premium is None and o.rule == "take_profit" for o in closes)
    assert opens
    assert all(o.limit_premium is not None and o.limit_premium > 0 for o in opens)
    # a cycle's record says the chains are modelled, and how the day's ATM IV was made
    rec = next(d for d in sink.decisions if d["chains"])
    assert rec["chains"]["KO"]["modelled"] is True
    assert rec["chains"]["KO"]["notes"][0].startswith("ATM IV")
    # switching the take profit off removes those exits: the monitors move the output
    acct2 = modelled_account("w", settings(take_profit=None), market, strategy=MiniWheel())
    sink2 = sessions(acct2, market)
    assert not [o for o in sink2.option_orders.values() if o.rule == "take_profit"]


def test_an_options_account_is_refused_by_the_stock_cycle_with_one_line() -> None:
    from invest.runtime.cycle import AccountRuntime

    with pytest.raises(ConfigError, match="trades options: it runs through the options cycle"):
        AccountRuntime.build("w", settings())


def test_a_strategy_close_is_a_limit_order_with_its_rule(market: Market) -> None:
    acct = modelled_account(
        "w", settings(take_profit=None), market, strategy=MiniWheel(close_after_days=6)
    )
    sink = sessions(acct, market)
    closes = [o for o in sink.option_orders.values() if o.action == "close"]
    assert closes
    assert all(o.rule == "strategy" for o in closes)
    # buying back a short put is a debit: the limit says the most it pays
    assert all(o.limit_premium is not None and o.limit_premium < 0 for o in closes)
    closed = [p for p in acct.book._positions.values() if acct.close_rules.get(p.id) == "strategy"]
    assert closed
    assert all(p.outcome == "close" for p in closed)


def test_opens_beyond_the_candidates_are_dropped_with_a_note(market: Market) -> None:
    acct = modelled_account("w", settings(), market, strategy=MiniWheel(inflate=True))
    sink = sessions(acct, market)
    assert not [o for o in sink.option_orders.values() if o.action == "open"]
    notes = [n for rec in sink.decisions for n in rec["notes"]]
    assert any("open dropped" in n and "> the rules' 1" in n for n in notes)


def test_a_series_outside_todays_strike_band_is_priced_by_the_same_model(market: Market) -> None:
    from invest.runtime.options.modelled import ModelledChainSource

    src = ModelledChainSource(market.frame)
    day = date(2016, 6, 24)  # the day after the Brexit vote: spot far from last month's strikes
    chain = src.chain("KO", day)
    listed = chain.quotes[:5]
    again = src.quotes_for("KO", day, [q.contract for q in listed])
    assert sorted(again, key=lambda q: q.contract.symbol) == sorted(
        listed, key=lambda q: q.contract.symbol
    )
    # a far strike of a listed expiry, outside the band: priced, not listed
    far = dataclasses.replace(listed[0].contract, strike=Decimal(5))
    assert chain.quote(far) is None
    (q,) = src.quotes_for("KO", day, [far])
    assert q.contract == far
    assert q.ask > 0


def test_held_series_missing_from_the_chain_are_added_so_exits_can_fill(market: Market) -> None:
    from invest.runtime.options.modelled import ModelledChainSource
    from invest.runtime.options_cycle import DayChains

    src = ModelledChainSource(market.frame)
    day = date(2016, 6, 24)
    listed = src.chain("KO", day).quotes[0].contract
    far = dataclasses.replace(listed, strike=Decimal(5))
    chains = DayChains(src)
    chains.hold(day, [far])
    chain = chains.chain("KO", day)
    assert chain.quote(far) is not None
    assert "priced on demand" in chain.notes[-1]
    plain = DayChains(src)
    plain.hold(day, [])
    assert plain.chain("KO", day).quote(far) is None
