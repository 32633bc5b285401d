"""The ``options`` read op: open option positions with their marks, and the recent closes.

Presentation over ``ledger.reads`` (option_positions, option_marks, option_outcomes),
for Telegram ``/options`` and any control client. Plain JSON types only.

"Recent" is the 7 days up to the ledger's last marked session, not the wall clock,
so a replayed ledger shows its own last week and a live one its real last week.
"""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta
from typing import Any

from invest.runtime.ledger import reads

__all__ = ["RECENT_DAYS", "options_view"]

#: Closed positions shown: those closed in this many days up to the last session.
RECENT_DAYS = 7


def options_view(conn: sqlite3.Connection, account: str | None) -> dict[str, Any]:
    """``{"day", "open": [...], "closed": [...], "since"}`` for one account or all."""
    latest = reads.latest_equity_day(conn)
    marks = {m.position_id: m for m in reads.option_marks(conn, account)}
    opened = []
    for p in reads.option_positions(conn, account):
        m = marks.get(p.id)
        near = m.nearest if m is not None else None
        opened.append(
            {
                "account": p.account,
                "id": p.id,
                "kind": p.kind,
                "underlying": p.underlying,
                "expiry": p.expiry,
                "legs": p.legs_text(),
                "contracts": p.contracts,
                "opened": p.opened,
                "open_premium": p.open_premium,
                "marked": None if m is None else m.day,
                "dte": (date.fromisoformat(p.expiry) - date.fromisoformat(latest)).days
                if m is None and latest
                else (None if m is None else m.dte),
                "value": None if m is None else m.value,
                "unrealised": None if m is None else m.unrealised,
                "delta": None if m is None else m.delta,
                "theta": None if m is None else m.theta,
                "nearest": None
                if near is None
                else {
                    "rule": near.rule,
                    "at": near.at,
                    "distance": near.distance,
                    "unit": near.unit,
                    "remaining": near.remaining,
                    "text": near.text(),
                },
            }
        )
    since = (date.fromisoformat(latest) - timedelta(days=RECENT_DAYS)).isoformat() if latest else ""
    outcomes = reads.option_outcomes(conn, account)
    closed = [
        p.closed_dict(outcomes.get(p.id, p.outcome or ""))
        for p in reads.option_positions(conn, account, closed=True)
        if p.closed is not None and p.closed > since
    ]
    return {"day": latest, "since": since, "open": opened, "closed": closed}
