"""The SQLite ledger: migrations, state round trips, idempotent orders, clear errors."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from invest.runtime.config import AccountConfig
from invest.runtime.domain import (
    AccountState,
    Fill,
    HaltState,
    OrderIntent,
    OrderStatus,
    Side,
    client_order_id,
)
from invest.runtime.errors import LedgerError
from invest.runtime.ledger import Ledger, LedgerSink
from invest.runtime.ledger.schema import MIGRATIONS
from tests.runtime.conftest import account, position

NOW = datetime(2022, 3, 1, 21, 0, tzinfo=UTC)
CFG = AccountConfig(universe=("AAA", "BBB"), cash=25_000.0)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "ledger" / "invest.sqlite"


@pytest.fixture
def ledger(path: Path) -> Iterator[Ledger]:
    led = Ledger(path, now=lambda: NOW)
    led.ensure_account("acct", CFG)
    yield led
    led.close()


def _intent(symbol: str = "AAA", side: Side = Side.BUY, day: str = "2022-03-01") -> OrderIntent:
    cycle = f"acct:{day}"
    return OrderIntent(
        "acct",
        cycle,
        symbol,
        side,
        Decimal("3.5"),
        Decimal("101.25"),
        "target 20.0%",
        client_order_id("acct", cycle, symbol, side),
    )


def _fill(intent: OrderIntent) -> Fill:
    return Fill(
        intent.client_order_id,
        "acct",
        intent.symbol,
        intent.side,
        intent.quantity,
        Decimal("101.30"),
        Decimal("0.35"),
        date(2022, 3, 2),
        intent.reason,
    )


def _count(led: Ledger, table: str) -> int:
    return int(led.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])  # noqa: S608


def _user_version(p: Path) -> int:
    conn = sqlite3.connect(p)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


def _set_user_version(p: Path, v: int) -> None:
    conn = sqlite3.connect(p)
    try:
        conn.execute(f"PRAGMA user_version={v}")
        conn.commit()
    finally:
        conn.close()


# -- opening and migrations ----------------------------------------------------------------


def test_a_new_ledger_gets_every_migration_and_its_tables(ledger: Ledger, path: Path) -> None:
    assert _user_version(path) == len(MIGRATIONS)
    tables = {
        r[0] for r in ledger.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    assert {"accounts", "account_state", "orders", "fills", "positions", "equity"} <= tables
    assert {"decisions", "events"} <= tables


def test_reopening_a_ledger_changes_nothing(ledger: Ledger, path: Path) -> None:
    ledger.record_order(_intent(), "2022-03-01")
    ledger.close()
    again = Ledger(path, now=lambda: NOW)
    try:
        assert _user_version(path) == len(MIGRATIONS)
        assert again.accounts() == ["acct"]
        assert _count(again, "orders") == 1
        again.ensure_account("acct", CFG)  # also a no-op
        assert _count(again, "account_state") == 1
    finally:
        again.close()


def test_a_ledger_from_a_newer_schema_is_refused(ledger: Ledger, path: Path) -> None:
    ledger.close()
    _set_user_version(path, len(MIGRATIONS) + 1)
    with pytest.raises(LedgerError, match=r"newer than this version understands.*upgrade"):
        Ledger(path)
    with pytest.raises(LedgerError, match="newer"):
        Ledger(path, readonly=True)
    assert _user_version(path) == len(MIGRATIONS) + 1  # untouched


def test_a_readonly_open_of_a_missing_file_says_where_and_what_to_do(tmp_path: Path) -> None:
    missing = tmp_path / "nope.sqlite"
    with pytest.raises(LedgerError, match=r"no ledger at .*nope\.sqlite.*invest demo"):
        Ledger(missing, readonly=True)
    assert not missing.exists()


@pytest.mark.parametrize(
    "garbage",
    [b"this is not a database" * 50, b"SQLite format 3\x00" + b"\xff" * 300, bytes(4096)],
    ids=["text", "bad-header", "zeros"],
)
@pytest.mark.parametrize("readonly", [False, True], ids=["engine", "reader"])
def test_a_corrupt_file_gives_a_ledger_error(
    tmp_path: Path, garbage: bytes, readonly: bool
) -> None:
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(garbage)
    with pytest.raises(LedgerError, match=r"cannot open ledger .*bad\.sqlite"):
        Ledger(bad, readonly=readonly)
    assert bad.read_bytes() == garbage  # nothing was written over it


def test_a_readonly_open_of_a_file_that_is_not_a_ledger_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(LedgerError, match="not an invest ledger"):
        Ledger(other, readonly=True)


def test_a_readonly_ledger_reads_what_the_engine_wrote(ledger: Ledger, path: Path) -> None:
    ledger.record_equity("acct", "2022-03-01", 25_100.456, 1_000.0)
    reader = Ledger(path, readonly=True)
    try:
        assert reader.accounts() == ["acct"]
        assert reader.equity_curve("acct") == [("2022-03-01", 25_100.46)]
        assert reader.load_state("acct").cash == Decimal("25000.00")
    finally:
        reader.close()


# -- accounts and state ------------------------------------------------------------------------


def test_a_new_account_starts_with_its_configured_cash(ledger: Ledger) -> None:
    state = ledger.load_state("acct")
    assert state == AccountState("acct", Decimal("25000.00"))
    assert ledger.last_day("acct") is None


def test_loading_an_unknown_account_is_a_ledger_error(ledger: Ledger) -> None:
    with pytest.raises(LedgerError, match="'ghost' is not in the ledger"):
        ledger.load_state("ghost")


def test_state_round_trips_cash_positions_halt_and_brake(ledger: Ledger, path: Path) -> None:
    state = account(
        "1234.567891",
        position("AAA", "10.123456", "99.1234567890123456789", date(2022, 1, 3)),
        position(
            "BBB",
            "3",
            "50",
            date(2022, 2, 1),
            stop_loss_pct=0.07,
            take_profit_pct=0.3,
            time_stop_days=40,
        ),
        halt=HaltState.REDUCING,
        peak_equity=31_000.25,
        realised_pnl=Decimal("-12.34"),
        brake=True,
    )
    state.name = "acct"
    with ledger.transaction():
        ledger.save_state(state, "2022-03-01")
    ledger.close()
    reopened = Ledger(path, readonly=True)
    try:
        assert reopened.load_state("acct") == state
        assert reopened.last_day("acct") == "2022-03-01"
    finally:
        reopened.close()


def test_saving_state_replaces_the_positions_snapshot(ledger: Ledger) -> None:
    state = account(100, position("AAA", 1, 10, date(2022, 1, 3)), name="acct")
    ledger.save_state(state)
    del state.positions["AAA"]
    state.positions["BBB"] = position("BBB", 2, 20, date(2022, 1, 4))
    ledger.save_state(state)
    assert set(ledger.load_state("acct").positions) == {"BBB"}


def test_a_halt_change_is_persisted_with_an_event(ledger: Ledger) -> None:
    ledger.set_halt("acct", HaltState.HALTED, "daily loss 6%")
    assert ledger.load_state("acct").halt is HaltState.HALTED
    row = ledger.conn.execute("SELECT kind, detail_json FROM events").fetchone()
    assert row[0] == "halt"
    assert "daily loss 6%" in row[1]


# -- orders and fills ---------------------------------------------------------------------------


def test_record_order_refuses_a_duplicate_client_id(ledger: Ledger) -> None:
    intent = _intent()
    assert ledger.record_order(intent, "2022-03-01") is True
    assert ledger.record_order(intent, "2022-03-01") is False
    assert _count(ledger, "orders") == 1


def test_a_duplicate_order_inside_a_transaction_keeps_the_rest_of_it(ledger: Ledger) -> None:
    with ledger.transaction():
        assert ledger.record_order(_intent("AAA"), "2022-03-01")
        assert not ledger.record_order(_intent("AAA"), "2022-03-01")
        assert ledger.record_order(_intent("BBB"), "2022-03-01")
    assert _count(ledger, "orders") == 2


def test_an_order_is_durable_as_soon_as_it_is_recorded(ledger: Ledger, path: Path) -> None:
    ledger.record_order(_intent(), "2022-03-01")
    other = Ledger(path, readonly=True)  # another connection: sees only committed rows
    try:
        assert [i.client_order_id for i, _ in other.open_orders("acct")] == [
            _intent().client_order_id
        ]
    finally:
        other.close()


def test_a_failed_transaction_leaves_nothing_behind(ledger: Ledger) -> None:
    state = ledger.load_state("acct")
    state.cash = Decimal(1)

    def crashing_cycle() -> None:
        with ledger.transaction():
            ledger.record_order(_intent(), "2022-03-01")
            ledger.save_state(state, "2022-03-01")
            ledger.record_equity("acct", "2022-03-01", 1.0, 1.0)
            raise RuntimeError("crash")

    with pytest.raises(RuntimeError, match="crash"):
        crashing_cycle()
    assert _count(ledger, "orders") == 0
    assert _count(ledger, "equity") == 0
    assert ledger.load_state("acct").cash == Decimal("25000.00")


def test_open_orders_round_trip_with_their_session(ledger: Ledger) -> None:
    buy, sell = _intent("AAA", Side.BUY), _intent("BBB", Side.SELL)
    ledger.record_order(buy, "2022-03-01")
    ledger.record_order(sell, "2022-03-01")
    got = sorted(ledger.open_orders("acct"), key=lambda x: x[0].symbol)
    assert got == [(buy, date(2022, 3, 1)), (sell, date(2022, 3, 1))]
    assert ledger.open_orders("someone-else") == []


def test_a_filled_order_is_no_longer_open(ledger: Ledger) -> None:
    buy, sell = _intent("AAA", Side.BUY), _intent("BBB", Side.SELL)
    ledger.record_order(buy, "2022-03-01")
    ledger.record_order(sell, "2022-03-01")
    ledger.record_fill(_fill(buy))
    assert [i for i, _ in ledger.open_orders("acct")] == [sell]
    row = ledger.conn.execute(
        "SELECT status FROM orders WHERE client_order_id = ?", [buy.client_order_id]
    ).fetchone()
    assert row[0] == OrderStatus.FILLED.value
    fill = ledger.conn.execute("SELECT quantity, price, fees, day, seq FROM fills").fetchone()
    assert fill == ("3.5", "101.30", "0.35", "2022-03-02", 0)


@pytest.mark.parametrize("status", [OrderStatus.CANCELLED, OrderStatus.REJECTED])
def test_cancelled_and_rejected_orders_are_not_open(ledger: Ledger, status: OrderStatus) -> None:
    ledger.record_order(_intent(), "2022-03-01")
    ledger.set_order_status(_intent().client_order_id, status)
    assert ledger.open_orders("acct") == []


def test_a_fill_for_an_unknown_order_is_refused(ledger: Ledger) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        ledger.record_fill(_fill(_intent()))
    assert _count(ledger, "fills") == 0


# -- the cycle's sink --------------------------------------------------------------------------


def test_the_sink_records_an_order_under_the_session_of_its_cycle(ledger: Ledger) -> None:
    sink = LedgerSink(ledger)
    monitor = OrderIntent(
        "acct", "acct:2022-03-04:monitor", "AAA", Side.SELL, Decimal(1), Decimal(1), "stop", "id-m"
    )
    assert sink.order(monitor) is True
    assert sink.order(monitor) is False
    assert ledger.open_orders("acct") == [(monitor, date(2022, 3, 4))]


def test_the_sink_keeps_one_decision_per_cycle(ledger: Ledger) -> None:
    sink = LedgerSink(ledger)
    rec = {"account": "acct", "cycle_id": "acct:2022-03-01", "day": "2022-03-01", "regime": None}
    sink.decision(rec)
    sink.decision({**rec, "note": "a retry"})
    assert ledger.decisions("acct") == [rec]


def test_the_sink_keeps_the_last_equity_of_a_day(ledger: Ledger) -> None:
    sink = LedgerSink(ledger)
    sink.equity("acct", "2022-03-01", 100.0, 50.0)
    sink.equity("acct", "2022-03-01", 101.0, 50.0)
    sink.equity("acct", "2022-02-28", 99.0, 50.0)
    assert ledger.equity_curve("acct") == [("2022-02-28", 99.0), ("2022-03-01", 101.0)]
