"""CRASH TEST against Alpaca: the real engine SIGKILLed at random points while it trades a fake Alpaca.

As :mod:`.test_crash`, but the account ``daily`` trades through the real
``AlpacaBroker`` (alpaca-py over HTTP) on a loopback fake Alpaca account that
fills orders at the next close of the replay (:mod:`tests.runtime.brokers.exchange`,
a thread of this test process, so its state outlives every kill). Half the
children also kill themselves right after the fake took an order and before its
answer is recorded (between the outbox commit and the second transaction).

Afterwards the ledger is compared with the **broker's** state: every order at the
broker has its ledger row (same client id, same broker id, matching status); no
client id reached the broker twice; the ledger's fills, positions and cash are
the broker's; the ledger passes its own invariants, ``check_integrity`` and
SQLite's ``integrity_check``.

The seed is printed (``-s`` shows it); ``INVEST_CRASH_SEED=N`` replays a run.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import random
import signal
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from invest.runtime.domain import money
from invest.runtime.ledger.integrity import check_integrity
from tests.runtime.brokers.exchange import OPEN_STATUSES, FillingAlpaca, serve_filling
from tests.runtime.engine.support import settings
from tests.runtime.engine.test_crash import (
    SESSIONS,
    _check_ledger,
    _sessions,
    _start,
    _wait_until_up,
)

KILLS = 20
ACCOUNT = "daily"
#: The broker's order state -> the ledger's status for it.
LEDGER_STATUS = {"filled": "filled", "expired": "cancelled", "canceled": "cancelled"}


@pytest.fixture(scope="module")
def ctx() -> Iterator[multiprocessing.context.ForkServerContext]:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tests.runtime.engine.crash_child"])
    return context


def _synced_at(path: Path) -> datetime | None:
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as db:
            row = db.execute(
                "SELECT synced_at FROM engine_accounts WHERE account = ?", [ACCOUNT]
            ).fetchone()
    except sqlite3.Error:
        return None
    return datetime.fromisoformat(row[0]) if row and row[0] else None


def _check_against_broker(path: Path, fake: FillingAlpaca) -> dict[str, int]:
    """The ledger of ``daily`` against the fake Alpaca's orders, fills, positions and cash."""
    with fake.lock:
        server = {cid: dict(o) for cid, o in fake.orders.items()}
        duplicates = list(fake.duplicates)
        refused = list(fake.refused)
        positions = dict(fake.positions)
        cash = fake.cash
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        rows = {
            str(c): (str(s), b)
            for c, s, b in db.execute(
                "SELECT client_order_id, status, broker_order_id FROM orders WHERE account = ?",
                [ACCOUNT],
            )
        }
        fills: dict[str, list[tuple[Decimal, Decimal]]] = {}
        for c, q, p in db.execute(
            "SELECT client_order_id, quantity, price FROM fills WHERE account = ? ORDER BY id",
            [ACCOUNT],
        ):
            fills.setdefault(str(c), []).append((Decimal(str(q)), Decimal(str(p))))
        held = {
            str(s): Decimal(str(q))
            for s, q in db.execute(
                "SELECT symbol, quantity FROM positions WHERE account = ?", [ACCOUNT]
            )
        }
        # Recorded before sent: no order reached the broker before its row was committed
        # (reconciliation never had to adopt one), and none recorded was dropped unsent
        # (the broker's own look-up cancels an order it never got; the outbox sends it).
        adopted = db.execute(
            "SELECT client_order_id FROM orders WHERE account = ? AND cycle_id LIKE '%:adopted'",
            [ACCOUNT],
        ).fetchall()
        dropped = db.execute(
            "SELECT json_extract(detail_json, '$.client_order_id') FROM events "
            "WHERE account = ? AND kind = 'order_cancelled' "
            "AND json_extract(detail_json, '$.reason') LIKE 'never reached Alpaca%'",
            [ACCOUNT],
        ).fetchall()
        ledger_cash = Decimal(
            str(
                db.execute(
                    "SELECT cash FROM account_state WHERE account = ?", [ACCOUNT]
                ).fetchone()[0]
            )
        )
    # No order at the broker without its ledger row. No order sent again once the
    # broker had it (Alpaca's 422 would catch it; the outbox must not need that). A
    # refused order (403: no order at the broker) may be sent again by the outbox.
    assert not set(server) - set(rows), sorted(set(server) - set(rows))
    assert not adopted, adopted
    assert not dropped, dropped
    assert not duplicates, duplicates
    # Nothing planned twice: a fill since the last cycle is applied before the next plan
    # (a refusal here was a buy without the cash or a sell of shares already sold).
    assert not refused, refused
    for cid, (status, broker_id) in rows.items():
        order = server.get(cid)
        if order is None:
            # Never reached the broker: refused there, or cancelled before it was sent.
            assert status in ("rejected", "cancelled"), (cid, status)
            continue
        assert broker_id in (None, order["id"]), (cid, broker_id, order["id"])
        want = "submitted" if order["status"] in OPEN_STATUSES else LEDGER_STATUS[order["status"]]
        assert status == want, (cid, status, order["status"])
    assert fills == fake.fills()
    assert held == positions
    assert ledger_cash == cash
    start = money(settings(churn=True, alpaca=True).account(ACCOUNT).cash)
    spent = sum((money(q * p) for f in fills.values() for q, p in f), Decimal(0))
    assert ledger_cash <= start  # the churn account ends invested; cash moved only by fills
    assert spent > 0
    return {"orders_at_broker": len(server), "broker_fills": sum(len(f) for f in fills.values())}


def test_twenty_sigkills_against_a_fake_alpaca_lose_nothing_and_send_nothing_twice(
    ctx: multiprocessing.context.ForkServerContext, home: Path
) -> None:
    seed = int(os.environ.get("INVEST_CRASH_SEED", "20221126"))
    print(f"crash test seed: {seed} (INVEST_CRASH_SEED={seed} replays it)")
    rng = random.Random(seed)
    cash = money(settings(churn=True, alpaca=True).account(ACCOUNT).cash)
    ledger = home / "ledger.sqlite"
    with serve_filling(cash) as fake:
        for n in range(KILLS):
            # Odd runs may die in the send (after the outbox commit, before the answer).
            p = _start(
                ctx,
                home,
                send_kill=0.3 if n % 2 else 0.0,
                seed=rng.randrange(1 << 30),
                alpaca_url=fake.url,
            )
            time.sleep(rng.uniform(0.0, 0.8))
            with contextlib.suppress(ProcessLookupError):  # it may have killed itself already
                os.kill(p.pid, signal.SIGKILL)  # type: ignore[arg-type]
            p.join(10)
            assert p.exitcode == -signal.SIGKILL
            p.close()
        from tests.runtime.engine.crash_child import SEND_KILLS

        marks = home / SEND_KILLS
        in_send = marks.read_text().split() if marks.exists() else []
        assert any(c in fake.orders for c in in_send)  # some died with the order at Alpaca
        final = _start(ctx, home, alpaca_url=fake.url)  # a last clean run, well into the year
        _wait_until_up(home)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _sessions(ledger) < SESSIONS:
            time.sleep(0.2)
        # Stop the fills, then let the engine reconcile once past that point: it must
        # then hold every fill the broker made.
        frozen = fake.freeze()
        while time.monotonic() < deadline and (_synced_at(ledger) or frozen) <= frozen:
            time.sleep(0.1)
        os.kill(final.pid, signal.SIGTERM)  # type: ignore[arg-type]
        final.join(10)
        assert final.exitcode == 0
        final.close()
        synced = _synced_at(ledger)
        assert synced is not None
        assert synced > frozen, (synced, frozen)
        still_open = frozenset(c for c, o in fake.orders.items() if o["status"] in OPEN_STATUSES)
        seen = _check_ledger(ledger, alpaca=True, open_at_broker=still_open)
        seen |= _check_against_broker(ledger, fake)
    assert check_integrity(ledger) == []
    print(f"crash test against the fake Alpaca: {seen}, {len(in_send)} kills in the send")
    assert seen["sessions"] >= SESSIONS, seen
    assert seen["orders_at_broker"] > 10, seen
    assert seen["broker_fills"] > 10, seen
