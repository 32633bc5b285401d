"""Durability on purpose: the ledger commits with synchronous=FULL, and a torn WAL loses whole
transactions only.

A power loss can leave the WAL cut anywhere (in the middle of a frame, between
two transactions). The ledger is copied mid-life (file + ``-wal``, the writer
still open, nothing checkpointed), the copy's WAL truncated at several offsets
and opened: SQLite's check passes, every order committed before the cut is
there whole (its row, its fill, the positions and cash of its transaction) or
not at all, and :func:`check_integrity` passes.
"""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from datetime import date
from decimal import Decimal
from pathlib import Path

from invest.runtime.config import AccountConfig
from invest.runtime.domain import AccountState, Fill, OrderIntent, Side, client_order_id
from invest.runtime.ledger import Ledger
from invest.runtime.ledger.integrity import check_integrity

ACCOUNT = "wal"
WAL_HEADER, FRAME_HEADER, PAGE = 32, 24, 4096


def _trade(ledger: Ledger, state: AccountState, n: int) -> str:
    """One cycle's writes in one transaction: an order, its fill, the state."""
    day = date(2022, 1, 3 + n % 25)
    cycle = f"{ACCOUNT}:{day.isoformat()}:{n}"
    intent = OrderIntent(
        ACCOUNT,
        cycle,
        f"S{n:03d}",
        Side.BUY,
        Decimal(1),
        Decimal(10),
        "test",
        client_order_id(ACCOUNT, cycle, f"S{n:03d}", Side.BUY),
    )
    fill = Fill(
        intent.client_order_id, ACCOUNT, intent.symbol, Side.BUY, Decimal(1), Decimal(10),
        Decimal("0.01"), day, "test",
    )  # fmt: skip
    with ledger.transaction():
        assert ledger.record_order(intent, day.isoformat())
        state.apply_fill(fill)
        ledger.record_fill(fill)
        ledger.event(ACCOUNT, "pad", {"text": "x" * 3000})  # spreads a cycle over frames
        ledger.save_state(state, day.isoformat())
    return intent.client_order_id


def test_the_ledger_commits_with_synchronous_full(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    try:
        assert ledger.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert ledger.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        ledger.close()


def test_a_wal_cut_anywhere_keeps_or_drops_whole_transactions(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    ledger = Ledger(path)
    ledger.ensure_account(ACCOUNT, AccountConfig(universe=["S000"], cash=100_000))
    ledger.conn.execute(
        "PRAGMA wal_checkpoint(TRUNCATE)"
    )  # the schema and the account: in the file
    ledger.conn.execute("PRAGMA wal_autocheckpoint = 0")  # every trade from here: in the WAL
    state = ledger.load_state(ACCOUNT)
    ids = [_trade(ledger, state, n) for n in range(12)]
    wal = Path(f"{path}-wal")
    size = wal.stat().st_size
    assert size > 10 * PAGE
    frames = (size - WAL_HEADER) // (FRAME_HEADER + PAGE)
    cuts = sorted(
        {0, WAL_HEADER - 5, WAL_HEADER + 100, size // 3, size // 2 + 777, size - 1, size}
        | {WAL_HEADER + k * (FRAME_HEADER + PAGE) + 1000 for k in range(0, frames, 5)}
    )
    seen: set[int] = set()
    for cut in cuts:
        copy = tmp_path / f"cut-{cut}"
        copy.mkdir()
        shutil.copy(path, copy / "ledger.sqlite")
        (copy / "ledger.sqlite-wal").write_bytes(wal.read_bytes()[:cut])
        with closing(sqlite3.connect(copy / "ledger.sqlite")) as db:  # recovers the WAL
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            rows = {
                str(c): (int(n), str(s))
                for c, n, s in db.execute(
                    "SELECT o.client_order_id, COUNT(f.id), o.status FROM orders o "
                    "LEFT JOIN fills f USING (client_order_id) GROUP BY 1"
                )
            }
            held = db.execute(
                "SELECT COUNT(*) FROM positions WHERE account = ?", [ACCOUNT]
            ).fetchone()[0]
        assert check_integrity(copy / "ledger.sqlite") == [], cut
        present = [c for c in ids if c in rows]
        assert present == ids[: len(present)], cut  # a prefix of the commits survives
        assert all(rows[c] == (1, "filled") for c in present), cut  # each one whole
        assert held == len(present), cut
        seen.add(len(present))
    ledger.close()
    assert 0 in seen, seen
    assert len(ids) in seen, seen
    assert len(seen) > 3, seen
