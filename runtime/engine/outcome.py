"""What one account cycle did (:class:`CycleOutcome`), and the loss trips checked after it.

Shared by the stock cycle (``account_cycle``) and the options one
(``options_account_cycle``), so that neither imports the other's module for them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from invest.runtime.config.engine import HaltRules
from invest.runtime.domain import AccountState, Fill, HaltState, OrderIntent
from invest.runtime.engine.halt import loss_trip
from invest.runtime.ledger import Ledger
from invest.runtime.ledger import engine_state as repo
from invest.runtime.options.plan import OptionOrder
from invest.runtime.risk.engine import RiskResult

__all__ = ["CycleOutcome", "trip"]


@dataclass
class CycleOutcome:
    """What one account cycle did.

    Attributes:
        account: the account.
        day: the session of the last bar the cycle read.
        cycle_id: ``account:day`` (``:monitor`` for the position monitors).
        result: the risk engine's result (intents, clamps, equity).
        equity: equity marked after the cycle (the plan's equity on a dry run).
        previous_equity: the mark of the session before ``day``, if any.
        state: the account after the cycle (its own halt state).
        halt: the state the cycle traded under (the worse of own and engine-wide).
        sent: orders recorded (the outbox) and handed to the broker by this run.
        fills: fills settled by this run.
        cancelled: (client order id, reason) of orders the broker cancelled.
        records: explanation records written by this run.
        latest: the record to show: this run's, or the ledger's latest.
        tripped: why a halt tripped in this cycle ("" when none did).
        skipped: why the cycle did nothing ("" when it ran).
        option_orders: an options account's option orders recorded by this run.
    """

    account: str
    day: date
    cycle_id: str
    result: RiskResult
    equity: float
    state: AccountState
    halt: HaltState
    previous_equity: float | None = None
    monitor_only: bool = False
    dry_run: bool = False
    sent: list[OrderIntent] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)
    cancelled: list[tuple[str, str]] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    latest: dict[str, Any] | None = None
    tripped: str = ""
    skipped: str = ""
    option_orders: list[OptionOrder] = field(default_factory=list)


def trip(
    ledger: Ledger,
    state: AccountState,
    rules: HaltRules,
    equity: float,
    previous: float | None,
    *,
    new: bool,
) -> str:
    """Check the loss trips (in the cycle's transaction); HALT the account when one fires.

    The drawdown is measured from ``engine_accounts.trip_peak``, which a resume re-bases
    at the equity of that moment, so that a resumed account does not trip again at
    once. The daily loss is checked once per session (``new``): a rerun of the same
    session after a resume does not trip it again.
    """
    conn = ledger.conn
    stored = repo.engine_account(conn, state.name).trip_peak
    peak = max(stored if stored is not None else state.peak_equity, equity)
    repo.update_engine_account(conn, state.name, ledger.ts(), trip_peak=peak)
    why = loss_trip(rules, equity, previous if new else None, peak)
    if why is None or state.halt is HaltState.HALTED:
        return ""
    state.halt = HaltState.HALTED
    ledger.set_halt(state.name, HaltState.HALTED, why)
    return why
