"""Fault case: the LLM endpoint is down while a held name falls through its stop.

The real engine (jobs, monitors, the gate built from the account's ``oracle`` config)
runs on a ledger that holds positions; the LLM's port refuses connections. The stop
must sell without waiting for the LLM, new buys follow ``on_unavailable = "block"``,
and the ledger passes its integrity check afterwards.
"""

from __future__ import annotations

import json
import socket
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from invest.runtime.clock import FixedClock
from invest.runtime.config import parse_config
from invest.runtime.data.frame import BarFrame
from invest.runtime.data.sample import SampleData
from invest.runtime.ledger import Ledger
from invest.runtime.ledger.integrity import check_integrity
from tests.runtime.engine.support import config_dict, drive, make_engine, ny

CRASH_DAY = np.datetime64("2021-10-18")


def _refused_port() -> int:
    """A loopback port with nothing listening: connections are refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class CrashingData:
    """The sample, with ``victim`` 40% lower from :data:`CRASH_DAY` on."""

    name = "sample"

    def __init__(self, victim: str) -> None:
        self.inner = SampleData()
        self.victim = victim

    def symbols(self) -> tuple[str, ...]:
        return self.inner.symbols()

    def load(self, symbols: Any, start: date | None = None, end: date | None = None) -> BarFrame:
        bars = self.inner.load(symbols, start, end)
        close = bars.close.copy()
        rows = bars.dates >= CRASH_DAY
        close[rows, list(bars.symbols).index(self.victim)] *= 0.6
        return replace(bars, close=close, open=None, high=None, low=None)


def test_with_the_llm_down_a_stop_still_sells_and_no_new_buy_goes_out(tmp_path: Path) -> None:
    clock = FixedClock(ny("2021-10-01", "08:00"))
    engine, _ = make_engine(tmp_path, clock)  # two weeks without an oracle: "daily" buys
    drive(engine, clock, ny("2021-10-15", "18:00"))
    engine.shutdown()
    ledger = Ledger(tmp_path / "ledger.sqlite", readonly=True)
    held = sorted(ledger.load_state("daily").positions)
    orders_before = ledger.conn.execute(
        "SELECT count(*) FROM orders WHERE account = 'daily'"
    ).fetchone()[0]
    ledger.close()
    assert held, "the two weeks left daily without positions"
    victim = held[0]

    data = config_dict()
    data["accounts"]["daily"]["oracle"] = {
        "base_url": f"http://127.0.0.1:{_refused_port()}/v1",
        "max_retries": 0,
        "connect_timeout_s": 1.0,
        "on_unavailable": "block",
    }
    engine, _ = make_engine(
        tmp_path, clock, cfg=parse_config(data, "test"), sources=lambda spec: CrashingData(victim)
    )
    drive(engine, clock, ny("2021-10-22", "18:00"))
    engine.shutdown()

    ledger = Ledger(tmp_path / "ledger.sqlite", readonly=True)
    try:
        new = ledger.conn.execute(
            "SELECT symbol, side, reason FROM orders WHERE account = 'daily' "
            "ORDER BY rowid LIMIT -1 OFFSET ?",
            [orders_before],
        ).fetchall()
        vetoed = [
            json.loads(r[0])
            for r in ledger.conn.execute(
                "SELECT record_json FROM decisions WHERE account = 'daily' AND day >= '2021-10-18'"
            )
        ]
        state = ledger.load_state("daily")
    finally:
        ledger.close()
    stops = [o for o in new if o[0] == victim and o[1] == "sell"]
    assert stops, new
    assert stops[0][2].startswith("stop_loss"), stops
    assert victim not in state.positions  # the stop filled: the LLM never held it up
    assert [o for o in new if o[1] == "buy"] == []  # fail-closed: no buy while it is down
    # The strategy did want to buy (the stop freed cash): the gate, unable to answer, vetoed.
    clamps = [c for rec in vetoed for c in rec["clamps"] if c["rule"] == "llm_veto"]
    assert clamps, "no buy was proposed: the fail-closed policy was not exercised"
    assert all(rec["llm"]["status"] == "abstained" for rec in vetoed if rec["llm"])
    assert check_integrity(tmp_path / "ledger.sqlite") == []
