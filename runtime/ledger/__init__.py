"""The SQLite ledger: accounts, cycles, decisions, orders, fills, positions, equity, events.

The one access layer to the ledger file; SQL lives only in this package, by job:

* ``schema``: the migrations and the schema version;
* ``store``: :class:`Ledger`, the writer (one at a time, see ``lock``), and ``LedgerSink``;
* ``reads``: read queries shared by the writer, ``invest status``, reports and control;
* ``views``: the TUI's typed read-only views;
* ``engine_state``: the engine's halt states, heartbeat, per-account bookkeeping and marks;
* ``exit_plans``, ``lstm_state``, ``llm``: the LLM manager's exit plans, the RL policies'
  LSTM states and the LLM oracle's cache, audit trail and usage;
* ``options``: option orders, fills and positions (rows to and from the options
  package's types, the outbox of option orders, ``load_book``); imported lazily by the
  store, since it loads the options package (numpy);
* ``trades``: closed trades and period P&L (pure);
* ``integrity``: the invariants a ledger file must keep; ``lock``: the writer lock.

Importing it loads the standard library only (``sqlite3``), so the TUI and
``invest status`` start fast.
"""

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
