"""Invariants 8 and 9 where prices are used: `invest run` on a CSV with bad rows.

An account on a CSV (real sample closes from 2021) buys its five defensive names
on 2022-06-01; they fill on 2022-06-02. Each test then feeds one more session with
bad input and checks the cycle, the risk engine and the mark: nothing is traded,
stopped or marked at a bad price, the rest of the cycle runs, the account is not
halted, and the record says what was skipped.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from invest.runtime.cli import main
from invest.runtime.data.sample import SampleData
from invest.runtime.domain import HaltState
from invest.runtime.ledger import Ledger
from tests.runtime.conftest import account, columns, engine, make_market, position, relaxed_risk

UNIVERSE = ["AAPL", "AMD", "BAC", "CVX", "HD", "JPM", "LLY", "MRK", "MSFT", "XOM"]
DEFENSIVE = ["JNJ", "KO", "PEP", "PG", "WMT"]
HELD = set(DEFENSIVE)
BOUGHT, FILLED, NEXT, AFTER = "2022-06-01", "2022-06-02", "2022-06-03", "2022-06-06"


def _closes() -> pd.DataFrame:
    frame = SampleData().load([*UNIVERSE, *DEFENSIVE, "SP500"])
    df = pd.DataFrame(
        frame.close, index=pd.Index(frame.dates.astype(str), name="date"), columns=frame.symbols
    )
    return df.loc["2021-01-01":]


class Csv:
    """An INVEST_HOME whose account ``acct`` reads a CSV the test rewrites per session."""

    def __init__(self, home: Path, risk: str = "") -> None:
        self.home = home
        self.path = home / "prices.csv"
        self.closes = _closes()
        config = home / "config.toml"
        config.write_text(
            f"""{risk}
[accounts.acct]
strategy = "trend_king"
universe = {UNIVERSE!r}
schedule = "30 16 * * mon-fri"
cash = 10000
data = "csv:{self.path}"
{'risk = "test"' if risk else ""}
[accounts.acct.trend_king]
top_n = 3
defensive = {DEFENSIVE!r}
""".replace("'", '"')
        )
        os.environ["INVEST_CONFIG"] = str(config)

    def run(self, day: str, edit: Callable[[pd.DataFrame], pd.DataFrame] | None = None) -> None:
        """Write the closes up to ``day`` (``edit`` may change them) and `invest run acct`."""
        df = self.closes.loc[:day].copy()
        (edit(df) if edit else df).to_csv(self.path)
        assert main(["run", "acct"]) == 0

    def ledger(self) -> Ledger:
        return Ledger(self.home / "ledger.sqlite", readonly=True)

    def orders(self, day: str) -> list[tuple[str, str, float, str]]:
        """(symbol, side, ref price, reason) of the orders of the cycle of ``day``."""
        with closing(self.ledger()) as led:
            rows = led.conn.execute(
                "SELECT symbol, side, ref_price, reason FROM orders WHERE cycle_id = ?",
                [f"acct:{day}"],
            ).fetchall()
        return [(r[0], r[1], float(r[2]), r[3]) for r in rows]


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> Csv:
    """The account holding its five defensive names, filled on 2022-06-02."""
    monkeypatch.setenv("INVEST_CONFIG", "")
    csv = Csv(Path(os.environ["INVEST_HOME"]))
    csv.run(BOUGHT)
    csv.run(FILLED)
    with closing(csv.ledger()) as led:
        assert set(led.load_state("acct").positions) == HELD
    return csv


def _set(day: str, **closes: float) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def edit(df: pd.DataFrame) -> pd.DataFrame:
        for sym, x in closes.items():
            df.loc[day, sym] = x
        return df

    return edit


def _equity(csv: Csv) -> dict[str, float]:
    with closing(csv.ledger()) as led:
        return dict(led.equity_curve("acct"))


def _record(csv: Csv, day: str) -> dict[str, object]:
    with closing(csv.ledger()) as led:
        rec = next(r for r in led.decisions("acct", 10) if r["day"] == day)
    return rec


def _halt(csv: Csv) -> HaltState:
    with closing(csv.ledger()) as led:
        return led.load_state("acct").halt


def test_a_negative_close_is_not_sold_at_marked_at_or_halted_on(held: Csv) -> None:
    # PG at -1.0 (today: a stop-loss sell "@~-1.0", equity 19% down, daily-loss halt);
    # WMT really falls 20%: its stop must still fire.
    wmt = float(held.closes.loc[NEXT, "WMT"])
    held.run(NEXT, _set(NEXT, PG=-1.0, WMT=wmt * 0.8))
    orders = held.orders(NEXT)
    assert all(price > 0 for _, _, price, _ in orders), orders
    assert "PG" not in {s for s, *_ in orders}
    assert ("WMT", "sell") in {(s, side) for s, side, _, why in orders if "stop_loss" in why}
    before, now = _equity(held)[FILLED], _equity(held)[NEXT]
    assert now > before * 0.93  # WMT's real 20% fall is ~4% of the book; PG is not -19%
    assert _halt(held) is HaltState.ACTIVE
    skipped = {s["symbol"]: s["reason"] for s in _record(held, NEXT)["skipped"]}  # type: ignore[attr-defined]
    assert "not a positive price" in skipped["PG"]


def test_a_zero_close_does_not_trip_the_drawdown_brake(monkeypatch: pytest.MonkeyPatch) -> None:
    # A brake at -10%: a zero close on a 19% position marked the book 19% down and the
    # brake cut the four other names.
    monkeypatch.setenv("INVEST_CONFIG", "")
    profile = (
        "[risk_profiles.test]\ndrawdown_brake_pct = 0.10\nmin_holding_days = 0\n"
        "rebalance_band = 0.01\n"
    )
    csv = Csv(Path(os.environ["INVEST_HOME"]), risk=profile)
    csv.run(BOUGHT)
    csv.run(FILLED)
    csv.run(NEXT, _set(NEXT, KO=0.0))
    orders = csv.orders(NEXT)
    assert not [o for o in orders if o[1] == "sell"], orders
    rec = _record(csv, NEXT)
    assert "drawdown_brake" not in {c["rule"] for c in rec["clamps"]}  # type: ignore[attr-defined]
    assert _equity(csv)[NEXT] > _equity(csv)[FILLED] * 0.95
    assert _halt(csv) is HaltState.ACTIVE


def test_a_future_dated_row_does_not_stop_later_cycles(held: Csv) -> None:
    def future(df: pd.DataFrame) -> pd.DataFrame:
        df.loc["2999-03-17"] = df.iloc[-1]
        return df

    held.run(NEXT, future)
    with closing(held.ledger()) as led:
        assert led.last_day("acct") == NEXT
    reasons = [s["reason"] for s in _record(held, NEXT)["skipped"]]  # type: ignore[attr-defined]
    assert any("2999-03-17" in r and "after today" in r for r in reasons)
    held.run(AFTER, future)  # the next real session runs and is marked
    with closing(held.ledger()) as led:
        assert led.last_day("acct") == AFTER
    assert AFTER in _equity(held)


def test_a_held_symbol_missing_from_the_data_does_not_stop_the_other_stops(held: Csv) -> None:
    wmt = float(held.closes.loc[NEXT, "WMT"])

    def edit(df: pd.DataFrame) -> pd.DataFrame:
        df.loc[NEXT, "WMT"] = wmt * 0.8
        return df.drop(columns=["PG"])

    held.run(NEXT, edit)  # today: DataError, exit 2, no stop for anything
    orders = held.orders(NEXT)
    assert ("WMT", "sell") in {(s, side) for s, side, _, why in orders if "stop_loss" in why}
    assert "PG" not in {s for s, *_ in orders}
    with closing(held.ledger()) as led:
        assert "PG" in led.load_state("acct").positions
    skipped = {s["symbol"]: s["reason"] for s in _record(held, NEXT)["skipped"]}  # type: ignore[attr-defined]
    assert "not in the data" in skipped["PG"]
    # Valued at its cost, never at 0.
    assert _equity(held)[NEXT] > _equity(held)[FILLED] * 0.93


# -- the same rules at the Market and the risk engine (no CSV: inf cannot be written) ----


def test_the_market_marks_the_last_good_close_over_bad_ones() -> None:
    closes, syms = columns(
        A=[10.0, 11.0, -1.0, 0.0, np.inf, 12.0], B=[np.nan, np.nan, 5.0, 5.5, 6.0, 6.5]
    )
    m = make_market(closes, syms)
    assert [m.price("A", t) for t in range(6)] == [10.0, 11.0, 11.0, 11.0, 11.0, 12.0]
    assert [m.tradable("A", t) for t in range(6)] == [True, True, False, False, False, True]
    assert not m.usable[2:5, 0].any()
    assert np.isnan(m.close[2:5, 0]).all()  # features and fills see a missing bar
    assert m.marks(["A", "B", "Z"], 1) == {"A": 11.0}  # B not listed yet, Z not in the data
    assert "not a finite price" in m.why_unusable("A", 4)


def test_no_stop_fires_on_a_missing_bar_at_the_stale_mark() -> None:
    # The stop was breached at 80 while a sell of A was pending; on the next row A has
    # no bar: today the stop fired at the carried 80, a price that did not trade that day.
    closes, syms = columns(A=[100.0, 90.0, 80.0, np.nan], B=[50.0, 51.0, 52.0, 53.0])
    m = make_market(closes, syms)
    state = account(1000, position("A", 10, 100, m.day(0)), position("B", 10, 60, m.day(0)))
    res = engine(relaxed_risk(stop_loss_pct=0.1)).plan(m, 3, "acct:c", state, None)
    sold = {i.symbol for i in res.intents}
    assert sold == {"B"}  # B's own stop (53 <= 54) still fires
    assert any(c.rule == "data" and c.symbol == "A" for c in res.clamps)
    assert res.equity == pytest.approx(1000 + 10 * 80 + 10 * 53)


# -- backtests over data with validation errors -----------------------------------


def _bad_csv(tmp_path: Path) -> Path:
    df = _closes()[["AAPL", "MSFT", "SP500"]].copy()
    df.loc["2022-03-01", "AAPL"] = -1.0
    df.loc["2022-03-02", "MSFT"] = 0.0
    path = tmp_path / "bad.csv"
    df.to_csv(path)
    return path


def test_a_backtest_on_bad_data_says_so_before_the_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _bad_csv(tmp_path)
    args = ["backtest", "--data", f"csv:{path}", "--universe", "AAPL,MSFT", "--start", "2022-01-03"]
    assert main(args) == 0
    text = capsys.readouterr().out
    warn = text.index("validation error(s)")
    assert "non_positive: 2 (AAPL 2022-03-01: close -1" in text
    assert warn < text.index("against both benchmarks")


def test_backtest_strict_refuses_bad_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _bad_csv(tmp_path)
    args = ["backtest", "--data", f"csv:{path}", "--universe", "AAPL,MSFT", "--strict"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "--strict" in err
    assert "non_positive 2" in err
