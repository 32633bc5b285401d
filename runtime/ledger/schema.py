"""Ledger schema as ordered migrations. ``PRAGMA user_version`` holds the applied count.

A migration is never edited once released: add a new one at the end.
:func:`migrate` applies the missing ones, each in its own transaction.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from invest.runtime.errors import LedgerError

__all__ = [
    "ENGINE_SCHEMA",
    "MARKS_SCHEMA",
    "MIGRATIONS",
    "OPTIONS_SCHEMA",
    "check_version",
    "has_engine_tables",
    "has_mark_table",
    "has_option_tables",
    "migrate",
    "version",
]

#: The schema version (``PRAGMA user_version``) that adds the engine tables.
ENGINE_SCHEMA = 3
#: The schema version that adds the option tables (orders, fills, positions).
OPTIONS_SCHEMA = 5
#: The schema version that adds the option marks.
MARKS_SCHEMA = 6


def version(conn: sqlite3.Connection) -> int:
    """The number of migrations applied to the ledger behind ``conn``."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def has_engine_tables(conn: sqlite3.Connection) -> bool:
    """True when the ledger's schema has the engine tables."""
    return version(conn) >= ENGINE_SCHEMA


def has_option_tables(conn: sqlite3.Connection) -> bool:
    """True when the ledger's schema has the option tables."""
    return version(conn) >= OPTIONS_SCHEMA


def has_mark_table(conn: sqlite3.Connection) -> bool:
    """True when the ledger's schema has the option marks."""
    return version(conn) >= MARKS_SCHEMA


def check_version(conn: sqlite3.Connection, path: Path) -> None:
    """Refuse a ledger written by a newer appliance.

    Raises:
        LedgerError: the schema is newer than :data:`MIGRATIONS`.
    """
    if version(conn) > len(MIGRATIONS):
        raise LedgerError(
            f"ledger {path} has schema {version(conn)}, newer than this version "
            f"understands ({len(MIGRATIONS)}): upgrade the appliance"
        )


def migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Apply the migrations the ledger lacks, each in its own transaction."""
    check_version(conn, path)
    for n, script in enumerate(MIGRATIONS[version(conn) :], start=version(conn) + 1):
        with conn:
            conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version={n};\nCOMMIT;")


MIGRATIONS: tuple[str, ...] = (
    # 1: the foundation tables.
    """
    CREATE TABLE accounts (
        name TEXT PRIMARY KEY,
        strategy TEXT NOT NULL,
        start_cash TEXT NOT NULL,
        config_json TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE account_state (
        account TEXT PRIMARY KEY REFERENCES accounts(name),
        cash TEXT NOT NULL,
        halt TEXT NOT NULL DEFAULT 'ACTIVE',
        peak_equity REAL NOT NULL DEFAULT 0,
        brake INTEGER NOT NULL DEFAULT 0,
        realised_pnl TEXT NOT NULL DEFAULT '0',
        last_day TEXT,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE decisions (
        id INTEGER PRIMARY KEY,
        account TEXT NOT NULL,
        cycle_id TEXT NOT NULL,
        day TEXT NOT NULL,
        regime TEXT,
        record_json TEXT NOT NULL,
        UNIQUE (cycle_id)
    );
    CREATE INDEX decisions_account_day ON decisions(account, day);
    CREATE TABLE orders (
        client_order_id TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        cycle_id TEXT NOT NULL,
        day TEXT NOT NULL,
        symbol TEXT NOT NULL,
        side TEXT NOT NULL,
        quantity TEXT NOT NULL,
        ref_price TEXT NOT NULL,
        reason TEXT NOT NULL,
        status TEXT NOT NULL,
        broker_order_id TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX orders_account_status ON orders(account, status);
    CREATE TABLE fills (
        id INTEGER PRIMARY KEY,
        client_order_id TEXT NOT NULL REFERENCES orders(client_order_id),
        seq INTEGER NOT NULL,
        account TEXT NOT NULL,
        symbol TEXT NOT NULL,
        side TEXT NOT NULL,
        quantity TEXT NOT NULL,
        price TEXT NOT NULL,
        fees TEXT NOT NULL,
        day TEXT NOT NULL,
        reason TEXT NOT NULL,
        UNIQUE (client_order_id, seq)
    );
    CREATE INDEX fills_account_day ON fills(account, day);
    CREATE TABLE positions (
        account TEXT NOT NULL,
        symbol TEXT NOT NULL,
        quantity TEXT NOT NULL,
        avg_cost TEXT NOT NULL,
        opened TEXT NOT NULL,
        stop_loss_pct REAL,
        take_profit_pct REAL,
        time_stop_days INTEGER,
        PRIMARY KEY (account, symbol)
    );
    CREATE TABLE equity (
        account TEXT NOT NULL,
        day TEXT NOT NULL,
        equity REAL NOT NULL,
        cash REAL NOT NULL,
        PRIMARY KEY (account, day)
    );
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        ts TEXT NOT NULL,
        account TEXT,
        kind TEXT NOT NULL,
        detail_json TEXT NOT NULL
    );
    CREATE INDEX events_kind ON events(kind, ts);
    """,
    # 2: LSTM states of the RL policies (invest.runtime.policy.state): the state after the
    # step of `day`; two sessions are kept per symbol so a same-day rerun steps from the same input.
    """
    CREATE TABLE lstm_state (
        account TEXT NOT NULL,
        symbol TEXT NOT NULL,
        pack_sha TEXT NOT NULL,
        policy INTEGER NOT NULL,
        h BLOB,
        c BLOB,
        day TEXT NOT NULL,
        PRIMARY KEY (account, symbol, policy, day)
    );
    """,
    # 3: the engine (invest.runtime.engine): the engine-wide halt state, the heartbeat, each
    # account's engine bookkeeping (pause, failures in a row, last cycle, last reconciliation,
    # the equity peak of the drawdown trip, re-based by a resume) and the last price of each
    # holding (for positions and P&L in status replies).
    """
    CREATE TABLE engine_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        halt TEXT NOT NULL DEFAULT 'ACTIVE',
        reason TEXT NOT NULL DEFAULT '',
        updated_at TEXT NOT NULL
    );
    CREATE TABLE engine_heartbeat (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        pid INTEGER NOT NULL,
        version TEXT NOT NULL,
        started_at TEXT NOT NULL,
        beat_at TEXT NOT NULL,
        clock_at TEXT NOT NULL,
        stopped_at TEXT
    );
    CREATE TABLE engine_accounts (
        account TEXT PRIMARY KEY,
        paused INTEGER NOT NULL DEFAULT 0,
        errors INTEGER NOT NULL DEFAULT 0,
        data_outages INTEGER NOT NULL DEFAULT 0,
        broker_outages INTEGER NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT '',
        last_cycle_at TEXT,
        last_cycle_id TEXT,
        synced_at TEXT,
        trip_peak REAL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE marks (
        account TEXT NOT NULL,
        symbol TEXT NOT NULL,
        day TEXT NOT NULL,
        price REAL NOT NULL,
        PRIMARY KEY (account, symbol)
    );
    """,
    # 4: the LLM oracle (invest.runtime.ledger.llm): answers cached by prompt hash,
    # the audit trail of every prompt, response, parse result and verdict, tokens and cost per
    # account and day; and the exits the LLM manager set for buys that have not filled yet
    # (invest.runtime.ledger.exit_plans).
    """
    CREATE TABLE llm_cache (
        key TEXT PRIMARY KEY,
        json TEXT NOT NULL,
        created TEXT NOT NULL
    );
    CREATE TABLE llm_audit (
        id INTEGER PRIMARY KEY,
        cycle_id TEXT NOT NULL,
        account TEXT NOT NULL,
        ts TEXT NOT NULL,
        kind TEXT NOT NULL,
        json TEXT NOT NULL
    );
    CREATE INDEX llm_audit_cycle ON llm_audit(cycle_id, id);
    CREATE INDEX llm_audit_account ON llm_audit(account, id);
    CREATE TABLE llm_usage (
        account TEXT NOT NULL,
        day TEXT NOT NULL,
        tokens INTEGER NOT NULL DEFAULT 0,
        cost_usd REAL NOT NULL DEFAULT 0,
        PRIMARY KEY (account, day)
    );
    CREATE TABLE exit_plans (
        account TEXT NOT NULL,
        symbol TEXT NOT NULL,
        stop_loss_pct REAL,
        take_profit_pct REAL,
        time_stop_days INTEGER,
        PRIMARY KEY (account, symbol)
    );
    """,
    # 5: options (invest.runtime.ledger.options). An option order is a whole structure, all
    # legs as one order, through the same outbox as the stocks (status: OrderStatus values);
    # legs_json holds each leg's OCC symbol, quantity per unit, multiplier and style.
    # limit_premium is NULL for an order at the market. An option fill is an execution of a
    # whole structure, or its settlement at expiry (no order row then: its client id is
    # book.option_fill_id); legs_json holds each leg's symbol, contracts and price per share.
    # A position keeps its money by source so its P&L survives the close. Money is TEXT
    # decimals; open_premium (per share per unit) is the float's repr.
    """
    CREATE TABLE option_orders (
        client_order_id TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        cycle_id TEXT NOT NULL,
        day TEXT NOT NULL,
        action TEXT NOT NULL,
        position_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        underlying TEXT NOT NULL,
        legs_json TEXT NOT NULL,
        contracts INTEGER NOT NULL,
        limit_premium TEXT,
        rule TEXT NOT NULL DEFAULT '',
        reason TEXT NOT NULL,
        status TEXT NOT NULL,
        broker_order_id TEXT,
        detail TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX option_orders_account_status ON option_orders(account, status);
    CREATE TABLE option_fills (
        id INTEGER PRIMARY KEY,
        client_order_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        account TEXT NOT NULL,
        position_id TEXT NOT NULL,
        action TEXT NOT NULL,
        legs_json TEXT NOT NULL,
        fees TEXT NOT NULL,
        day TEXT NOT NULL,
        reason TEXT NOT NULL,
        UNIQUE (client_order_id, seq)
    );
    CREATE INDEX option_fills_position ON option_fills(account, position_id);
    CREATE TABLE option_positions (
        account TEXT NOT NULL,
        id TEXT NOT NULL,
        kind TEXT NOT NULL,
        underlying TEXT NOT NULL,
        expiry TEXT NOT NULL,
        legs_json TEXT NOT NULL,
        contracts INTEGER NOT NULL,
        opened TEXT NOT NULL,
        open_premium TEXT NOT NULL,
        collateral TEXT NOT NULL,
        reserved TEXT NOT NULL,
        shares_reserved INTEGER NOT NULL,
        premium_in TEXT NOT NULL,
        premium_out TEXT NOT NULL,
        settlement TEXT NOT NULL,
        fees TEXT NOT NULL,
        closed TEXT,
        outcome TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (account, id)
    );
    CREATE INDEX option_positions_open ON option_positions(account, closed);
    """,
    # 6: the marks of the open option positions (invest.runtime.options.marks), the latest
    # only: each session replaces an account's rows (a closed position's row goes), so the
    # table is what is open now. Their history is in the decisions' "positions" blocks.
    # Floats are REAL (views only; money of record stays in option_positions); NULL when a
    # leg had no quote. triggers_json: the exits' levels and distances.
    """
    CREATE TABLE option_marks (
        account TEXT NOT NULL,
        position_id TEXT NOT NULL,
        day TEXT NOT NULL,
        kind TEXT NOT NULL,
        underlying TEXT NOT NULL,
        contracts INTEGER NOT NULL,
        dte INTEGER NOT NULL,
        value REAL,
        unrealised REAL,
        delta REAL,
        gamma REAL,
        theta REAL,
        vega REAL,
        spot REAL,
        priced INTEGER NOT NULL,
        triggers_json TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (account, position_id)
    );
    """,
)
