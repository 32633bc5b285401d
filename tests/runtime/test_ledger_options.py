"""The ledger's option tables: the outbox rule, row round trips, the book reloaded, old ledgers.

The book test runs opens, a close and an expiry (worthless, settled at intrinsic,
called away) through :class:`OptionBook`, records them through :class:`LedgerSink`
as a cycle would, and checks that the book loaded from the file is the same book:
positions, fills, reserve and realised P&L; and that the integrity check agrees
with the cash the option fills moved.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from invest.runtime.config import AccountConfig
from invest.runtime.domain import Ack, Fill, OrderIntent, OrderStatus, Side, client_order_id
from invest.runtime.errors import LedgerError
from invest.runtime.ledger import Ledger, LedgerSink, reads
from invest.runtime.ledger.integrity import check_integrity
from invest.runtime.ledger.options import (
    fill_from_row,
    fill_row,
    legs_from_json,
    legs_json,
    order_from_row,
    order_row,
    position_from_row,
    position_row,
)
from invest.runtime.ledger.schema import MIGRATIONS, OPTIONS_SCHEMA
from invest.runtime.options.book import (
    LegFill,
    OptionAction,
    OptionBook,
    OptionFill,
    OptionPosition,
    position_id,
)
from invest.runtime.options.contracts import OptionContract, Right, Style
from invest.runtime.options.plan import OptionOrder, OrderAction, option_order_id
from invest.runtime.options.structures import (
    Structure,
    StructureKind,
    bear_call,
    bear_put,
    bull_call,
    bull_put,
    butterfly,
    cash_secured_put,
    covered_call,
    iron_condor,
)

DEMO = Path(__file__).parents[1] / "fixtures" / "ledger" / "demo.sqlite"
NOW = datetime(2027, 1, 4, 21, 0, tzinfo=UTC)
CFG = AccountConfig(universe=("XYZ",), cash=50_000.0)
EXPIRY = date(2027, 1, 15)
DAY0 = date(2027, 1, 4)
ROOT = "XYZ"
OPTION_TABLES = {"option_orders", "option_fills", "option_positions"}


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.sqlite"


@pytest.fixture
def ledger(path: Path) -> Iterator[Ledger]:
    led = Ledger(path, now=lambda: NOW)
    led.ensure_account("acct", CFG)
    yield led
    led.close()


def C(strike: int | str) -> OptionContract:
    return OptionContract(ROOT, EXPIRY, Right.CALL, Decimal(strike))


def P(strike: int | str) -> OptionContract:
    return OptionContract(ROOT, EXPIRY, Right.PUT, Decimal(strike))


def _order(
    structure: Structure,
    contracts: int = 1,
    cycle: str = "acct:2027-01-04",
    limit: float | None = 1.25,
    action: OrderAction = OrderAction.OPEN,
    pos_id: str | None = None,
) -> OptionOrder:
    pid = pos_id or position_id("acct", cycle, structure)
    coid = option_order_id("acct", cycle, pid, action)
    rule = "take_profit" if action is OrderAction.CLOSE else ""
    return OptionOrder("acct", cycle, action, pid, structure, contracts, limit, "why", coid, rule)


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


# -- the old ledger opens ------------------------------------------------------------------------

_KEPT = ("accounts", "account_state", "orders", "fills", "positions", "equity", "decisions")


def _dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    conn = sqlite3.connect(path)
    try:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in _KEPT}  # noqa: S608
    finally:
        conn.close()


def _previous_schema(tmp_path: Path) -> Path:
    """The demo ledger (a real one, with orders, fills, positions) at the schema before options.

    The fixture is at that schema; should it be rebuilt at this one, the option tables
    are taken out again, so this stays a ledger of the previous version.
    """
    old = tmp_path / "old.sqlite"
    shutil.copy(DEMO, old)
    with sqlite3.connect(old) as conn:
        for table in sorted(OPTION_TABLES):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(f"PRAGMA user_version={OPTIONS_SCHEMA - 1}")
        assert not OPTION_TABLES & _tables(conn)
    return old


def test_a_ledger_of_the_previous_schema_migrates_with_its_data_intact(tmp_path: Path) -> None:
    old = _previous_schema(tmp_path)
    before = _dump(old)
    assert all(before[t] for t in ("orders", "fills", "positions", "decisions"))

    led = Ledger(old, now=lambda: NOW)
    try:
        assert led.conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert _tables(led.conn) >= OPTION_TABLES
        held = str(led.conn.execute("SELECT account FROM positions LIMIT 1").fetchone()[0])
        state = led.load_state(held)  # the old data reads as before
        assert led.load_book("trend-daily").open_positions() == []
        assert LedgerSink(led).option_order(_order(cash_secured_put(P(95))))
    finally:
        led.close()
    assert _dump(old) == before
    assert len(state.positions) == len([r for r in before["positions"] if r[0] == held])
    assert state.cash > 0
    assert check_integrity(old) == []


def test_an_old_ledger_read_only_has_no_option_positions_and_no_error(tmp_path: Path) -> None:
    old = _previous_schema(tmp_path)
    led = Ledger(old, readonly=True)
    try:
        assert led.load_book("trend-daily").open_positions() == []
        assert led.open_option_orders("trend-daily") == []
        assert reads.option_positions(led.conn, "trend-daily") == []
        assert reads.option_positions(led.conn, None, closed=True) == []
    finally:
        led.close()
    assert _tables(sqlite3.connect(old)).isdisjoint(OPTION_TABLES)  # read-only: not migrated


# -- the outbox --------------------------------------------------------------------------------


def test_an_option_order_is_committed_before_the_send_and_a_retry_is_refused(
    ledger: Ledger, path: Path
) -> None:
    sink = LedgerSink(ledger)
    order = _order(bull_put(P(90), P(85)), contracts=3, limit=None)
    assert sink.option_order(order)
    other = sqlite3.connect(path)  # another connection sees it at once: it is durable
    try:
        row = other.execute(
            "SELECT status, day, contracts, limit_premium FROM option_orders "
            "WHERE client_order_id = ?",
            [order.client_order_id],
        ).fetchone()
    finally:
        other.close()
    assert row == ("pending", "2027-01-04", 3, None)
    assert not sink.option_order(order)  # the same client id again: never sent twice
    assert not sink.option_order(replace(order, contracts=1))
    count = ledger.conn.execute("SELECT COUNT(*) FROM option_orders").fetchone()[0]
    assert count == 1
    [stored] = ledger.open_option_orders("acct", unanswered_only=True)
    assert stored.order == order
    assert stored.status is OrderStatus.PENDING
    assert stored.day == DAY0


def test_a_refused_retry_inside_a_cycle_keeps_the_rest_of_the_cycle(ledger: Ledger) -> None:
    sink = LedgerSink(ledger)
    first = _order(cash_secured_put(P(95)))
    sink.option_order(first)
    second = _order(bull_call(C(100), C(110)), limit=-2.0)
    with ledger.transaction():
        assert not sink.option_order(first)
        assert sink.option_order(second)
    ids = [s.order.client_order_id for s in ledger.open_option_orders("acct")]
    assert ids == [first.client_order_id, second.client_order_id]


def test_the_brokers_answer_moves_an_order_out_of_the_outbox(ledger: Ledger) -> None:
    sink = LedgerSink(ledger)
    a, b, c = (
        _order(cash_secured_put(P(95))),
        _order(cash_secured_put(P(90))),
        _order(cash_secured_put(P(85))),
    )
    for o in (a, b, c):
        sink.option_order(o)
    sink.option_answer(Ack(a.client_order_id, OrderStatus.SUBMITTED, "brk-1"))
    sink.option_answer(Ack(b.client_order_id, OrderStatus.REJECTED, None, "buying power"))
    sink.option_answer(Ack(c.client_order_id, OrderStatus.UNKNOWN, None, "timeout"))

    outbox = ledger.open_option_orders("acct", unanswered_only=True)
    assert [s.order.client_order_id for s in outbox] == [c.client_order_id]
    open_now = {s.order.client_order_id: s for s in ledger.open_option_orders("acct")}
    assert set(open_now) == {a.client_order_id, c.client_order_id}  # b was rejected
    assert open_now[a.client_order_id].broker_order_id == "brk-1"
    assert open_now[a.client_order_id].status is OrderStatus.SUBMITTED
    kinds = [
        r[0] for r in ledger.conn.execute("SELECT kind FROM events WHERE kind LIKE 'option_%'")
    ]
    assert kinds == ["option_order_cancelled", "option_order_unknown"]
    detail = ledger.conn.execute(
        "SELECT detail FROM option_orders WHERE client_order_id = ?", [b.client_order_id]
    ).fetchone()[0]
    assert detail == "buying power"


def test_a_late_answer_never_undoes_a_fill(ledger: Ledger) -> None:
    sink = LedgerSink(ledger)
    order = _order(cash_secured_put(P(95)))
    sink.option_order(order)
    legs = (LegFill(P(95).symbol, -1, 2.0),)
    fill = OptionFill(
        order.client_order_id, "acct", order.position_id, OptionAction.OPEN, legs, Decimal(1), DAY0
    )
    sink.option_fill(fill)
    sink.option_answer(Ack(order.client_order_id, OrderStatus.CANCELLED, None, "late"))
    assert ledger.open_option_orders("acct") == []
    status = ledger.conn.execute("SELECT status FROM option_orders").fetchone()[0]
    assert status == "filled"


def test_an_open_option_order_is_cancelled_once_and_a_filled_one_never(ledger: Ledger) -> None:
    sink = LedgerSink(ledger)
    live, done = _order(cash_secured_put(P(95))), _order(cash_secured_put(P(90)))
    for o in (live, done):
        sink.option_order(o)
        sink.option_answer(Ack(o.client_order_id, OrderStatus.SUBMITTED, "b"))
    legs = (LegFill(P(90).symbol, -1, 1.0),)
    sink.option_fill(
        OptionFill(
            done.client_order_id,
            "acct",
            done.position_id,
            OptionAction.OPEN,
            legs,
            Decimal(1),
            DAY0,
        )
    )
    for _ in range(2):
        sink.option_cancel(live.client_order_id, "expired at the close")
        sink.option_cancel(done.client_order_id, "too late")
    assert ledger.open_option_orders("acct") == []
    statuses = dict(ledger.conn.execute("SELECT client_order_id, status FROM option_orders"))
    assert statuses == {live.client_order_id: "cancelled", done.client_order_id: "filled"}
    events = ledger.conn.execute(
        "SELECT json_extract(detail_json, '$.client_order_id') FROM events "
        "WHERE kind = 'option_order_cancelled'"
    ).fetchall()
    assert events == [(live.client_order_id,)]


def test_positions_of_another_account_are_refused_by_name(ledger: Ledger) -> None:
    sink = LedgerSink(ledger)
    pos = OptionPosition(
        "opt-1", "other", cash_secured_put(P(95)), 1, DAY0, 2.0, Decimal(9500), Decimal(9700), 0
    )
    with pytest.raises(LedgerError, match="belongs to other, not acct"):
        sink.option_positions("acct", [pos])


# -- round trips -------------------------------------------------------------------------------

roots = st.from_regex(r"[A-Z]{1,4}(\.[A-Z])?", fullmatch=True)
expiries = st.dates(date(2001, 1, 1), date(2099, 12, 31))
strikes = st.integers(1, 9_000).map(lambda n: Decimal(n) / 2)  # 0.5 steps
styles = st.sampled_from(list(Style))
multipliers = st.sampled_from([10, 100, 1000])


@st.composite
def structures(draw: st.DrawFn, kind: StructureKind | None = None) -> Structure:
    """A structure of ``kind`` (any of the 8 when None) with random root, strikes, multiplier, style."""
    kind = kind or draw(st.sampled_from(list(StructureKind)))
    root, expiry, style, mult = draw(roots), draw(expiries), draw(styles), draw(multipliers)
    low, width, gap = draw(strikes), draw(strikes), draw(strikes)

    def c(right: Right, strike: Decimal) -> OptionContract:
        return OptionContract(root, expiry, right, strike, mult, style)

    call, put = (lambda k: c(Right.CALL, k)), (lambda k: c(Right.PUT, k))
    hi = low + width
    match kind:
        case StructureKind.CASH_SECURED_PUT:
            return cash_secured_put(put(low))
        case StructureKind.COVERED_CALL:
            return covered_call(call(low))
        case StructureKind.BULL_CALL:
            return bull_call(call(low), call(hi))
        case StructureKind.BEAR_PUT:
            return bear_put(put(hi), put(low))
        case StructureKind.BULL_PUT:
            return bull_put(put(hi), put(low))
        case StructureKind.BEAR_CALL:
            return bear_call(call(low), call(hi))
        case StructureKind.IRON_CONDOR:
            top = hi + gap
            return iron_condor(put(low), put(hi), call(top), call(top + width))
        case StructureKind.BUTTERFLY:
            right = draw(st.sampled_from(list(Right)))
            return butterfly(c(right, low), c(right, hi), c(right, hi + width), right)
    raise AssertionError(kind)


cents = st.integers(-(10**9), 10**9).map(lambda n: Decimal(n) / 100)
prices = st.floats(0, 5_000, allow_nan=False, allow_infinity=False)
leg_fills = st.lists(
    st.builds(LegFill, roots, st.integers(-50, 50).filter(bool), prices), min_size=1, max_size=4
).map(tuple)
option_fills = st.builds(
    OptionFill,
    st.text(min_size=1, max_size=30),
    st.text(min_size=1, max_size=10),
    st.text(min_size=1, max_size=30),
    st.sampled_from(list(OptionAction)),
    leg_fills,
    cents,
    expiries,
    st.text(max_size=40),
)


@pytest.mark.parametrize("kind", list(StructureKind))
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_every_structure_kind_round_trips_through_its_legs_json(
    kind: StructureKind, data: st.DataObject
) -> None:
    s = data.draw(structures(kind))
    back = legs_from_json(s.kind.value, legs_json(s))
    assert back == s
    assert [leg.contract.multiplier for leg in back.legs] == [
        leg.contract.multiplier for leg in s.legs
    ]
    assert [leg.contract.style for leg in back.legs] == [leg.contract.style for leg in s.legs]


@settings(max_examples=60, deadline=None)
@given(fill=option_fills)
def test_an_option_fill_round_trips_through_its_row(fill: OptionFill) -> None:
    assert fill_from_row(fill_row(fill)) == fill


@settings(max_examples=60, deadline=None)
@given(
    s=structures(),
    n=st.integers(1, 500),
    premium=st.floats(-1e4, 1e4, allow_nan=False),
    money=st.lists(cents, min_size=7, max_size=7),
    shares=st.integers(0, 10**6),
    closed=st.one_of(st.none(), st.tuples(expiries, st.sampled_from(list(OptionAction)[1:]))),
    fills=st.lists(option_fills, max_size=3),
)
def test_an_option_position_round_trips_through_its_row(
    s: Structure,
    n: int,
    premium: float,
    money: list[Decimal],
    shares: int,
    closed: tuple[date, OptionAction] | None,
    fills: list[OptionFill],
) -> None:
    collateral, reserved, p_in, p_out, settled, fees, _ = money
    pos = OptionPosition(
        "opt-x",
        "acct",
        s,
        n,
        DAY0,
        premium,
        collateral,
        reserved,
        shares,
        p_in,
        p_out,
        settled,
        fees,
        closed[0] if closed else None,
        closed[1] if closed else None,
        fills,
    )
    assert position_from_row(position_row(pos), fills) == pos


@settings(max_examples=60, deadline=None)
@given(
    s=structures(),
    n=st.integers(1, 500),
    limit=st.one_of(st.none(), st.floats(-1e4, 1e4, allow_nan=False)),
    action=st.sampled_from(list(OrderAction)),
    status=st.sampled_from(list(OrderStatus)),
)
def test_an_option_order_round_trips_through_its_row(
    s: Structure, n: int, limit: float | None, action: OrderAction, status: OrderStatus
) -> None:
    order = _order(s, n, limit=limit, action=action, pos_id="opt-p")
    stored = order_from_row(order_row(order, "2027-01-04", "ts", status))
    assert stored.order == order
    assert (stored.day, stored.status) == (DAY0, status)


def test_a_damaged_row_names_the_kind_and_the_problem() -> None:
    with pytest.raises(LedgerError, match="bull_put whose legs cannot be read"):
        legs_from_json("bull_put", '[{"symbol": "XYZ", "quantity": 1}]')
    one_put = legs_json(cash_secured_put(P(95)))
    with pytest.raises(LedgerError, match="a bull_put is a long put below a short put"):
        legs_from_json("bull_put", one_put)


# -- the book, through the sink, back from the file ------------------------------------------


class Cycle:
    """An account trading options as a cycle would: the book moves, the sink records."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger, self.sink = ledger, LedgerSink(ledger)
        self.state = ledger.load_state("acct")
        self.book = OptionBook("acct")
        self.ids: list[str] = []

    def buy_shares(self, qty: int, price: str, day: date) -> None:
        cycle = f"acct:{day}"
        coid = client_order_id("acct", cycle, ROOT, Side.BUY)
        intent = OrderIntent("acct", cycle, ROOT, Side.BUY, Decimal(qty), Decimal(price), "b", coid)
        fill = Fill(
            coid, "acct", ROOT, Side.BUY, Decimal(qty), Decimal(price), Decimal(1), day, "b"
        )
        with self.ledger.transaction():
            assert self.sink.order(intent)
            self.sink.fill(fill)
            self.state.apply_fill(fill)
            self.ledger.save_state(self.state, day.isoformat())

    def open(
        self, structure: Structure, n: int, cents: list[int], day: date, tag: str = ""
    ) -> OptionPosition:
        order = _order(structure, n, cycle=f"acct:{day}{tag}", limit=None)
        legs = tuple(
            LegFill(leg.contract.symbol, leg.quantity * n, c / 100)
            for leg, c in zip(structure.legs, cents, strict=True)
        )
        fees = Decimal("0.65") * sum(abs(x.contracts) for x in legs)
        fill = OptionFill(
            order.client_order_id, "acct", order.position_id, OptionAction.OPEN, legs, fees, day
        )
        with self.ledger.transaction():
            assert self.sink.option_order(order)
        self.sink.option_answer(Ack(order.client_order_id, OrderStatus.SUBMITTED, "b-1"))
        with self.ledger.transaction():
            pos = self.book.open(fill, structure, n, self.state)
            self.sink.option_fill(fill)
            self.sink.option_positions("acct", [pos])
            self.ledger.save_state(self.state, day.isoformat())
        self.ids.append(pos.id)
        return pos

    def close(self, pos: OptionPosition, cents: list[int], day: date, tag: str = "") -> None:
        cycle = f"acct:{day}{tag}"
        order = _order(pos.structure, pos.contracts, cycle, None, OrderAction.CLOSE, pos.id)
        legs = tuple(
            LegFill(leg.contract.symbol, -leg.quantity * pos.contracts, c / 100)
            for leg, c in zip(pos.structure.legs, cents, strict=True)
        )
        fill = OptionFill(
            order.client_order_id, "acct", pos.id, OptionAction.CLOSE, legs, Decimal("1.30"), day
        )
        with self.ledger.transaction():
            assert self.sink.option_order(order)
        with self.ledger.transaction():
            self.book.close(fill, self.state)
            self.sink.option_fill(fill)
            self.sink.option_positions("acct", [pos])
            self.ledger.save_state(self.state, day.isoformat())

    def settle(self, day: date, spot: float) -> None:
        cycle = f"acct:{day}"
        with self.ledger.transaction():
            done = self.book.settle(day, {ROOT: spot}, self.state, cycle)
            for s in done:
                self.sink.option_fill(s.fill)
                if s.stock is not None:
                    assert self.sink.assignment(s.stock, cycle)
                    assert not self.sink.assignment(s.stock, cycle)  # a rerun: once only
            changed = [self.book.position(s.fill.position_id) for s in done]
            self.sink.option_positions("acct", changed)
            self.ledger.save_state(self.state, day.isoformat())

    def assert_reloaded(self, path: Path) -> None:
        """The book read back from the file is this book."""
        led = Ledger(path, readonly=True)
        try:
            loaded = led.load_book("acct")
        finally:
            led.close()
        assert loaded.reserved_cash() == self.book.reserved_cash()
        assert loaded.reserved_shares(ROOT) == self.book.reserved_shares(ROOT)
        assert [p.id for p in loaded.open_positions()] == [p.id for p in self.book.open_positions()]
        for pid in self.ids:
            mine, theirs = self.book.position(pid), loaded.position(pid)
            assert theirs == mine  # every field, the structure and the fills
            assert theirs.pnl() == mine.pnl()


def test_the_book_reloads_after_opens_a_close_and_an_expiry(ledger: Ledger, path: Path) -> None:
    cyc = Cycle(ledger)
    cyc.buy_shares(100, "100", DAY0)
    csp = cyc.open(cash_secured_put(P(95)), 1, [200], DAY0)
    spread = cyc.open(bull_put(P(90), P(85)), 2, [50, 120], DAY0)
    debit = cyc.open(bull_call(C(100), C(110)), 1, [300, 100], DAY0)
    called = cyc.open(covered_call(C(105)), 1, [150], DAY0)
    assert cyc.book.reserved_cash() > 0
    assert cyc.book.reserved_shares(ROOT) == 100
    cyc.assert_reloaded(path)
    open_rows = reads.option_positions(ledger.conn, "acct")
    assert [r.id for r in open_rows] == [csp.id, spread.id, debit.id, called.id]
    assert open_rows[1].legs == (
        reads.OptionLegRow(P(85).symbol, 2),
        reads.OptionLegRow(P(90).symbol, -2),
    )
    assert all(r.realised is None for r in open_rows)

    cyc.close(spread, [20, 40], DAY0 + timedelta(days=4))
    cyc.assert_reloaded(path)
    cyc.settle(EXPIRY, 106.0)  # put worthless, call spread at intrinsic 6, call called away
    cyc.assert_reloaded(path)

    assert cyc.book.open_positions() == []
    assert cyc.book.reserved_cash() == 0
    outcomes = {pid: cyc.book.position(pid).outcome for pid in cyc.ids}
    assert outcomes == {
        csp.id: OptionAction.EXPIRE,
        spread.id: OptionAction.CLOSE,
        debit.id: OptionAction.EXPIRE,
        called.id: OptionAction.ASSIGN,
    }
    assert cyc.book.position(debit.id).settlement == Decimal(600)
    closed = reads.option_positions(ledger.conn, "acct", closed=True)
    assert {r.id: r.realised for r in closed} == {
        pid: cyc.book.position(pid).pnl().realised for pid in cyc.ids
    }
    assert closed[0].closed == EXPIRY.isoformat()
    assert closed[-1].id == spread.id
    assert reads.option_positions(ledger.conn, "acct") == []
    assert ledger.load_state("acct").positions == {}  # the shares were called away
    assert check_integrity(path) == []


def _traded(ledger: Ledger) -> Cycle:
    cyc = Cycle(ledger)
    cyc.open(cash_secured_put(P(95)), 1, [200], DAY0)
    cyc.open(bull_put(P(90), P(85)), 2, [50, 120], DAY0)
    return cyc


def test_integrity_counts_the_cash_of_option_fills(ledger: Ledger, path: Path) -> None:
    _traded(ledger)
    assert check_integrity(path) == []
    ledger.conn.execute(
        "UPDATE option_fills SET legs_json = replace(legs_json, '\"price\":2.0', '\"price\":2.5')"
    )
    problems = check_integrity(path)
    assert len(problems) == 1, problems
    assert "start cash and fills give" in problems[0]


def test_integrity_names_an_option_fill_without_its_order(ledger: Ledger, path: Path) -> None:
    _traded(ledger)
    ledger.conn.execute("DELETE FROM option_orders WHERE contracts = 2")
    problems = check_integrity(path)
    assert len(problems) == 1, problems
    assert "(open)" in problems[0]
    assert "no option order row" in problems[0]


def test_integrity_names_an_option_fill_without_its_position(ledger: Ledger, path: Path) -> None:
    _traded(ledger)
    ledger.conn.execute("DELETE FROM option_positions WHERE contracts = 2")
    problems = check_integrity(path)
    assert any("no option position" in p for p in problems), problems


def _intrinsic_cents(contract: OptionContract, spot_cents: int) -> int:
    k = int(contract.strike * 100)
    return max(spot_cents - k, 0) if contract.right is Right.CALL else max(k - spot_cents, 0)


ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("open"),
            structures(),
            st.integers(1, 3),  # contracts
            st.lists(st.integers(0, 1500), min_size=4, max_size=4),  # leg prices in cents
        ),
        st.tuples(st.just("close"), st.integers(0, 20), st.integers(5000, 15000)),
        st.tuples(st.just("settle"), st.integers(1, 4), st.integers(6000, 12000)),
    ),
    min_size=1,
    max_size=12,
)


def _on_root(s: Structure, weeks: int, day: date) -> Structure:
    """``s`` moved to this test's root and an expiry ``weeks`` after ``day``, strikes near 100."""
    expiry = day + timedelta(weeks=weeks)
    base = min(leg.contract.strike for leg in s.legs)
    legs = tuple(
        replace(
            leg,
            contract=replace(
                leg.contract,
                underlying=ROOT,
                expiry=expiry,
                multiplier=100,
                strike=leg.contract.strike - base + 80,
            ),
        )
        for leg in s.legs
    )
    return Structure(s.kind, legs)


@settings(max_examples=40, deadline=None)
@given(
    shares=st.sampled_from([0, 100, 300]),
    weeks=st.integers(0, 3),
    steps=ops,
    last=st.integers(6000, 12000),
)
def test_the_book_reloads_after_any_sequence_of_opens_closes_and_expiries(
    shares: int, weeks: int, steps: list[tuple[object, ...]], last: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ledger.sqlite"
        led = Ledger(path, now=lambda: NOW)
        try:
            led.ensure_account("acct", CFG)
            cyc = Cycle(led)
            if shares:
                cyc.buy_shares(shares, "100", DAY0)
            day = DAY0
            for i, step in enumerate(steps):
                tag = f":{i}"
                match step:
                    case ("open", Structure() as s, int(n), list(cents)):
                        structure = _on_root(s, weeks + i % 2, day)
                        with contextlib.suppress(ValueError):  # free cash or shares short
                            cyc.open(structure, n, cents[: len(structure.legs)], day, tag)
                    case ("close", int(pick), int(spot)):
                        live = cyc.book.open_positions()
                        if live:
                            pos = live[pick % len(live)]
                            prices = [
                                _intrinsic_cents(x.contract, spot) for x in pos.structure.legs
                            ]
                            with contextlib.suppress(ValueError):  # a covered call's buy-back
                                cyc.close(pos, prices, day, tag)
                    case ("settle", int(ahead), int(spot)):
                        day += timedelta(weeks=ahead)
                        cyc.settle(day, spot / 100)
            cyc.assert_reloaded(path)
            cyc.settle(day + timedelta(weeks=8), last / 100)  # what is left expires
            cyc.assert_reloaded(path)
            closed = reads.option_positions(led.conn, "acct", closed=True)
            assert {r.id: r.realised for r in closed} == {
                p: cyc.book.position(p).pnl().realised
                for p in cyc.ids
                if not cyc.book.position(p).is_open
            }
        finally:
            led.close()
        assert check_integrity(path) == []
