"""The ``risk`` read op and the risk line of ``invest status``: each account's risk monitors.

Presentation over ``ledger.reads``: the account's equity curve (the realised VaR) and
its positions valued at the engine's last marks over the latest equity (the weights,
for the concentration). The ledger holds no price history, so the forward figures
(today's weights on the held names' trailing returns) are left out here with their
note; the TUI, which reads offline closes, shows them. Stock positions only: an
options account's option legs are not in the weights.

numpy comes with ``risk.snapshot`` and is imported when a snapshot is computed, so
``invest status`` without a ledger loads none of it.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

from invest.runtime.ledger import reads

if TYPE_CHECKING:
    from invest.runtime.risk.snapshot import RiskSnapshot

__all__ = ["ledger_risk", "risk_view", "weights_of"]


def weights_of(positions: list[dict[str, Any]], equity: float) -> dict[str, float]:
    """Each position's value over ``equity`` (rows of ``reads.positions``)."""
    if equity <= 0:
        return {}
    return {str(p["symbol"]): float(p["value"]) / equity for p in positions}


def ledger_risk(conn: sqlite3.Connection, account: str) -> RiskSnapshot:
    """The account's risk snapshot from the ledger alone (no forward figures)."""
    from invest.runtime.risk.snapshot import account_risk  # lazy: numpy

    curve = reads.equity_curve(conn, account)
    equity = curve[-1][1] if curve else 0.0
    weights = weights_of(reads.positions(conn, account), equity)
    return account_risk([v for _, v in curve], weights)


def risk_view(conn: sqlite3.Connection, account: str | None) -> dict[str, Any]:
    """``{"day", "risk": {account: snapshot dict}}`` for one account or all."""
    names = [account] if account else reads.account_names(conn)
    return {
        "day": reads.latest_equity_day(conn),
        "risk": {name: ledger_risk(conn, name).as_dict() for name in names},
    }
