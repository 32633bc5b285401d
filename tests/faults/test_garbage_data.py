"""Fault: a data source returning garbage (invariants 8 and 9).

The account holds five names bought on the sample's last bar and filled on a copy
of it. The next session's CSV row is garbage: a negative close, a missing one, a
zero, one held symbol's column gone, and a row dated 2999; one held name really
falls 30%. `invest run` (a child process) must end with exit 0, the ledger intact,
no order at a bad price, the real stop sent, the session marked, and the skipped
symbols named in the record.
"""

from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
import pytest

from invest.runtime.cli import main
from invest.runtime.data.sample import SampleData
from invest.runtime.domain import HaltState
from invest.runtime.ledger import Ledger
from invest.runtime.ledger.integrity import check_integrity
from tests.faults.conftest import ACCOUNT, FaultHome

FILL, GARBAGE = "2022-12-29", "2022-12-30"


def _sample() -> pd.DataFrame:
    src = SampleData()
    frame = src.load(src.symbols())
    df = pd.DataFrame(
        frame.close, index=pd.Index(frame.dates.astype(str), name="date"), columns=frame.symbols
    )
    df = df.loc["2021-01-01":]
    df.loc[FILL] = df.iloc[-1]  # the orders of the last bar fill here
    return df


def test_garbage_from_the_data_source_skips_the_bad_symbols_and_runs_the_rest(
    fault_home: FaultHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["run", ACCOUNT]) == 0  # on the sample's last bar: buys its defensive names
    csv = fault_home.home / "prices.csv"
    monkeypatch.setenv("INVEST__ENGINE__DATA", f"csv:{csv}")
    df = _sample()
    df.to_csv(csv)
    assert main(["run", ACCOUNT]) == 0  # fills
    held = set(Ledger(fault_home.ledger, readonly=True).load_state(ACCOUNT).positions)
    assert held == {"JNJ", "KO", "PEP", "PG", "WMT"}

    row = df.iloc[-1].copy()
    row["JNJ"], row["KO"], row["PEP"], row["AAPL"] = -5.0, np.nan, 0.0, -3.0
    row["WMT"] = row["WMT"] * 0.7  # a real fall past the 10% stop
    df.loc[GARBAGE] = row
    df.loc["2999-01-04"] = df.loc[FILL]
    df.drop(columns=["PG"]).to_csv(csv)
    before = fault_home.counts()
    proc = fault_home.child("plain", "run", ACCOUNT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr

    assert check_integrity(fault_home.ledger) == []
    with sqlite3.connect(f"file:{fault_home.ledger}?mode=ro", uri=True) as conn:
        orders = conn.execute(
            "SELECT symbol, side, ref_price, reason FROM orders WHERE cycle_id = ?",
            [f"{ACCOUNT}:{GARBAGE}"],
        ).fetchall()
    assert all(float(price) > 0 for _, _, price, _ in orders), orders
    assert not {s for s, *_ in orders} & {"JNJ", "KO", "PEP", "PG", "AAPL"}, orders
    assert ("WMT", "sell") in {(s, side) for s, side, _, why in orders if "stop_loss" in why}
    after = fault_home.counts()
    assert after["equity"] == before["equity"] + 1  # the garbage session is marked, once

    ledger = Ledger(fault_home.ledger, readonly=True)
    assert ledger.last_day(ACCOUNT) == GARBAGE  # not 2999-01-04
    state = ledger.load_state(ACCOUNT)
    assert state.halt is HaltState.ACTIVE
    curve = dict(ledger.equity_curve(ACCOUNT))
    assert curve[GARBAGE] > curve[FILL] * 0.9  # WMT's fall only; nothing marked at <= 0
    rec = ledger.decisions(ACCOUNT, 1)[0]
    skipped = {s["symbol"]: s["reason"] for s in rec["skipped"]}
    assert {"JNJ", "KO", "PEP", "PG"} <= set(skipped)
    assert any("2999-01-04" in r for r in skipped.values())
