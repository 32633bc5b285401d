"""DESIGN invariants 2 (no leverage) and 3 (idempotent orders), as property tests.

Hypothesis draws price paths (jumps, missing bars, late listings, stale runs),
risk profiles, fill costs, halt changes and a strategy that proposes random
target weights; the real cycle (settle -> run_cycle -> mark, as the backtest
runner and the engine call it) runs day by day with the paper broker, and the
invariants are checked after every session.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Container, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from invest.runtime.backtest.runner import replay
from invest.runtime.brokers.fills import FillModel
from invest.runtime.brokers.paper import PaperBroker
from invest.runtime.config import AccountConfig, RiskProfile
from invest.runtime.cycle import AccountRuntime, mark, run_cycle, settle
from invest.runtime.domain import (
    AccountState,
    Ack,
    Fill,
    HaltState,
    OrderIntent,
    Position,
    Proposal,
    Regime,
    Side,
    client_order_id,
    money,
)
from invest.runtime.ledger import Ledger, LedgerSink
from invest.runtime.market import Market
from invest.runtime.risk.engine import RiskEngine, RiskResult
from tests.runtime.conftest import columns, make_market, relaxed_risk, rising

SYMBOLS = ("AAA", "BBB", "CCC", "DDD")
NAME = "prop"
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- the fakes ------------------------------------------------------------------------------


@dataclass
class RandomStrategy:
    """Proposes random target weights (some over 100% in total, some empty) each day."""

    seed: int
    symbols: tuple[str, ...]
    name: str = "random"
    rng: np.random.Generator = field(init=False)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)

    def prepare(self, market: Market) -> None:
        """Nothing to precompute."""

    def propose(self, t: int, state: AccountState) -> Proposal:
        """Random targets over a random subset of the symbols."""
        k = int(self.rng.integers(0, len(self.symbols) + 1))
        chosen = self.rng.choice(len(self.symbols), size=k, replace=False)
        weights = self.rng.uniform(0.0, 1.0, size=k)
        return Proposal(
            {self.symbols[j]: float(w) for j, w in zip(chosen, weights, strict=True)},
            Regime.ATTACK,
            {},
        )


class RecordingSink:
    """A memory sink that also remembers every order() call and its answer."""

    def __init__(self) -> None:
        self.orders: dict[str, OrderIntent] = {}
        self.accepted: list[str] = []
        self.refused: list[str] = []
        self.fills: list[Fill] = []
        self.decisions: list[dict[str, Any]] = []

    def order(self, intent: OrderIntent) -> bool:
        if intent.client_order_id in self.orders:
            self.refused.append(intent.client_order_id)
            return False
        self.orders[intent.client_order_id] = intent
        self.accepted.append(intent.client_order_id)
        return True

    def answer(self, ack: Ack) -> None:
        assert ack.client_order_id in self.orders, "an answer to an order never recorded"

    def fill(self, fill: Fill) -> None:
        self.fills.append(fill)

    def decision(self, record: dict[str, Any]) -> None:
        self.decisions.append(record)

    def equity(self, account: str, day: str, equity: float, cash: float) -> None:
        """Not needed here."""

    def cancel(self, client_order_id: str, reason: str) -> None:
        """Not needed here."""

    def done(self, cycle_id: str) -> bool:
        return any(d["cycle_id"] == cycle_id for d in self.decisions)


class SpyBroker(PaperBroker):
    """A paper broker that checks every order was recorded before it was sent."""

    def __init__(
        self,
        model: FillModel,
        recorded: Container[str],
        pending: Sequence[tuple[OrderIntent, date]] = (),
    ) -> None:
        super().__init__(model, pending)
        self.recorded = recorded
        self.submitted: list[str] = []

    def submit(self, intents: Sequence[OrderIntent], day: date) -> list[Ack]:
        for i in intents:
            assert i.client_order_id in self.recorded, "an order was sent before it was recorded"
        self.submitted += [i.client_order_id for i in intents]
        return super().submit(intents, day)


# -- what hypothesis draws -----------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    """One drawn scenario."""

    market: Market
    risk: RiskProfile
    fills: FillModel
    cash: Decimal
    seed: int
    monitor_days: frozenset[int]
    halts: dict[int, HaltState]


@st.composite
def price_paths(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Closes (and maybe opens and volumes) of 1-4 symbols over 30-120 sessions."""
    n = draw(st.integers(30, 120))
    k = draw(st.integers(1, len(SYMBOLS)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    vol = draw(st.floats(0.0, 0.08))
    p_jump = draw(st.floats(0.0, 0.1))
    p_nan = draw(st.floats(0.0, 0.2))
    steps = rng.normal(0.0, vol, (n, k))
    jumps = rng.uniform(-1.2, 1.2, (n, k)) * (rng.random((n, k)) < p_jump)
    base = rng.uniform(1.0, 500.0, k)
    close = base * np.exp(np.cumsum(steps + jumps, axis=0))
    for j in range(k):
        if rng.random() < 0.3:  # a stale run (the validator makes it unusable)
            a = int(rng.integers(0, n - 6))
            close[a : a + int(rng.integers(5, 10)), j] = close[a, j]
        if rng.random() < 0.2:  # listed later
            close[: int(rng.integers(1, n // 2)), j] = np.nan
    close[rng.random((n, k)) < p_nan] = np.nan
    close = np.round(close, 4)
    opens = None
    if draw(st.booleans()):
        opens = np.round(close * np.exp(rng.normal(0, 0.01, (n, k))), 4)
        opens[rng.random((n, k)) < p_nan] = np.nan
    volume = None
    if draw(st.booleans()):
        volume = rng.uniform(0, 50_000, (n, k))
        if draw(st.booleans()):  # a source that lacks volume for a stretch
            a = int(rng.integers(0, n - 1))
            volume[a : a + int(rng.integers(1, 40)), int(rng.integers(0, k))] = np.nan
    return close, opens, volume


@st.composite
def risk_profiles(draw: st.DrawFn) -> RiskProfile:
    maybe = st.none() | st.floats(0.02, 0.5)
    return RiskProfile(
        # Full investment with no reserve is where leverage would show first: draw it often.
        max_position_pct=draw(st.just(1.0) | st.floats(0.05, 1.0)),
        min_cash_pct=draw(st.just(0.0) | st.floats(0.0, 0.5)),
        min_price=draw(st.sampled_from([0.0, 5.0, 50.0])),
        min_dollar_volume=draw(st.sampled_from([0.0, 100_000.0])),
        stop_loss_pct=draw(maybe),
        take_profit_pct=draw(st.none() | st.floats(0.05, 1.0)),
        time_stop_days=draw(st.none() | st.integers(1, 30)),
        drawdown_brake_pct=draw(st.floats(0.05, 0.5)),
        drawdown_cut=draw(st.floats(0.1, 1.0)),
        min_holding_days=draw(st.integers(0, 10)),
        max_trades_per_cycle=draw(st.integers(1, 10)),
        correlation_warn=draw(st.floats(0.5, 1.0)),
        rebalance_band=draw(st.just(0.0) | st.floats(0.0, 0.2)),
    )


fill_models = st.builds(
    FillModel,
    slippage_bps=st.floats(0.0, 100.0),
    commission_pct=st.floats(0.0, 0.01),
    min_commission=st.sampled_from([0.0, 1.0, 5.0]),
    fractional=st.booleans(),
)


@st.composite
def worlds(draw: st.DrawFn) -> World:
    close, opens, volume = draw(price_paths())
    n, k = close.shape
    days = st.integers(0, n - 1)
    return World(
        market=make_market(close, SYMBOLS[:k], opens=opens, volume=volume),
        risk=draw(risk_profiles()),
        fills=draw(fill_models),
        cash=money(draw(st.floats(50.0, 1_000_000.0))),
        seed=draw(st.integers(0, 2**32 - 1)),
        monitor_days=frozenset(draw(st.sets(days, max_size=n // 2))),
        halts=draw(st.dictionaries(days, st.sampled_from(list(HaltState)), max_size=3)),
    )


def _runtime(w: World, sink: RecordingSink | None = None) -> AccountRuntime:
    symbols = w.market.symbols
    recorded = sink.orders if sink is not None else {}
    return AccountRuntime(
        name=NAME,
        config=AccountConfig(universe=symbols, benchmark=symbols[0], cash=float(w.cash)),
        strategy=RandomStrategy(w.seed, symbols),
        risk=RiskEngine(NAME, w.risk, w.fills),
        broker=SpyBroker(w.fills, recorded),
        state=AccountState(NAME, w.cash),
    )


# -- the checks ---------------------------------------------------------------------------------


def _replay_fills(start_cash: Decimal, fills: list[Fill]) -> tuple[Decimal, dict[str, Decimal]]:
    """Cash and holdings rebuilt from the fills alone; never negative at any step."""
    cash, held = start_cash, Counter[str]()
    for f in fills:
        gross = money(f.quantity * f.price)
        if f.side is Side.BUY:
            cash -= gross + f.fees
            held[f.symbol] += f.quantity
        else:
            cash += gross - f.fees
            held[f.symbol] -= f.quantity
        assert cash >= 0, f"cash went negative ({cash}) at fill {f}"
        assert held[f.symbol] >= 0, f"short position after fill {f}"
    return cash, {s: q for s, q in held.items() if q != 0}


def _check_no_leverage(acct: AccountRuntime, market: Market, t: int) -> None:
    state = acct.state
    assert state.cash >= 0
    assert all(p.quantity > 0 for p in state.positions.values())
    prices = {s: market.price(s, t) for s in state.positions}
    held = sum(float(p.quantity) * prices[s] for s, p in state.positions.items())
    assert held <= state.equity(prices) + 1e-6


def _check_positions_are_the_sum_of_fills(acct: AccountRuntime, sink: RecordingSink) -> None:
    cash, held = _replay_fills(Decimal(str(acct.config.cash)).quantize(Decimal("0.01")), sink.fills)
    assert acct.state.cash == cash
    assert {s: p.quantity for s, p in acct.state.positions.items()} == held


def _check_one_order_per_client_id(sink: RecordingSink, broker: SpyBroker) -> None:
    assert len(sink.accepted) == len(set(sink.accepted))
    assert len(broker.submitted) == len(set(broker.submitted))
    assert set(broker.submitted) == set(sink.accepted)
    for cid, o in sink.orders.items():
        assert cid == client_order_id(o.account, o.cycle_id, o.symbol, o.side)
        assert o.quantity > 0
    per_order = Counter(f.client_order_id for f in sink.fills)
    by_id = {f.client_order_id: f for f in sink.fills}
    for cid, count in per_order.items():
        assert count == 1, f"order {cid} filled {count} times"
        o = sink.orders[cid]  # every fill maps to a recorded order
        f = by_id[cid]
        assert (f.symbol, f.side, f.account) == (o.symbol, o.side, o.account)
        assert 0 < f.quantity <= o.quantity
        assert f.day > date.fromisoformat(o.cycle_id.split(":")[1]), "filled on its own day"
    open_ids = {i.client_order_id for i in broker.open_orders()}
    assert open_ids <= set(sink.orders)
    assert not open_ids & set(per_order)


def _day(acct: AccountRuntime, w: World, t: int, sink: RecordingSink) -> None:
    """One session as the runner does it: settle, cycle (or monitors), mark."""
    if t in w.halts:
        acct.state.halt = w.halts[t]
    settle(acct, w.market, t, sink)
    cash = acct.state.cash
    res = run_cycle(acct, w.market, t, sink, monitor_only=t in w.monitor_days)
    _check_buys_fit_in_settled_cash(res, cash, w)
    mark(acct, w.market, t, sink)


def _check_buys_fit_in_settled_cash(res: RiskResult, cash: Decimal, w: World) -> None:
    """The plan's buys, costed at the model's price and fees, fit in cash minus the reserve."""
    budget = max(float(cash) - w.risk.min_cash_pct * res.equity, 0.0)
    cost = 0.0
    for i in res.intents:
        if i.side is Side.BUY:
            px = w.fills.price(Side.BUY, float(i.ref_price))
            cost += float(i.quantity) * px + float(w.fills.fees(float(i.quantity) * px))
    assert cost <= budget + 0.01


# -- the properties -----------------------------------------------------------------------------


@FAST
@given(w=worlds())
def test_cash_never_goes_negative_and_positions_are_the_sum_of_fills(w: World) -> None:
    sink = RecordingSink()
    acct = _runtime(w, sink)
    for t in range(len(w.market)):
        _day(acct, w, t, sink)
        _check_no_leverage(acct, w.market, t)
        _check_positions_are_the_sum_of_fills(acct, sink)
        assert isinstance(acct.broker, SpyBroker)
        _check_one_order_per_client_id(sink, acct.broker)


def _rerun_same_cycle(acct: AccountRuntime, w: World, t: int, sink: RecordingSink) -> None:
    """Run the cycle of row ``t`` again and check it orders nothing a second time."""
    ordered = {(o.cycle_id, o.symbol, o.side) for o in sink.orders.values()}
    in_flight = {i.symbol for i in acct.broker.open_orders()}
    n_accepted = len(sink.accepted)
    again = run_cycle(acct, w.market, t, sink, monitor_only=t in w.monitor_days)
    for i in again.intents:
        assert i.symbol not in in_flight, "a second order on a symbol with one in flight"
        if (i.cycle_id, i.symbol, i.side) in ordered:
            assert i.client_order_id in sink.refused  # same id: refused, never sent again
    for cid in sink.accepted[n_accepted:]:
        o = sink.orders[cid]
        assert (o.cycle_id, o.symbol, o.side) not in ordered


@FAST
@given(w=worlds(), data=st.data())
def test_a_retried_cycle_creates_no_second_order(w: World, data: st.DataObject) -> None:
    n = len(w.market)
    retries = data.draw(st.sets(st.integers(0, n - 1), min_size=1, max_size=5), label="retries")
    sink = RecordingSink()
    acct = _runtime(w, sink)
    for t in range(n):
        _day(acct, w, t, sink)
        if t in retries:
            _rerun_same_cycle(acct, w, t, sink)
        _check_no_leverage(acct, w.market, t)
        _check_positions_are_the_sum_of_fills(acct, sink)
        _check_one_order_per_client_id(sink, acct.broker)  # type: ignore[arg-type]


@FAST
@given(w=worlds(), data=st.data())
def test_a_restart_with_orders_restored_from_the_record_creates_no_second_order(
    w: World, data: st.DataObject
) -> None:
    n = len(w.market)
    restarts = data.draw(st.sets(st.integers(0, n - 1), min_size=1, max_size=3), label="restarts")
    sink = RecordingSink()
    acct = _runtime(w, sink)
    for t in range(n):
        _day(acct, w, t, sink)
        if t in restarts:
            # A crash after the cycle: open orders come back from the record (as the
            # ledger gives them), the paper broker is rebuilt, and the same cycle runs again.
            old: SpyBroker = acct.broker  # type: ignore[assignment]
            session = {
                cid: date.fromisoformat(o.cycle_id.split(":")[1]) for cid, o in sink.orders.items()
            }
            pending = [(i, session[i.client_order_id]) for i in old.open_orders()]
            acct.broker = SpyBroker(w.fills, sink.orders, pending)
            acct.broker.submitted = list(old.submitted)
            _rerun_same_cycle(acct, w, t, sink)
        _check_no_leverage(acct, w.market, t)
        _check_positions_are_the_sum_of_fills(acct, sink)
        _check_one_order_per_client_id(sink, acct.broker)  # type: ignore[arg-type]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(w=worlds())
def test_the_ledger_holds_one_row_per_order_and_the_state_equals_its_fills(w: World) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger(Path(tmp) / "ledger.sqlite")
        try:
            acct = _runtime(w)
            acct.broker = SpyBroker(w.fills, _LedgerView(ledger))
            ledger.ensure_account(NAME, acct.config)
            sink = LedgerSink(ledger)
            for t in range(len(w.market)):
                with ledger.transaction():
                    _day(acct, w, t, sink)  # type: ignore[arg-type]
                    run_cycle(acct, w.market, t, sink, monitor_only=t in w.monitor_days)
                    ledger.save_state(acct.state, w.market.day(t).isoformat())
                assert acct.state.cash >= 0
            _check_ledger(ledger, acct)
        finally:
            ledger.close()


class _LedgerView:
    """The client ids in the ledger's orders table (what SpyBroker checks against)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def __contains__(self, cid: object) -> bool:
        row = self.ledger.conn.execute(
            "SELECT 1 FROM orders WHERE client_order_id = ?", [cid]
        ).fetchone()
        return row is not None


def _check_ledger(ledger: Ledger, acct: AccountRuntime) -> None:
    ids = [r[0] for r in ledger.conn.execute("SELECT client_order_id FROM orders").fetchall()]
    assert len(ids) == len(set(ids))
    fills = [
        Fill(
            r[0],
            r[1],
            r[2],
            Side(r[3]),
            Decimal(r[4]),
            Decimal(r[5]),
            Decimal(r[6]),
            date.fromisoformat(r[7]),
        )
        for r in ledger.conn.execute(
            "SELECT client_order_id, account, symbol, side, quantity, price, fees, day "
            "FROM fills ORDER BY id"
        ).fetchall()
    ]
    assert len({f.client_order_id for f in fills}) == len(fills)
    assert {f.client_order_id for f in fills} <= set(ids)
    start = Decimal(str(acct.config.cash)).quantize(Decimal("0.01"))
    cash, held = _replay_fills(start, fills)
    saved = ledger.load_state(NAME)
    assert saved == acct.state
    assert saved.cash == cash
    assert {s: p.quantity for s, p in saved.positions.items()} == held
    ledger_open = {i.client_order_id: i for i, _ in ledger.open_orders(NAME)}
    broker_open = {i.client_order_id for i in acct.broker.open_orders()}
    # A buy the broker cancels at fill time is marked cancelled in the ledger too.
    assert broker_open == set(ledger_open)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(w=worlds())
def test_the_backtest_runner_keeps_both_invariants_over_a_whole_replay(w: World) -> None:
    acct = _runtime(w)
    acct.broker = PaperBroker(w.fills)
    result = replay(acct, w.market, None)
    assert (result.cash >= 0).all()
    assert np.all(result.equity - result.cash >= -1e-6)
    start = Decimal(str(acct.config.cash)).quantize(Decimal("0.01"))
    cash, held = _replay_fills(start, result.fills)
    assert acct.state.cash == cash
    assert {s: p.quantity for s, p in acct.state.positions.items()} == held
    ids = [f.client_order_id for f in result.fills]
    assert len(ids) == len(set(ids))


# -- a known gap: a retry re-plans instead of resuming ----------------------------------------
#
# A retry of a finished cycle skips the symbols it already ordered (they are in flight),
# and then re-plans the rest with slots and cash those orders already hold: the plan sees
# only the *symbols* of open orders (RiskEngine.plan(pending=...)), not their size or
# their cycle. Each case below makes an order the first run had decided against. The
# paper broker still never lets cash go negative (the properties above), but the retry
# is not a no-op. The fix belongs in cycle.run_cycle (resume a cycle that already has a
# decision record, or hand open intents to the plan); when it lands these tests XPASS
# and strict mode makes that a failure, so remove the marks then.


@dataclass
class FixedStrategy:
    """Proposes the same targets every day."""

    targets: dict[str, float]
    name: str = "fixed"

    def prepare(self, market: Market) -> None:
        """Nothing to precompute."""

    def propose(self, t: int, state: AccountState) -> Proposal:
        """The fixed targets."""
        return Proposal(dict(self.targets), Regime.ATTACK, {})


def _fixed_runtime(
    risk: RiskProfile, targets: dict[str, float], state: AccountState
) -> tuple[AccountRuntime, Market]:
    closes, syms = columns(AAA=rising(30, 100), BBB=rising(30, 50), CCC=rising(30, 20))
    market = make_market(closes, syms)
    acct = AccountRuntime(
        name=NAME,
        config=AccountConfig(universe=syms, benchmark="AAA", cash=float(state.cash)),
        strategy=FixedStrategy(targets),
        risk=RiskEngine(NAME, risk, FillModel(slippage_bps=0)),
        broker=PaperBroker(FillModel(slippage_bps=0)),
        state=state,
    )
    acct.strategy.prepare(market)
    return acct, market


def test_a_retry_does_not_place_the_order_the_trade_cap_dropped() -> None:
    acct, market = _fixed_runtime(
        relaxed_risk(max_trades_per_cycle=1),
        {"AAA": 0.5, "BBB": 0.4},
        AccountState(NAME, Decimal(10_000)),
    )
    sink = RecordingSink()
    first = run_cycle(acct, market, 29, sink)
    assert [i.symbol for i in first.intents] == ["AAA"]
    run_cycle(acct, market, 29, sink)  # the retry
    assert [sink.orders[c].symbol for c in sink.accepted] == ["AAA"]


def test_a_retry_does_not_spend_cash_already_committed_to_an_open_buy() -> None:
    state = AccountState(NAME, Decimal(5_000))
    state.positions["CCC"] = Position("CCC", Decimal(500), Decimal(20), date(2021, 1, 4))
    # equity 15,000: AAA wants 7,500 and BBB 4,500, but only 5,000 is cash: AAA takes it
    acct, market = _fixed_runtime(relaxed_risk(), {"AAA": 0.5, "BBB": 0.3, "CCC": 0.2}, state)
    sink = RecordingSink()
    first = run_cycle(acct, market, 29, sink)
    assert {i.symbol for i in first.intents if i.side is Side.BUY} == {"AAA"}
    run_cycle(acct, market, 29, sink)  # the retry
    assert [sink.orders[c].symbol for c in sink.accepted if sink.orders[c].side is Side.BUY] == [
        "AAA"
    ]


def test_a_buy_the_paper_broker_dropped_is_not_revived_by_a_restart() -> None:
    closes, syms = columns(AAA=rising(10, 100, 1))
    closes[5, 0] = 300.0  # the session after the decision gaps up: the buy cannot be paid
    market = make_market(closes, syms)
    model = FillModel(slippage_bps=0, fractional=False)
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger(Path(tmp) / "ledger.sqlite")
        try:
            acct = AccountRuntime(
                name=NAME,
                config=AccountConfig(universe=syms, benchmark="AAA", cash=150.0),
                strategy=FixedStrategy({"AAA": 0.9}),
                risk=RiskEngine(NAME, relaxed_risk(), model),
                broker=PaperBroker(model),
                state=AccountState(NAME, Decimal(150)),
            )
            ledger.ensure_account(NAME, acct.config)
            sink = LedgerSink(ledger)
            planned = run_cycle(acct, market, 4, sink).intents  # 1 share at 104
            assert [(i.side, i.quantity) for i in planned] == [(Side.BUY, Decimal(1))]
            assert settle(acct, market, 5, sink) == []  # 1 x 300 > 150: dropped
            assert acct.broker.open_orders() == []
            # restart: the broker's open orders come back from the ledger
            acct.broker = PaperBroker(model, ledger.open_orders(NAME))
            assert settle(acct, market, 6, sink) == []
        finally:
            ledger.close()
