"""Marks in the options cycle: the record's "positions" block and the ledger's option_marks."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from invest.runtime.backtest.options_runner import modelled_account, options_market
from invest.runtime.cycle import MemorySink
from invest.runtime.data.sample import SampleData
from invest.runtime.ledger import Ledger, reads
from invest.runtime.ledger.schema import MARKS_SCHEMA, MIGRATIONS
from invest.runtime.market import Market
from invest.runtime.options.marks import OptionMark
from invest.runtime.options_cycle import OptionsAccount, run_options_session

from ..options_ledger_support import END, build_options_ledger
from .fake_strategies import MiniWheel
from .test_options_cycle import START, settings

DEMO = Path(__file__).parents[2] / "fixtures" / "ledger" / "demo.sqlite"


class MarksKept(MemorySink):
    """A memory sink that keeps every session's marks (a ledger sink's stand-in)."""

    def __init__(self) -> None:
        super().__init__()
        self.marks: dict[date, list[OptionMark]] = {}

    @property
    def keeps_marks(self) -> bool:
        return True

    def option_marks(self, account: str, day: date, marks: object) -> None:
        assert isinstance(marks, list)
        self.marks[day] = marks


@pytest.fixture(scope="module")
def market() -> Market:
    return options_market(SampleData(), settings(), "w", date(2016, 6, 30))


def _run(acct: OptionsAccount, market: Market, sink: MemorySink) -> None:
    for t in range(market.frame.row_from(START), len(market)):
        run_options_session(acct, market, t, sink, cycle=market.day(t).weekday() == 0)


def test_each_session_marks_every_open_position_and_the_record_carries_them(
    market: Market,
) -> None:
    acct = modelled_account("w", settings(), market, strategy=MiniWheel())
    sink = MarksKept()
    _run(acct, market, sink)
    assert len(sink.marks) == len(market) - market.frame.row_from(START)
    held = [ms for ms in sink.marks.values() if ms]
    assert len(held) > 50
    for ms in held:
        assert all(m.priced and m.value is not None and m.delta is not None for m in ms)
        assert all(m.dte >= 0 for m in ms)
    # the record of a day has the same positions as the sink's marks of that day
    for rec in sink.decisions:
        got = {p["position_id"] for p in rec["positions"]}
        assert got == {m.position_id for m in sink.marks[date.fromisoformat(rec["day"])]}
    # the last day: the marks are exactly the book's open positions
    last = sink.marks[market.day(len(market) - 1)]
    assert {m.position_id for m in last} == {p.id for p in acct.book.open_positions()}


def test_a_sink_without_marks_still_runs_and_its_records_have_them(market: Market) -> None:
    acct = modelled_account("w", settings(), market, strategy=MiniWheel())
    sink = MemorySink()
    assert not sink.keeps_marks
    _run(acct, market, sink)
    assert any(rec["positions"] for rec in sink.decisions)
    assert MemorySink(MarksKept()).keeps_marks


@pytest.fixture(scope="module")
def options_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("opt") / "ledger.sqlite"
    build_options_ledger(path)
    return path


def test_the_ledger_keeps_the_latest_marks_of_the_open_positions_only(
    options_ledger: Path,
) -> None:
    led = Ledger(options_ledger, readonly=True)
    try:
        marks = reads.option_marks(led.conn)
        open_ids = {p.id for p in reads.option_positions(led.conn)}
        assert {m.position_id for m in marks} == open_ids
        assert len(open_ids) >= 2
        assert {m.day for m in marks} == {END.isoformat()}
        assert {m.account for m in marks} == {"wheel-weekly", "spreads-weekly"}
        assert [m.position_id for m in reads.option_marks(led.conn, "wheel-weekly")] == [
            m.position_id for m in marks if m.account == "wheel-weekly"
        ]
        for m in marks:
            assert m.value is not None
            assert m.unrealised is not None
            assert m.theta is not None
            assert m.nearest is not None
            rules = {t.rule for t in m.triggers}
            assert "take_profit" in rules
            assert ("auto_close" in rules) == (m.kind != "cash_secured_put")
        # the record of the last session (the spread's monitor exit) has the same marks
        (rec,) = [r for r in led.decisions("spreads-weekly") if r["day"] == END.isoformat()]
        spread = next(m for m in marks if m.account == "spreads-weekly")
        (p,) = [p for p in rec["positions"] if p["position_id"] == spread.position_id]
        assert p["value"] == pytest.approx(spread.value, abs=0.01)
        assert p["triggers"][0]["rule"] == spread.triggers[0].rule
    finally:
        led.close()


def test_an_older_ledger_migrates_to_the_marks_and_reads_none_before(tmp_path: Path) -> None:
    old = tmp_path / "old.sqlite"
    shutil.copy(DEMO, old)
    with sqlite3.connect(old) as conn:
        conn.execute("DROP TABLE IF EXISTS option_marks")
        conn.execute(f"PRAGMA user_version={MARKS_SCHEMA - 1}")
    ro = Ledger(old, readonly=True)
    try:
        assert reads.option_marks(ro.conn) == []
    finally:
        ro.close()
    led = Ledger(old)
    try:
        assert led.conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert reads.option_marks(led.conn) == []
    finally:
        led.close()
