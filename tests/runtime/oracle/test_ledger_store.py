"""The oracle's store in the SQLite ledger: cache, audit per cycle, usage per day, exit plans."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from invest.runtime.domain import ExitPlan
from invest.runtime.errors import LedgerError
from invest.runtime.ledger.exit_plans import load_exit_plans, save_exit_plans
from invest.runtime.ledger.store import Ledger
from invest.runtime.oracle import (
    AuditRecord,
    AuditTrail,
    BudgetedLLMClient,
    BudgetExceededError,
    CachingLLMClient,
    ChatRequest,
    DailyBudget,
    ManagerOracle,
    OracleConfig,
    Store,
)
from invest.runtime.oracle.ledger_store import LedgerOracleStore
from tests.runtime.oracle.support import FixedClock, ScriptedClient, sample_context

AT = datetime(2024, 6, 12, 20, tzinfo=UTC)
DAY = date(2024, 6, 12)
REQUEST = ChatRequest(messages=({"role": "user", "content": "hi"},))


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    led = Ledger(tmp_path / "ledger.sqlite", now=lambda: AT)
    yield led
    led.close()


@pytest.fixture
def store(ledger: Ledger) -> LedgerOracleStore:
    return LedgerOracleStore(ledger.conn, now=lambda: AT)


def test_the_ledger_store_implements_the_oracle_store_protocol(store: LedgerOracleStore) -> None:
    assert isinstance(store, Store)


def test_cache_entries_round_trip_and_the_last_write_wins(store: LedgerOracleStore) -> None:
    assert store.cache_get("k") is None
    store.cache_put("k", {"content": "x", "usage": {"prompt_tokens": 1}, "cost": Decimal("0.5")})
    assert store.cache_get("k") == {"content": "x", "usage": {"prompt_tokens": 1}, "cost": "0.5"}
    store.cache_put("k", {"content": "y"})
    assert store.cache_get("k") == {"content": "y"}


def test_audit_records_come_back_per_cycle_in_the_order_written(store: LedgerOracleStore) -> None:
    for kind in ("prompt", "response", "parse"):
        store.audit_append(AuditRecord("acct:2024-06-12", "acct", kind, AT, {"n": Decimal("1.5")}))
    store.audit_append(AuditRecord("acct:2024-06-13", "acct", "prompt", AT, {}))
    records = store.audit_records("acct:2024-06-12")
    assert [r.kind for r in records] == ["prompt", "response", "parse"]
    assert records[0] == AuditRecord("acct:2024-06-12", "acct", "prompt", AT, {"n": "1.5"})
    assert store.audit_records("nope") == []
    assert store.audit_cycles("acct") == ["acct:2024-06-13", "acct:2024-06-12"]


def test_usage_adds_up_per_account_and_day(store: LedgerOracleStore) -> None:
    store.usage_add("a", DAY, 100, 0.01)
    store.usage_add("a", DAY, 50, 0.02)
    store.usage_add("b", DAY, 7, 0.0)
    totals = store.usage_get("a", DAY)
    assert totals.tokens == 150
    assert totals.cost_usd == pytest.approx(0.03)
    assert store.usage_get("a", date(2024, 6, 13)).tokens == 0
    assert [(d, u.tokens) for d, u in store.usage_days("a")] == [(DAY, 150)]


def test_everything_survives_reopening_the_ledger(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    first = Ledger(path)
    s = LedgerOracleStore(first.conn)
    s.cache_put("k", {"content": "x"})
    s.audit_append(AuditRecord("c1", "acct", "verdict", AT, {"ok": True}))
    s.usage_add("acct", DAY, 10, 0.5)
    first.close()
    again = Ledger(path)
    try:
        s = LedgerOracleStore(again.conn)
        assert s.cache_get("k") == {"content": "x"}
        assert [r.data for r in s.audit_records("c1")] == [{"ok": True}]
        assert s.usage_get("acct", DAY).tokens == 10
    finally:
        again.close()


def test_writes_join_the_cycle_transaction_and_roll_back_with_it(
    ledger: Ledger, store: LedgerOracleStore
) -> None:
    def failing_cycle() -> None:
        with ledger.transaction():
            store.audit_append(AuditRecord("c1", "acct", "prompt", AT, {}))
            raise RuntimeError("the cycle failed")

    with pytest.raises(RuntimeError, match="the cycle failed"):
        failing_cycle()
    assert store.audit_records("c1") == []
    with ledger.transaction():
        store.audit_append(AuditRecord("c1", "acct", "prompt", AT, {}))
    assert len(store.audit_records("c1")) == 1


def test_a_read_only_ledger_keeps_the_dry_runs_writes_in_memory(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    writer = Ledger(path)
    LedgerOracleStore(writer.conn).cache_put("known", {"content": "cached"})
    LedgerOracleStore(writer.conn).usage_add("acct", DAY, 5, 0.0)
    writer.close()
    reader = Ledger(path, readonly=True)
    try:
        s = LedgerOracleStore(reader.conn, readonly=True)
        assert s.cache_get("known") == {"content": "cached"}
        s.cache_put("new", {"content": "dry"})
        s.audit_append(AuditRecord("dry", "acct", "prompt", AT, {}))
        s.usage_add("acct", DAY, 7, 0.0)
        assert s.cache_get("new") == {"content": "dry"}
        assert len(s.audit_records("dry")) == 1
        assert s.usage_get("acct", DAY).tokens == 12
    finally:
        reader.close()
    check = Ledger(path)
    try:
        assert LedgerOracleStore(check.conn).cache_get("new") is None
        assert LedgerOracleStore(check.conn).usage_get("acct", DAY).tokens == 5
    finally:
        check.close()


def test_a_connection_to_an_unmigrated_file_is_refused(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "plain.sqlite")
    try:
        with pytest.raises(LedgerError, match="migrations"):
            LedgerOracleStore(conn)
    finally:
        conn.close()


def test_a_manager_cycle_leaves_its_audit_in_the_ledger_and_a_json_file(
    store: LedgerOracleStore, tmp_path: Path
) -> None:
    answers = iter(['{"regime": "BULL"}', '{"actions": [{"action": "HOLD", "symbol": "MSFT"}]}'])
    config = OracleConfig(base_url="http://127.0.0.1:9/v1", model="main", mode="manager")
    clock = FixedClock(AT)
    oracle = ManagerOracle(
        config,
        ScriptedClient(lambda r: next(answers)),
        store,
        account="acct",
        now=clock.now,
        audit_dir=tmp_path / "cycles",
    )
    oracle.decide(sample_context(), cycle_id="acct:2024-06-12")
    kinds = [r.kind for r in store.audit_records("acct:2024-06-12")]
    assert kinds[0] == "manager.start"
    assert kinds.count("prompt") == 2
    assert kinds[-1] == "decision"
    assert (tmp_path / "cycles" / "acct_2024-06-12.json").exists()


def test_the_daily_budget_and_the_cache_work_over_the_ledger(store: LedgerOracleStore) -> None:
    config = OracleConfig(base_url="http://127.0.0.1:9/v1", budget_tokens_per_day=20)
    inner = ScriptedClient(lambda r: "answer")  # 15 tokens per answer
    budget = DailyBudget(config, store, account="acct", now=FixedClock(AT).now)
    client = CachingLLMClient(BudgetedLLMClient(inner, budget), store)
    assert client.complete(REQUEST).content == "answer"
    assert client.complete(REQUEST).cached  # same prompt: from the ledger, free
    assert store.usage_get("acct", DAY).tokens == 15
    other = ChatRequest(messages=({"role": "user", "content": "again"},))
    client.complete(other)
    with pytest.raises(BudgetExceededError):
        client.complete(ChatRequest(messages=({"role": "user", "content": "third"},)))


def test_the_audit_trail_over_the_ledger_also_writes_the_cycle_file(
    store: LedgerOracleStore, tmp_path: Path
) -> None:
    trail = AuditTrail(store, cycle_id="acct:1", account="acct", now=lambda: AT, directory=tmp_path)
    trail.record("verdict", symbol="AAPL")
    assert trail.flush() == tmp_path / "acct_1.json"
    assert [r.kind for r in store.audit_records("acct:1")] == ["verdict"]


def test_pending_exit_plans_survive_a_restart(ledger: Ledger) -> None:
    plans = {"A": ExitPlan(0.05, 0.3, 20), "B": ExitPlan(None, None, 5)}
    save_exit_plans(ledger.conn, "acct", plans)
    save_exit_plans(ledger.conn, "other", {"A": ExitPlan(0.1)})
    assert load_exit_plans(ledger.conn, "acct") == plans
    save_exit_plans(ledger.conn, "acct", {})
    assert load_exit_plans(ledger.conn, "acct") == {}
    assert load_exit_plans(ledger.conn, "other") == {"A": ExitPlan(0.1)}
