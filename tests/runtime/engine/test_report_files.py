"""The engine keeps each account's daily report in INVEST_HOME/reports/daily/<day>/."""

from __future__ import annotations

import logging
import sys
from contextlib import closing
from datetime import date
from pathlib import Path

import pytest

from invest.runtime.clock import FixedClock
from invest.runtime.engine import report_files
from invest.runtime.ledger import reads
from invest.runtime.reports import daily
from invest.runtime.reports.charts import MISSING_EXTRA
from tests.runtime.engine.support import drive, make_engine, ny
from tests.runtime.reports.page_parse import parse

pytest.importorskip("matplotlib")

ACCOUNTS = {"daily": "SPY", "weekly": "SPY"}


@pytest.fixture(scope="module")
def engine_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four sessions of the two-account engine on the sample; its reports written as it went."""
    home = tmp_path_factory.mktemp("eng")
    clock = FixedClock(ny("2022-06-01", "08:00"))
    engine, _events = make_engine(home, clock)
    drive(engine, clock, ny("2022-06-06", "18:00"))
    engine.shutdown()
    return home


def test_the_report_job_writes_a_page_and_a_png_per_account_per_session(
    engine_home: Path,
) -> None:
    root = engine_home / "reports" / "daily"
    both = ["daily.html", "daily.png", "weekly.html", "weekly.png"]
    found = {d.name: sorted(p.name for p in d.iterdir()) for d in root.iterdir()}
    assert found == {
        # The opening rows are on 05-31; on 06-01 only ``daily`` (it trades every session)
        # has a second row when the report goes, so ``weekly`` has no page yet (logged).
        "2022-06-01": ["daily.html", "daily.png"],
        "2022-06-02": both,
        "2022-06-03": both,
        "2022-06-06": both,
    }
    for day in root.iterdir():
        assert (day / "daily.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_page_shows_the_ledger_s_day(engine_home: Path) -> None:
    page = (engine_home / "reports/daily/2022-06-06/daily.html").read_text(encoding="utf-8")
    p = parse(page)
    assert list(p.charts) == ["equity"]
    with closing(reads.connect_readonly(engine_home / "ledger.sqlite")) as conn:
        curve = dict(reads.equity_curve(conn, "daily"))
        fills = [f for f in reads.trade_fills(conn, "daily") if f.day == date(2022, 6, 6)]
    assert f"equity {curve['2022-06-06']:,.2f}" in "".join(p.text)
    rows = p.tables.get("fills", [])[1:]
    assert [r[0] for r in rows] == [f.symbol for f in fills]
    assert "2022-06-06 daily" in "".join(p.text)  # the day's explanation record


def test_the_pages_read_what_the_ledger_holds_on_that_day(engine_home: Path) -> None:
    with closing(reads.connect_readonly(engine_home / "ledger.sqlite")) as conn:
        early = report_files.account_page(conn, "daily", "SPY", date(2022, 6, 2), None)
        late = report_files.account_page(conn, "daily", "SPY", date(2022, 6, 6), None)
    assert early.days[-1] == date(2022, 6, 2)
    assert late.days[-1] == date(2022, 6, 6)
    assert all(f.day == date(2022, 6, 6) for f in late.fills)
    assert all(r["day"] == "2022-06-06" for r in late.records)
    assert late.records


def test_without_matplotlib_nothing_is_written_and_one_line_says_how(
    engine_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    caplog.set_level(logging.INFO, logger="invest.runtime.engine.engine")
    with closing(reads.connect_readonly(engine_home / "ledger.sqlite")) as conn:
        written = report_files.write_daily_files(conn, tmp_path, ACCOUNTS, date(2022, 6, 6))
    assert written == []
    assert list(tmp_path.iterdir()) == []
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [f"daily report pages not written: {MISSING_EXTRA}"]


def test_a_page_that_fails_is_logged_and_the_others_are_written(
    engine_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    real = daily.page_html

    def broken(p: daily.DailyPage) -> str:
        if p.account == "daily":
            raise RuntimeError("disk on fire")
        return real(p)

    monkeypatch.setattr(daily, "page_html", broken)
    with closing(reads.connect_readonly(engine_home / "ledger.sqlite")) as conn:
        written = report_files.write_daily_files(conn, tmp_path, ACCOUNTS, date(2022, 6, 6))
    assert written == [tmp_path / "daily/2022-06-06/weekly.html"]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        "daily report page of daily on 2022-06-06 not written"
    ]


def test_old_day_folders_are_pruned_after_writing(engine_home: Path, tmp_path: Path) -> None:
    for old in ("2022-05-30", "2022-05-31"):
        (tmp_path / "daily" / old).mkdir(parents=True)
    with closing(reads.connect_readonly(engine_home / "ledger.sqlite")) as conn:
        report_files.write_daily_files(conn, tmp_path, ACCOUNTS, date(2022, 6, 6), keep=2)
    assert sorted(p.name for p in (tmp_path / "daily").iterdir()) == ["2022-05-31", "2022-06-06"]
