"""The reports' chart data: equity and the period's fills from the ledger, the benchmark from
data already on the box (the bundled sample, a CSV source, the bar cache), never a provider."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from invest.runtime.config.load import load_config
from invest.runtime.data import CACHE_FILE, BarCache, open_source
from invest.runtime.events import AccountReport, DailyReport, WeeklySummary
from invest.runtime.notify.curves import ledger_curves, offline_benchmark, report_period
from invest.runtime.paths import Paths, example_config

FIXTURE = Path(__file__).parents[2] / "fixtures" / "ledger" / "demo.sqlite"
AT = datetime(2022, 10, 10, 22, tzinfo=UTC)
MONDAY = date(2022, 10, 10)
ACCOUNTS = tuple(
    AccountReport(name, 10000.0, 0.0, 0.0, 0, 0, "ACTIVE")
    for name in ("defensive-weekly", "trend-daily")
)


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    shutil.copyfile(FIXTURE, tmp_path / "ledger.sqlite")
    return Paths(example_config(), "test", tmp_path, "test")


def settings_with(data: str | None):
    settings = load_config(example_config())
    if data is None:
        return settings
    accounts = {k: v.model_copy(update={"data": data}) for k, v in settings.accounts.items()}
    return settings.model_copy(update={"accounts": accounts})


def test_a_daily_report_marks_the_fills_of_its_session_only(paths: Paths) -> None:
    source = ledger_curves(paths.ledger, days=60)
    data = source(DailyReport(at=AT, day=MONDAY, accounts=ACCOUNTS))
    assert [c.account for c in data.curves] == ["defensive-weekly", "trend-daily"]
    assert all(len(c.days) == 60 for c in data.curves)
    assert sorted((t.account, t.symbol, t.side, t.day) for t in data.trades) == [
        ("defensive-weekly", s, "sell", MONDAY) for s in ("JNJ", "PEP", "WMT")
    ]
    day_before = source(DailyReport(at=AT, day=date(2022, 10, 7), accounts=ACCOUNTS))
    assert day_before.trades == ()


def test_a_weekly_summary_marks_the_fills_of_its_iso_week(paths: Paths) -> None:
    friday = date(2022, 10, 14)
    week = WeeklySummary(at=AT, week_ending=friday, accounts=ACCOUNTS)
    assert report_period(week) == (MONDAY, friday)
    data = ledger_curves(paths.ledger)(week)
    assert {t.day for t in data.trades} == {MONDAY}


def test_the_benchmark_comes_from_the_bundled_sample_on_the_accounts_days(paths: Paths) -> None:
    source = ledger_curves(
        paths.ledger, days=60, benchmark=offline_benchmark(settings_with(None), paths)
    )
    data = source(DailyReport(at=AT, day=MONDAY, accounts=ACCOUNTS))
    assert data.benchmark is not None
    assert data.benchmark.symbol == "SP500"
    first, last = data.curves[0].days[0], data.curves[0].days[-1]
    frame = open_source("sample").load(["SP500"], first, last)
    assert list(data.benchmark.closes) == [float(x) for x in frame.close[:, 0]]
    assert data.benchmark.days[0] == first
    assert data.benchmark.days[-1] == last


def test_a_csv_source_without_the_benchmark_gives_no_closes(paths: Paths, tmp_path: Path) -> None:
    csv = tmp_path / "prices.csv"
    csv.write_text("date,AAPL\n2022-10-06,140\n2022-10-07,141\n2022-10-10,142\n")
    bench = offline_benchmark(settings_with(f"csv:{csv}"), paths)
    got = bench("trend-daily", date(2022, 10, 6), MONDAY)
    assert got is not None
    assert (got.symbol, got.closes) == ("SP500", ())
    assert bench("no-such-account", date(2022, 10, 6), MONDAY) is None
    csv.write_text("date,AAPL,SP500\n2022-10-06,140,3744.5\n2022-10-07,141,3639.7\n")
    with_it = bench("trend-daily", date(2022, 10, 6), MONDAY)
    assert with_it is not None
    assert with_it.closes == (3744.5, 3639.7)


def test_an_online_source_is_read_from_the_bar_cache_only(paths: Paths) -> None:
    bench = offline_benchmark(settings_with("yfinance"), paths)
    empty = bench("trend-daily", date(2022, 10, 6), MONDAY)
    assert empty is not None
    assert empty.closes == ()  # no cache file: n/a, and no provider was called
    assert not (paths.cache / CACHE_FILE).exists()  # nor was one created
    paths.cache.mkdir(parents=True)
    with BarCache(paths.cache / CACHE_FILE) as cache:
        cache.store(
            "yfinance",
            "SP500",
            [
                ("2022-10-07", None, None, None, 3639.66, None, True),
                ("2022-10-10", None, None, None, 3612.39, None, True),
            ],
        )
    got = bench("trend-daily", date(2022, 10, 6), MONDAY)
    assert got is not None
    assert got.days == (date(2022, 10, 7), MONDAY)
    assert got.closes == (3639.66, 3612.39)
