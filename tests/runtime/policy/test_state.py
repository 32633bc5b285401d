"""LSTM state per (account, symbol, policy): once per session, persisted, reset when it must."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
import sqlite_utils

from invest.runtime.domain import AccountState
from invest.runtime.errors import LedgerError
from invest.runtime.ledger.store import Ledger
from invest.runtime.policy.ensemble import OnnxEnsemble
from invest.runtime.policy.pack import load_pack
from invest.runtime.policy.signal import PolicySignal
from invest.runtime.policy.state import (
    LedgerStateStore,
    LstmState,
    MemoryStateStore,
    StateSpec,
    StateStore,
)
from invest.runtime.policy.vote import NO_VOTE
from tests.runtime.policy.support import FakeEnsemble, by_trend, trend_market

SPEC = StateSpec("a" * 64, policies=2, layers=1, hidden=3)
SYMS = ("UP", "DOWN", "FLAT")


def _state(x: float, spec: StateSpec = SPEC) -> LstmState:
    shape = (spec.policies, spec.layers, spec.hidden)
    return LstmState(np.full(shape, x, np.float32), np.full(shape, -x, np.float32))


def _ledger_db(path: Path) -> sqlite3.Connection:
    """A ledger's connection, its schema (lstm_state included) from the real migrations."""
    return Ledger(path).conn


@pytest.fixture(params=["memory", "ledger"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> StateStore:
    if request.param == "memory":
        return MemoryStateStore()
    return LedgerStateStore(_ledger_db(tmp_path / "ledger.sqlite"))


def test_a_state_is_read_back_for_later_sessions_only(store: StateStore) -> None:
    store.save("acct", SPEC, "2024-01-02", {"UP": _state(1.0)})
    assert store.load("acct", SPEC, ["UP"], before="2024-01-02") == {}
    got = store.load("acct", SPEC, ["UP", "DOWN"], before="2024-01-03")
    assert list(got) == ["UP"]
    np.testing.assert_array_equal(got["UP"].h, _state(1.0).h)
    np.testing.assert_array_equal(got["UP"].c, _state(1.0).c)
    assert got["UP"].h.dtype == np.float32


def test_a_rerun_of_the_same_session_steps_from_the_same_input(store: StateStore) -> None:
    store.save("acct", SPEC, "2024-01-02", {"UP": _state(1.0)})
    store.save("acct", SPEC, "2024-01-03", {"UP": _state(2.0)})
    store.save("acct", SPEC, "2024-01-03", {"UP": _state(3.0)})  # the rerun overwrites
    assert store.load("acct", SPEC, ["UP"], "2024-01-03")["UP"].h[0, 0, 0] == 1.0
    assert store.load("acct", SPEC, ["UP"], "2024-01-04")["UP"].h[0, 0, 0] == 3.0


def test_states_are_kept_per_account_and_symbol(store: StateStore) -> None:
    store.save("a", SPEC, "2024-01-02", {"UP": _state(1.0), "DOWN": _state(2.0)})
    store.save("b", SPEC, "2024-01-02", {"UP": _state(5.0)})
    a = store.load("a", SPEC, SYMS, "2024-01-03")
    b = store.load("b", SPEC, SYMS, "2024-01-03")
    assert (a["UP"].h[0, 0, 0], a["DOWN"].h[0, 0, 0], b["UP"].h[0, 0, 0]) == (1.0, 2.0, 5.0)
    assert "DOWN" not in b


def test_a_state_saved_for_another_pack_or_shape_is_ignored(store: StateStore) -> None:
    store.save("acct", SPEC, "2024-01-02", {"UP": _state(1.0)})
    other = StateSpec("b" * 64, 2, 1, 3)
    assert store.load("acct", other, ["UP"], "2024-01-03") == {}
    wider = StateSpec("a" * 64, 2, 1, 4)
    assert store.load("acct", wider, ["UP"], "2024-01-03") == {}
    store.save("acct", other, "2024-01-03", {"UP": _state(7.0, other)})
    assert store.load("acct", other, ["UP"], "2024-01-04")["UP"].h[0, 0, 0] == 7.0
    assert store.load("acct", SPEC, ["UP"], "2024-01-04") == {}


def test_a_reset_marker_hides_the_older_state(store: StateStore) -> None:
    store.save("acct", SPEC, "2024-01-02", {"UP": _state(1.0)})
    store.save("acct", SPEC, "2024-01-03", {"UP": None})
    assert store.load("acct", SPEC, ["UP"], "2024-01-04") == {}
    assert "UP" in store.load("acct", SPEC, ["UP"], "2024-01-03")


def test_the_ledger_keeps_two_sessions_per_symbol(tmp_path: Path) -> None:
    conn = _ledger_db(tmp_path / "l.sqlite")
    store = LedgerStateStore(conn)
    for day in ("2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"):
        store.save("acct", SPEC, day, {"UP": _state(1.0), "DOWN": None})
    days = conn.execute("SELECT DISTINCT day FROM lstm_state ORDER BY day").fetchall()
    assert days == [("2024-01-04",), ("2024-01-05",)]
    assert conn.execute("SELECT COUNT(*) FROM lstm_state").fetchone()[0] == 2 * 2 * 2


def test_the_ledger_store_accepts_a_sqlite_utils_database(tmp_path: Path) -> None:
    db = sqlite_utils.Database(_ledger_db(tmp_path / "l.sqlite"))
    store = LedgerStateStore(db)
    store.save("acct", SPEC, "2024-01-02", {"UP": _state(1.0)})
    assert "UP" in store.load("acct", SPEC, ["UP"], "2024-01-03")


def test_a_ledger_without_the_table_says_to_migrate(tmp_path: Path) -> None:
    store = LedgerStateStore(sqlite3.connect(tmp_path / "old.sqlite"))
    with pytest.raises(LedgerError, match="no lstm_state table"):
        store.load("acct", SPEC, ["UP"], "2024-01-03")
    with pytest.raises(LedgerError, match="no lstm_state table"):
        store.save("acct", SPEC, "2024-01-03", {"UP": None})


def test_a_memory_overlay_reads_the_ledger_and_never_writes_it(tmp_path: Path) -> None:
    conn = _ledger_db(tmp_path / "l.sqlite")
    ledger = LedgerStateStore(conn)
    ledger.save("acct", SPEC, "2024-01-02", {"UP": _state(1.0)})
    dry = MemoryStateStore(base=ledger)
    assert dry.load("acct", SPEC, ["UP"], "2024-01-03")["UP"].h[0, 0, 0] == 1.0
    dry.save("acct", SPEC, "2024-01-03", {"UP": _state(9.0)})
    assert dry.load("acct", SPEC, ["UP"], "2024-01-04")["UP"].h[0, 0, 0] == 9.0
    assert ledger.load("acct", SPEC, ["UP"], "2024-01-04")["UP"].h[0, 0, 0] == 1.0


# --------------------------------------------------------------------------- the signal


def test_the_state_advances_once_per_session_and_a_rerun_decides_the_same() -> None:
    market = trend_market()
    fake = FakeEnsemble(by_trend())
    sig = PolicySignal(fake, SYMS, MemoryStateStore(), "IDX")
    sig.prepare(market)
    acct = AccountState("acct", Decimal(1000))
    for t in range(280, 285):
        first = sig.decide(t, acct)
        again = sig.decide(t, acct)
        assert first.votes == again.votes
    assert len(fake.calls) == 10
    assert fake.calls[-1][1].tolist() == [0.0, 0.0, 0.0]  # a rerun continues the episode
    # ten calls on five sessions: the state counts five steps, not ten
    assert sig.store.load("acct", sig.spec, SYMS, "2099-01-01")["UP"].h[0, 0, 0] == 5.0


def test_a_data_gap_skips_the_symbol_and_resets_its_state_next_time() -> None:
    market = trend_market(gap=("UP", 282))
    fake = FakeEnsemble(by_trend())
    sig = PolicySignal(fake, SYMS, MemoryStateStore(), "IDX")
    sig.prepare(market)
    acct = AccountState("acct", Decimal(1000))
    for t in (280, 281):
        sig.decide(t, acct)
    gap = sig.decide(282, acct)
    assert gap.votes["UP"] == NO_VOTE
    assert len(fake.calls[-1][0]) == 2  # UP was not stepped
    assert gap.votes["DOWN"].action.value == "OUT"
    sig.decide(283, acct)
    _, start = fake.calls[-1]
    assert start.tolist() == [1.0, 0.0, 0.0]  # UP starts a new episode, the others go on
    state = sig.store.load("acct", sig.spec, SYMS, "2099-01-01")
    assert (state["UP"].h[0, 0, 0], state["DOWN"].h[0, 0, 0]) == (1.0, 4.0)


def test_the_state_survives_a_restart_with_identical_next_logits(
    tiny_pack: Path, tmp_path: Path
) -> None:
    market = trend_market()
    pack = load_pack(tiny_pack)
    acct = AccountState("acct", Decimal(1000))
    db = tmp_path / "ledger.sqlite"

    def signal(conn: sqlite3.Connection) -> PolicySignal:
        sig = PolicySignal(OnnxEnsemble(pack), SYMS, LedgerStateStore(conn), "IDX")
        sig.prepare(market)
        return sig

    conn = _ledger_db(db)
    sig = signal(conn)
    for t in range(270, 280):
        with conn:
            sig.decide(t, acct)
    conn.close()

    uninterrupted = signal(_ledger_db(tmp_path / "copy.sqlite"))  # same days, no restart
    for t in range(270, 280):
        uninterrupted.decide(t, acct)
    expected = uninterrupted.decide(280, acct)

    restarted = signal(_ledger_db(db))
    got = restarted.decide(280, acct)
    for s in SYMS:
        np.testing.assert_array_equal(got.logits[s], expected.logits[s])
    fresh = signal(_ledger_db(tmp_path / "fresh.sqlite")).decide(280, acct)
    assert any(not np.array_equal(fresh.logits[s], got.logits[s]) for s in SYMS)
