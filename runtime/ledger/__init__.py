"""The SQLite ledger: accounts, cycles, decisions, orders, fills, positions, equity, events."""

from invest.runtime.ledger.store import Ledger, LedgerSink

__all__ = ["Ledger", "LedgerSink"]
