"""Options accounts run live: `invest run`, the engine's cycle and monitor jobs, on the ledger.

The live path is the backtest's own session (run_options_session) over state restored
from the ledger each run, so a paper account run day by day ends with the book, cash
and shares of an in-memory replay of the same days.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from invest.runtime.backtest.options_runner import modelled_account, options_market, replay_options
from invest.runtime.clock import FixedClock
from invest.runtime.config import Settings, load_config, parse_config
from invest.runtime.data.sample import SampleData
from invest.runtime.engine.account_cycle import run_account_cycle
from invest.runtime.engine.options_account_cycle import run_options_account_cycle
from invest.runtime.events import CycleSummary
from invest.runtime.ledger import Ledger
from invest.runtime.options.plan import OptionsContext, OptionsPlan
from invest.runtime.options_cycle import warm_iv_history
from invest.runtime.paths import example_config
from invest.runtime.schedule import fires_on
from tests.runtime.engine.support import make_engine, ny, paths

WHEEL = "wheel-weekly"
SOURCE = SampleData()


def _settings(**risk: Any) -> Settings:
    """The example config's options accounts (and only them), ``risk`` over the wheel's rules."""
    data = load_config(example_config()).model_dump(mode="json", exclude_unset=True)
    data["accounts"] = {k: v for k, v in data["accounts"].items() if k in (WHEEL, "spreads-weekly")}
    if risk:
        data["accounts"][WHEEL]["options"]["risk"].update(risk)
    return parse_config(data, "test")


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    led = Ledger(tmp_path / "ledger.sqlite")
    yield led
    led.close()


def _run(settings: Settings, home: Path, ledger: Ledger, day: date, **kw: Any) -> Any:
    return run_account_cycle(WHEEL, settings, paths(home), ledger, source=SOURCE, end=day, **kw)


def _order_rows(ledger: Ledger) -> list[tuple[str, str, str, str]]:
    return [
        tuple(r)
        for r in ledger.conn.execute(
            "SELECT client_order_id, status, kind, rule FROM option_orders ORDER BY rowid"
        )
    ]


def test_run_opens_a_cash_secured_put_and_a_second_run_sends_nothing(
    tmp_path: Path, ledger: Ledger
) -> None:
    s = _settings()
    day = date(2022, 6, 13)  # a Monday: the account's cycle day
    out = _run(s, tmp_path, ledger, day)
    assert out.day == day
    assert not out.dry_run
    assert out.option_orders, "the wheel sells a put on its first cycle"
    assert {o.structure.kind.value for o in out.option_orders} == {"cash_secured_put"}
    rows = _order_rows(ledger)
    assert [r[0] for r in rows] == [o.client_order_id for o in out.option_orders]
    assert {r[1] for r in rows} == {"submitted"}  # recorded, then the paper broker's answer
    (rec,) = ledger.decisions(WHEEL, 5)
    assert rec["cycle_id"] == f"{WHEEL}:{day}"
    assert [o["client_order_id"] for o in rec["opens"]] == [r[0] for r in rows]
    # the IV history is rebuilt from the year before: the percentile is known on day one
    assert all(v is not None for v in rec["iv_percentile"].values())

    again = _run(s, tmp_path, ledger, day)
    assert again.option_orders == []
    assert _order_rows(ledger) == rows
    assert len(ledger.decisions(WHEEL, 5)) == 1

    # the next session fills the paper orders at that day's chain: positions in the ledger
    nxt = _run(s, tmp_path, ledger, day + timedelta(days=1), monitor_only=True)
    assert nxt.option_orders == []
    book = ledger.load_book(WHEEL)
    assert {p.id for p in book.open_positions()} == {o.position_id for o in out.option_orders}
    assert {r[1] for r in _order_rows(ledger)} == {"filled"}
    assert ledger.load_state(WHEEL).cash > s.account(WHEEL).cash  # the premium came in


def test_a_dry_run_writes_nothing(tmp_path: Path, ledger: Ledger) -> None:
    out = _run(_settings(), tmp_path, ledger, date(2022, 6, 6), dry_run=True)
    assert out.dry_run
    assert out.option_orders
    assert WHEEL not in ledger.accounts()
    assert _order_rows(ledger) == []


def _sessions(first: date, last: date) -> list[date]:
    frame = SOURCE.load(("SP500",), None, last)
    return [frame.day(t) for t in range(frame.row_from(first), len(frame))]


def test_live_sessions_end_with_the_book_and_cash_of_a_replay(
    tmp_path: Path, ledger: Ledger
) -> None:
    s = _settings()
    first, last = date(2022, 1, 31), date(2022, 3, 25)  # a put assigned, then calls
    days = _sessions(first, last)
    fired = fires_on(s.account(WHEEL).schedule, s.engine.timezone, days)
    for d, cycle in zip(days, fired, strict=True):
        _run(s, tmp_path, ledger, d, monitor_only=not cycle)

    market = options_market(SOURCE, s, WHEEL, last)
    acct = modelled_account(WHEEL, s, market)
    lo = market.frame.row_from(first)
    warm = list(range(market.frame.row_from(first - timedelta(days=365)), lo))
    on = fires_on(s.account(WHEEL).schedule, s.engine.timezone, [market.day(t) for t in warm])
    warm_iv_history(acct, market, [t for t, f in zip(warm, on, strict=True) if f])
    r = replay_options(acct, market, first, s.engine.timezone)

    book = ledger.load_book(WHEEL)
    state = ledger.load_state(WHEEL)
    assert state is not None
    ids = [r[0] for r in ledger.conn.execute("SELECT id FROM option_positions ORDER BY id")]
    assert len(ids) == sum(1 for row in r.option_trades if row["type"] == "option")
    assert len(ids) >= 3, "the span holds a few wheel positions"
    assert [book.position(i) for i in ids] == [acct.book.position(i) for i in ids]
    assert any(row["outcome"] == "assign" for row in r.option_trades)
    assert state.cash == acct.state.cash
    assert {k: v.quantity for k, v in state.positions.items()} == {
        k: v.quantity for k, v in acct.state.positions.items()
    }
    curve = dict(ledger.equity_curve(WHEEL))
    assert [curve[d.isoformat()] for d in r.days] == [round(e, 2) for e in r.equity]


class Failing:
    """A strategy whose plan raises: the monitors' exits must still go out."""

    name = "failing"

    def plan(self, ctx: OptionsContext) -> OptionsPlan:
        raise RuntimeError("the strategy broke")


def test_a_monitor_exit_is_sent_while_the_strategy_fails(tmp_path: Path, ledger: Ledger) -> None:
    s = _settings(take_profit=0.05)  # a small gain closes: an exit within days
    opened = date(2022, 6, 13)
    _run(s, tmp_path, ledger, opened)
    exits: list[Any] = []
    for d in _sessions(opened + timedelta(days=1), date(2022, 6, 30)):
        out = run_options_account_cycle(
            WHEEL, s, paths(tmp_path), ledger, source=SOURCE, end=d, strategy=Failing()
        )
        assert any("the strategy broke" in n for n in (out.latest or {}).get("notes", [])) or (
            out.latest is not None and out.latest["day"] < d.isoformat()
        )
        exits += [o for o in out.option_orders if o.rule == "take_profit"]
        if exits:
            break
    assert exits, "the take profit closed a position with the strategy failing"
    (rule,) = {r[3] for r in _order_rows(ledger) if r[0] == exits[0].client_order_id}
    assert rule == "take_profit"


def test_the_engine_runs_an_options_accounts_cycles_and_monitors(tmp_path: Path) -> None:
    s = _settings(take_profit=0.05)
    clock = FixedClock(ny("2022-06-03", "08:00"))
    engine, memory = make_engine(tmp_path, clock, cfg=s, sources=lambda spec: SOURCE)
    try:
        assert WHEEL in engine.accounts
        from tests.runtime.engine.support import drive

        drive(engine, clock, ny("2022-06-17", "18:00"))
        ledger = engine.ledger
        cycles = [d for d in ledger.decisions(WHEEL, 50) if d["regime"] is not None]
        assert {d["day"] for d in cycles} >= {"2022-06-06", "2022-06-13"}  # the Mondays
        assert (
            ledger.load_book(WHEEL).open_positions()
            or ledger.conn.execute("SELECT COUNT(*) FROM option_positions").fetchone()[0]
        )
        summaries = [e for e in memory.events if isinstance(e, CycleSummary)]
        assert any(e.account == WHEEL and not e.monitor_only for e in summaries)
        # a monitor job sent an exit (take profit) between the cycles
        assert any(e.account == WHEEL and e.monitor_only for e in summaries)
        assert "take_profit" in {r[3] for r in _order_rows(ledger)}
    finally:
        engine.shutdown()


def test_status_shows_the_options_accounts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from invest.runtime.cli import main

    monkeypatch.setenv("INVEST_HOME", str(tmp_path))
    config = str(example_config())
    assert main(["--config", config, "run", WHEEL]) == 0
    assert "cash_secured_put" in capsys.readouterr().out
    assert main(["--config", config, "status"]) == 0
    out = capsys.readouterr().out
    assert f"{WHEEL}: ACTIVE; equity 50,000.00 on 2022-12-28" in out
    assert "spreads-weekly: not started" in out


# -- a venue's option orders (Alpaca's shape), sent after the commit -------------------------


class FakeVenue:
    """Option orders at a fake venue: accepted at once, filled at a later session's chain.

    ``submit_option`` checks the outbox rule: the order is committed ``pending`` in the
    ledger (no transaction open) before it reaches the venue.
    """

    def __init__(self, ledger: Ledger, settings: Settings) -> None:
        from invest.runtime.brokers.options_fills import OptionFillModel
        from invest.runtime.options.modelled import ModelledChainSource

        self.ledger = ledger
        cfg = settings.account(WHEEL).options
        assert cfg is not None
        self.model = OptionFillModel.from_config(cfg.risk)
        frame = SOURCE.load(("KO", "PG", "PFE"), None, date(2022, 12, 28))
        self.chains = ModelledChainSource(frame, cfg.chain)
        self.orders: dict[str, Any] = {}
        self.sent: list[str] = []
        self.down = False
        self.day = date(2022, 6, 13)
        #: Contracts held at the venue by OCC symbol (reconciliation reads it).
        self.held: dict[str, int] = {}

    def option_positions(self) -> dict[str, int]:
        return dict(self.held)

    def option_events(self, since: date) -> list[Any]:
        return []

    def submit_option(self, order: Any) -> Any:
        from invest.runtime.domain import Ack, OrderStatus
        from invest.runtime.errors import TemporaryBrokerError

        cid = order.client_order_id
        row = self.ledger.conn.execute(
            "SELECT status FROM option_orders WHERE client_order_id = ?", [cid]
        ).fetchone()
        assert row is not None
        assert row[0] in ("pending", "unknown")
        assert not self.ledger.conn.in_transaction, "sent inside the cycle's transaction"
        if self.down:
            raise TemporaryBrokerError("venue timed out")
        self.sent.append(cid)
        self.orders[cid] = order
        return Ack(cid, OrderStatus.SUBMITTED, f"venue-{len(self.sent)}")

    def lookup(self, client_order_id: str) -> Any:
        from invest.runtime.domain import Ack, OrderStatus

        if client_order_id not in self.orders:
            return None
        return Ack(client_order_id, OrderStatus.SUBMITTED, "venue")

    def poll_option_fills(self, orders: Any) -> list[Any]:
        from invest.runtime.adapters.alpaca.option_orders import OptionOrderUpdate
        from invest.runtime.domain import Ack, OrderStatus
        from invest.runtime.options.book import OptionAction
        from invest.runtime.options.plan import OrderAction

        out = []
        for o in orders:
            if o.cycle_id.split(":")[1] >= self.day.isoformat():  # decided today: still open
                out.append(OptionOrderUpdate(Ack(o.client_order_id, OrderStatus.SUBMITTED, "v")))
                continue
            chain = self.chains.chain(o.structure.underlying, self.day)
            action = OptionAction.OPEN if o.action is OrderAction.OPEN else OptionAction.CLOSE
            fill = self.model.fill(
                chain, o.structure, o.contracts, action=action,
                client_order_id=o.client_order_id, account=o.account,
                position_id=o.position_id, day=self.day, reason=o.reason,
            )  # fmt: skip
            ack = Ack(o.client_order_id, OrderStatus.FILLED, "venue")
            out.append(OptionOrderUpdate(ack, fill, o.contracts))
        return out


def _alpaca_settings() -> Settings:
    data = _settings().model_dump(mode="json", exclude_unset=True)
    data["accounts"][WHEEL]["broker"] = "alpaca"
    return parse_config(data, "test")


def test_a_venue_gets_the_orders_after_the_commit_once_and_fills_them(
    tmp_path: Path, ledger: Ledger
) -> None:
    from invest.runtime.secrets import Secrets

    s = _alpaca_settings()
    venue = FakeVenue(ledger, s)
    kw: dict[str, Any] = {"option_orders": venue, "secrets": Secrets()}
    day = date(2022, 6, 13)
    out = run_options_account_cycle(WHEEL, s, paths(tmp_path), ledger, source=SOURCE, end=day, **kw)
    assert out.option_orders
    assert venue.sent == [o.client_order_id for o in out.option_orders]
    rows = ledger.conn.execute("SELECT status, broker_order_id FROM option_orders").fetchall()
    assert {r[0] for r in rows} == {"submitted"}
    assert all(str(r[1]).startswith("venue-") for r in rows)
    # the same bar again: nothing new reaches the venue
    run_options_account_cycle(WHEEL, s, paths(tmp_path), ledger, source=SOURCE, end=day, **kw)
    assert len(venue.sent) == len(out.option_orders)
    # the next session: the venue reports the fills, the book takes them
    venue.day = nxt = day + timedelta(days=1)
    run_options_account_cycle(
        WHEEL, s, paths(tmp_path), ledger, source=SOURCE, end=nxt, monitor_only=True, **kw
    )
    assert {p.id for p in ledger.load_book(WHEEL).open_positions()} == {
        o.position_id for o in out.option_orders
    }
    assert {r[0] for r in ledger.conn.execute("SELECT status FROM option_orders")} == {"filled"}


def test_an_order_whose_send_timed_out_is_looked_up_and_sent_once(
    tmp_path: Path, ledger: Ledger
) -> None:
    from invest.runtime.secrets import Secrets

    s = _alpaca_settings()
    venue = FakeVenue(ledger, s)
    venue.down = True
    kw: dict[str, Any] = {"option_orders": venue, "secrets": Secrets()}
    day = date(2022, 6, 13)
    out = run_options_account_cycle(WHEEL, s, paths(tmp_path), ledger, source=SOURCE, end=day, **kw)
    assert venue.sent == []
    statuses = {r[0] for r in ledger.conn.execute("SELECT status FROM option_orders")}
    assert statuses == {"unknown"}  # committed, the answer unknown: the outbox keeps them
    venue.down = False
    run_options_account_cycle(WHEEL, s, paths(tmp_path), ledger, source=SOURCE, end=day, **kw)
    # looked up (never arrived), then sent: once each
    assert sorted(venue.sent) == sorted(o.client_order_id for o in out.option_orders)
    statuses = {r[0] for r in ledger.conn.execute("SELECT status FROM option_orders")}
    assert statuses == {"submitted"}


def _alpaca_engine(tmp_path: Path, held: dict[str, int]) -> tuple[Any, Any, FakeVenue]:
    s = _alpaca_settings()
    clock = FixedClock(ny("2022-06-13", "08:00"))
    venues: dict[str, FakeVenue] = {}
    engine, memory = make_engine(
        tmp_path,
        clock,
        cfg=s,
        sources=lambda spec: SOURCE,
        start=False,
        option_orders=lambda name: venues[name],
    )
    venues[WHEEL] = venue = FakeVenue(engine.ledger, s)
    venue.held = held
    engine.start()
    return engine, memory, venue


def test_engine_start_halts_an_alpaca_options_account_whose_legs_differ(tmp_path: Path) -> None:
    from invest.runtime.domain import HaltState
    from invest.runtime.events import Halted

    engine, memory, _ = _alpaca_engine(tmp_path, {"KO220617P00060000": -1})
    try:
        state = engine.ledger.load_state(WHEEL)
        assert state is not None
        assert state.halt is HaltState.HALTED
        (halted,) = [e for e in memory.events if isinstance(e, Halted)]
        assert "option reconciliation: KO220617P00060000" in halted.reason
    finally:
        engine.shutdown()


def test_the_engine_trades_an_alpaca_options_account_through_the_venue(tmp_path: Path) -> None:
    from invest.runtime.domain import HaltState
    from tests.runtime.engine.support import drive

    engine, _, venue = _alpaca_engine(tmp_path, {})
    try:
        state = engine.ledger.load_state(WHEEL)
        assert state is not None
        assert state.halt is HaltState.ACTIVE  # nothing held anywhere: reconciled
        drive(engine, engine.clock, ny("2022-06-13", "18:00"))  # Monday's cycle
        assert venue.sent
        rows = engine.ledger.conn.execute("SELECT client_order_id, status FROM option_orders")
        assert {c: st for c, st in rows} == dict.fromkeys(venue.sent, "submitted")
    finally:
        engine.shutdown()


def test_a_halt_cancels_a_paper_options_accounts_open_orders(tmp_path: Path) -> None:
    from invest.runtime.control.api import TRADER, Request
    from tests.runtime.engine.support import drive

    clock = FixedClock(ny("2022-06-13", "08:00"))
    engine, _ = make_engine(tmp_path, clock, cfg=_settings(), sources=lambda spec: SOURCE)
    try:
        drive(engine, clock, ny("2022-06-13", "18:00"))  # Monday's cycle: puts ordered
        placed = _order_rows(engine.ledger)
        assert placed
        assert {r[1] for r in placed} == {"submitted"}
        reply = engine.execute(Request("halt", {"account": WHEEL}, actor="test", role=TRADER))
        assert reply.ok
        assert reply.data["cancelled"] == {WHEEL: len(placed)}
        assert {r[1] for r in _order_rows(engine.ledger)} == {"cancelled"}
        # so the next session fills none of them
        drive(engine, clock, ny("2022-06-14", "18:00"))
        assert engine.ledger.load_book(WHEEL).open_positions() == []
    finally:
        engine.shutdown()
