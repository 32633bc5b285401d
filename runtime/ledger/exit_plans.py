"""Exit plans in the ledger: the exits the LLM manager set for buys that have not filled yet.

Table ``exit_plans`` (ledger migration 4). Saved in the cycle's transaction, so a
restart between an order and its fill keeps them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping

from invest.runtime.domain import ExitPlan

__all__ = ["load_exit_plans", "save_exit_plans"]


def save_exit_plans(conn: sqlite3.Connection, account: str, plans: Mapping[str, ExitPlan]) -> None:
    """Replace ``account``'s pending exit plans (call inside the cycle's transaction)."""
    conn.execute("DELETE FROM exit_plans WHERE account = ?", [account])
    for symbol, plan in sorted(plans.items()):
        conn.execute(
            "INSERT INTO exit_plans (account, symbol, stop_loss_pct, take_profit_pct, "
            "time_stop_days) VALUES (?, ?, ?, ?, ?)",
            [account, symbol, plan.stop_loss_pct, plan.take_profit_pct, plan.time_stop_days],
        )


def load_exit_plans(conn: sqlite3.Connection, account: str) -> dict[str, ExitPlan]:
    """``account``'s pending exit plans (symbol -> plan); empty when there are none."""
    rows = conn.execute(
        "SELECT symbol, stop_loss_pct, take_profit_pct, time_stop_days FROM exit_plans "
        "WHERE account = ? ORDER BY symbol",
        [account],
    ).fetchall()
    return {r[0]: ExitPlan(r[1], r[2], r[3]) for r in rows}
