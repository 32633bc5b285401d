"""The SQLite ledger: accounts, cycles, decisions, orders, fills, positions, equity, events."""

from invest.runtime.ledger.store import (
    DEMO_EVENT,
    Ledger,
    LedgerSink,
    demo_ledger_at,
    remove_ledger,
    set_aside_demo,
)

__all__ = [
    "DEMO_EVENT",
    "Ledger",
    "LedgerSink",
    "demo_ledger_at",
    "remove_ledger",
    "set_aside_demo",
]
