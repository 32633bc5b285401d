"""Stores (memory, JSON files), the audit trail, the daily budget and the response cache."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from invest.runtime.oracle import (
    AuditRecord,
    AuditTrail,
    BudgetedLLMClient,
    BudgetExceededError,
    CacheMissError,
    CachingLLMClient,
    ChatRequest,
    DailyBudget,
    JsonFileStore,
    MemoryStore,
    OfflineLLMClient,
    OracleConfig,
    Store,
    Usage,
    prompt_hash,
)
from invest.runtime.oracle.errors import LLMUnavailableError
from tests.runtime.oracle.support import FixedClock, ScriptedClient

AT = datetime(2024, 6, 12, 20, tzinfo=UTC)
REQUEST = ChatRequest(messages=({"role": "user", "content": "hi"},))


@pytest.fixture(params=["memory", "json"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return MemoryStore() if request.param == "memory" else JsonFileStore(tmp_path / "oracle")


def test_both_stores_implement_the_protocol(any_store: Store) -> None:
    assert isinstance(any_store, Store)


def test_cache_entries_round_trip(any_store: Store) -> None:
    assert any_store.cache_get("k") is None
    any_store.cache_put("k", {"content": "x", "usage": {"prompt_tokens": 1}})
    assert any_store.cache_get("k") == {"content": "x", "usage": {"prompt_tokens": 1}}


def test_audit_records_round_trip_per_cycle(any_store: Store) -> None:
    any_store.audit_append(AuditRecord("c/1", "acct", "prompt", AT, {"amount": Decimal("1.50")}))
    any_store.audit_append(AuditRecord("c2", "acct", "prompt", AT, {}))
    [record] = any_store.audit_records("c/1")
    assert record.kind == "prompt"
    assert record.at == AT
    assert record.data == {"amount": "1.50"}


def test_usage_adds_up_per_account_and_day(any_store: Store) -> None:
    any_store.usage_add("a", date(2024, 6, 12), 100, 0.01)
    any_store.usage_add("a", date(2024, 6, 12), 50, 0.02)
    any_store.usage_add("b", date(2024, 6, 12), 7, 0.0)
    totals = any_store.usage_get("a", date(2024, 6, 12))
    assert totals.tokens == 150
    assert totals.cost_usd == pytest.approx(0.03)
    assert any_store.usage_get("a", date(2024, 6, 13)).tokens == 0


def test_a_json_file_store_survives_a_restart(tmp_path: Path) -> None:
    JsonFileStore(tmp_path).cache_put("k", {"content": "x"})
    assert JsonFileStore(tmp_path).cache_get("k") == {"content": "x"}


def test_the_audit_trail_writes_one_json_file_per_cycle(tmp_path: Path) -> None:
    store = MemoryStore()
    for kind in ("gate", "manager"):
        trail = AuditTrail(
            store, cycle_id="2024-06-12/acct", account="acct", now=lambda: AT, directory=tmp_path
        )
        trail.record(kind, note="x")
        path = trail.flush()
    assert path == tmp_path / "2024-06-12_acct.json"
    assert [r["kind"] for r in json.loads(path.read_text())] == ["gate", "manager"]


def test_a_cost_budget_stops_requests_once_spent() -> None:
    store, clock = MemoryStore(), FixedClock(AT)
    config = OracleConfig(
        budget_usd_per_day=0.0002,  # one scripted answer costs 0.00025
        usd_per_million_input_tokens=10.0,
        usd_per_million_output_tokens=30.0,
    )
    budget = DailyBudget(config, store, account="acct", now=clock.now)
    assert budget.cost_usd(Usage(100, 10)) == pytest.approx(0.0013)
    inner = ScriptedClient(lambda _: "{}")
    client = BudgetedLLMClient(inner, budget)
    client.complete(REQUEST)
    with pytest.raises(BudgetExceededError, match="cost budget"):
        client.complete(REQUEST)
    assert len(inner.calls) == 1


def test_the_prompt_hash_covers_model_messages_and_params() -> None:
    base = prompt_hash("m", REQUEST)
    assert base == prompt_hash("m", ChatRequest(messages=REQUEST.messages))
    assert base != prompt_hash("other", REQUEST)
    assert base != prompt_hash("m", ChatRequest(messages=REQUEST.messages, seed=1))
    assert base != prompt_hash("m", ChatRequest(messages=({"role": "user", "content": "hi!"},)))


def test_the_cache_answers_repeated_prompts_without_asking_again() -> None:
    inner = ScriptedClient(lambda _: '{"a": 1}')
    client = CachingLLMClient(inner, MemoryStore())
    first = client.complete(REQUEST)
    again = client.complete(REQUEST)
    assert len(inner.calls) == 1
    assert again.content == first.content
    assert again.cached
    assert again.attempts == 0


def test_replay_only_never_asks_and_a_miss_is_unavailable() -> None:
    inner = ScriptedClient(lambda _: "{}")
    client = CachingLLMClient(inner, MemoryStore(), replay_only=True)
    with pytest.raises(CacheMissError):
        client.complete(REQUEST)
    assert inner.calls == []
    assert client.health().ok


def test_an_offline_client_is_always_unavailable() -> None:
    client = OfflineLLMClient()
    with pytest.raises(LLMUnavailableError):
        client.complete(REQUEST)
    assert not client.health().ok
