"""Ledger schema as ordered migrations. ``PRAGMA user_version`` holds the applied count.

A migration is never edited once released: add a new one at the end.
"""

from __future__ import annotations

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
)
