"""Market context: lagged one session, a stated staleness limit, sources, and the VIX filter."""

from __future__ import annotations

import dataclasses
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from invest.runtime.config import TrendKingParams, parse_config
from invest.runtime.config.context import ContextConfig, VixFilter
from invest.runtime.context import (
    Series,
    build_table,
    context_table,
    load_series,
    resolve_source,
)
from invest.runtime.data.frame import BarFrame
from invest.runtime.data.sample import SampleData, vix
from invest.runtime.domain import AccountState, Regime
from invest.runtime.errors import DataError
from invest.runtime.market import Market
from invest.runtime.regime import threshold_alarm
from invest.runtime.strategies.trend_king import TrendKing

sys.path.insert(0, str(Path(__file__).parent / "adapters"))
import yahoo_support

FIXTURES = Path(__file__).parents[1] / "fixtures" / "context"


def _days(*iso: str) -> np.ndarray:
    return np.array(iso, dtype="datetime64[D]")


SESSIONS = _days("2016-06-08", "2016-06-09", "2016-06-10", "2016-06-13", "2016-06-14", "2016-06-15")


def _vix_only(dates: np.ndarray, values: list[float]) -> dict[str, Series | str]:
    return {"vix": Series(dates, np.array(values)), "us10y": "none here", "dollar": "none here"}


# -- the lag and the staleness limit ---------------------------------------------------


def test_a_day_reads_the_close_of_the_session_before_it_never_its_own() -> None:
    raw = _vix_only(SESSIONS, [11.0, 12.0, 13.0, 14.0, 15.0, 16.0])
    table = build_table(SESSIONS, raw)
    assert np.isnan(table.column("vix")[0])  # nothing before the first day
    assert table.column("vix")[1:].tolist() == [11.0, 12.0, 13.0, 14.0, 15.0]
    ctx = table.at(4)
    assert ctx.day == date(2016, 6, 14)
    assert ctx.vix.text() == "VIX 14.0 (2016-06-13 close)"
    # Changing the close of D itself moves nothing on D, only on D + 1.
    moved = build_table(SESSIONS, _vix_only(SESSIONS, [11.0, 12.0, 13.0, 14.0, 99.0, 16.0]))
    assert moved.column("vix")[4] == 14.0
    assert moved.column("vix")[5] == 99.0


def test_a_close_older_than_the_limit_is_not_carried_forward() -> None:
    sessions = np.arange(np.datetime64("2016-01-04"), np.datetime64("2016-01-04") + 12)
    raw = _vix_only(sessions[:2], [20.0, 21.0])  # the source stops after the 2nd session
    table = build_table(sessions, raw, max_stale=5)
    col = table.column("vix")
    # Row 2 reads row 1's close (1 session old), ..., row 6 reads it 5 sessions old.
    assert col[2:7].tolist() == [21.0] * 5
    assert np.isnan(col[7:]).all()
    assert table.at(7).vix.text() == (
        "VIX: not available (last VIX close 2016-01-05 is more than 5 sessions old)"
    )
    # A longer limit carries it further; the limit is what stops it.
    assert not np.isnan(build_table(sessions, raw, max_stale=8).column("vix")[7:10]).any()


def test_a_series_in_other_units_is_refused_whole() -> None:
    raw = {
        "vix": "x",
        "us10y": Series(SESSIONS, np.array([1.7, 1.6, 17.0, 16.4, 42.5, 41.0])),
        "dollar": "x",
    }
    reading = build_table(SESSIONS, raw).at(5).us10y
    assert not reading.known
    assert "42.5" in reading.reason
    assert "units" in reading.reason


def test_known_readings_format_each_series() -> None:
    raw = {
        "vix": Series(SESSIONS, np.array([18.24] * 6)),
        "us10y": Series(SESSIONS, np.array([1.614] * 6)),
        "dollar": Series(SESSIONS, np.array([94.52] * 6)),
    }
    assert build_table(SESSIONS, raw).at(5).lines() == (
        "VIX 18.2 (2016-06-14 close)",
        "10-year yield 1.61% (2016-06-14 close)",
        "dollar index 94.52 (2016-06-14 close)",
    )


# -- sources -----------------------------------------------------------------------------


def _sample_market(start: str = "2013-06-01", end: str = "2019-06-28") -> Market:
    src = SampleData()
    frame = src.load(src.symbols(), None, None).between(
        date.fromisoformat(start), date.fromisoformat(end)
    )
    return Market(frame)


def _row(market: Market, day: str) -> int:
    t = int(np.searchsorted(market.dates, np.datetime64(day)))
    assert market.iso(t) == day
    return t


def test_the_sample_has_the_vix_where_it_covers_the_dates_and_no_yield_or_dollar() -> None:
    m = _sample_market()
    table = context_table(m)
    assert table is context_table(m)  # built once per Market
    ctx = table.at(_row(m, "2016-06-15"))
    dates, values = vix()
    expected = float(values[dates == np.datetime64("2016-06-14")][0])
    assert ctx.vix.value == expected
    assert ctx.vix.text() == f"VIX {expected:.1f} (2016-06-14 close)"
    assert ctx.us10y.text() == "10-year yield: not available (not bundled with the sample data)"
    assert ctx.dollar.text() == "dollar index: not available (not bundled with the sample data)"
    # Before the bundled VIX starts, and long after it ends: not available, with why.
    assert "no VIX close before 2013-07-01" in table.at(_row(m, "2013-07-01")).vix.reason
    assert "more than 5 sessions old" in table.at(_row(m, "2019-06-28")).vix.reason


def test_auto_follows_the_market_data_so_a_live_account_never_reads_the_sample() -> None:
    assert ContextConfig().source == "auto"
    assert resolve_source("auto", "yfinance") == "yfinance"
    assert resolve_source("auto", "alpaca") == "yfinance"
    assert resolve_source("auto", "cache+yfinance") == "yfinance"
    assert resolve_source("auto", "sample") == "sample"
    assert resolve_source("auto", "csv:/data/bars") == "sample"
    assert resolve_source("csv:/ctx", "yfinance") == "csv:/ctx"  # an explicit source wins
    # On the sample market, auto is the sample: the same table as an explicit "sample".
    m = _sample_market()
    row = _row(m, "2016-06-15")
    auto = context_table(m, ContextConfig()).at(row)
    sample = context_table(m, ContextConfig(source="sample")).at(row)
    for mine, theirs in zip(dataclasses.astuple(auto), dataclasses.astuple(sample), strict=True):
        assert str(mine) == str(theirs)
    assert auto.vix.value == sample.vix.value


def test_a_csv_folder_gives_the_files_it_has(tmp_path: Path) -> None:
    (tmp_path / "VIX.csv").write_text("date,close\n2016-06-13,20.97\n2016-06-14,20.50\n")
    (tmp_path / "DXY.csv").write_text("Date,Close\n2016-06-13,94.52\n2016-06-14,95.08\n")
    raw = load_series(f"csv:{tmp_path}", None, None)
    table = build_table(_days("2016-06-14", "2016-06-15"), raw, source=f"csv:{tmp_path}")
    assert table.at(1).lines() == (
        "VIX 20.5 (2016-06-14 close)",
        f"10-year yield: not available (no US10Y.csv in {tmp_path})",
        "dollar index 95.08 (2016-06-14 close)",
    )


def test_a_csv_source_that_is_not_a_folder_says_so(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a folder"):
        load_series(f"csv:{tmp_path / 'nope'}", None, None)


def _replay() -> yahoo_support.Replay:
    names = {"^VIX": "yahoo_chart_vix.json", "^TNX": "yahoo_chart_tnx.json"}

    def answer(url: str) -> str | Exception:
        for ticker, name in names.items():
            if url.endswith(ticker):
                return f"../context/{name}"
        return ConnectionError(f"no route to {url}")

    return yahoo_support.Replay(answer)


def test_yfinance_series_go_through_the_real_client_and_a_failure_is_not_available() -> None:
    from invest.runtime.adapters.yahoo.context import yahoo_context

    replay = _replay()
    raw = yahoo_context(
        date(2016, 6, 13), date(2016, 6, 16), ticker_factory=yahoo_support.ticker_factory(replay)
    )
    assert any(u.endswith("/v8/finance/chart/^VIX") for u in replay.urls)
    table = build_table(_days("2016-06-14", "2016-06-15", "2016-06-16"), raw, source="yfinance")
    ctx = table.at(1)
    assert ctx.vix.text() == "VIX 20.5 (2016-06-14 close)"
    assert ctx.us10y.text() == "10-year yield 1.61% (2016-06-14 close)"  # Yahoo: percent
    assert not ctx.dollar.known
    assert "Yahoo DX-Y.NYB unavailable" in ctx.dollar.reason
    assert "no price data found" in ctx.dollar.reason  # what yfinance logged


def test_the_dxy_fixture_parses_too() -> None:
    from invest.runtime.adapters.yahoo.context import yahoo_context

    replay = yahoo_support.Replay(lambda url: "../context/yahoo_chart_dxy.json")
    raw = yahoo_context(
        date(2016, 6, 13), date(2016, 6, 16), ticker_factory=yahoo_support.ticker_factory(replay)
    )
    dollar = raw["dollar"]
    assert isinstance(dollar, Series)
    assert dollar.values[dollar.dates == np.datetime64("2016-06-14")].tolist() == [95.08]


# -- config --------------------------------------------------------------------------------


def test_the_context_section_refuses_an_unknown_source() -> None:
    with pytest.raises(
        ValidationError, match=r'context.source must be "auto", "sample", "yfinance"'
    ):
        ContextConfig(source="fred")
    assert parse_config({"context": {"source": "csv:/srv/ctx"}}).context.source == "csv:/srv/ctx"
    assert parse_config({}).context == ContextConfig()


def test_the_vix_filter_needs_exit_below_enter() -> None:
    with pytest.raises(ValidationError, match=r"exit \(30.0\) must be below"):
        VixFilter(enter=30, exit=30)


# -- the VIX filter ------------------------------------------------------------------------


def test_the_alarm_has_hysteresis_and_ignores_unknown_days() -> None:
    nan = float("nan")
    path = np.array([20, 31, 28, 26, nan, 27, 24, 29, 30, 31, 24], dtype=np.float64)
    alarm = threshold_alarm(path, enter=30, exit=25)
    # on above 30; holds through 28, 26, the NaN day and 27; off below 25; 29 and 30
    # (not above) leave it off; 31 sets it; 24 clears it.
    assert alarm.tolist() == [0, 1, 1, 1, 1, 1, 0, 0, 0, 1, 0]


def _universe(m: Market) -> tuple[str, ...]:
    return tuple(s for s in m.symbols if s != "SP500")


def _tk(vix_filter: VixFilter | None, context: ContextConfig | None = None) -> TrendKing:
    return TrendKing(
        TrendKingParams(vix_filter=vix_filter), _universe(_MARKET), "SP500", context=context
    )


_MARKET = _sample_market()
_STATE = AccountState("acct", Decimal(100_000))


def test_the_filter_moves_trend_kings_targets_on_the_sample() -> None:
    off, on = _tk(None), _tk(VixFilter(enter=30, exit=25))
    off.prepare(_MARKET)
    on.prepare(_MARKET)
    # The VIX closed at 37.3 on 2018-02-05 (alarm on), then near 30 on 2018-02-06: above
    # the exit (25), so on 2018-02-07 the alarm still holds (hysteresis).
    t = _row(_MARKET, "2018-02-07")
    before, after = off.propose(t, _STATE), on.propose(t, _STATE)
    assert before.regime is Regime.ATTACK
    assert before.targets
    assert after.regime is Regime.DEFENSE
    assert after.targets == {}
    assert after.notes[-1].startswith("VIX 30.0 (2018-02-06 close)")
    assert after.notes[-1].endswith("filter DEFENSE (enter 30, exit 25)")
    assert after.notes[:-1] == before.notes
    # With the filter off there is no VIX note and nothing else moved anywhere.
    assert all(len(off.propose(i, _STATE).notes) == 1 for i in range(t - 3, t + 3))


def test_where_the_vix_is_unknown_the_filter_does_not_act() -> None:
    off, on = _tk(None), _tk(VixFilter(enter=10.5, exit=10.0))  # would block every known day
    off.prepare(_MARKET)
    on.prepare(_MARKET)
    t = _row(_MARKET, "2019-06-03")  # the bundled VIX ends 2019-01-03
    p = on.propose(t, _STATE)
    assert p.notes[-1] == "VIX filter: no VIX for this day"
    assert p == dataclasses.replace(off.propose(t, _STATE), notes=p.notes)
    assert on.propose(_row(_MARKET, "2016-06-15"), _STATE).regime is Regime.DEFENSE


# -- look-ahead ----------------------------------------------------------------------------

CUT = date(2018, 2, 9)


def _write_vix(folder: Path, dates: np.ndarray, values: np.ndarray) -> None:
    folder.mkdir()
    rows = "".join(f"{d},{v:.4f}\n" for d, v in zip(dates.astype(str), values, strict=True))
    (folder / "VIX.csv").write_text("date,close\n" + rows)


def _decisions(frame: BarFrame, ctx_dir: Path) -> tuple[list[object], np.ndarray, np.ndarray]:
    m = Market(frame)
    tk = TrendKing(
        TrendKingParams(vix_filter=VixFilter(enter=30, exit=25)),
        _universe(m),
        "SP500",
        context=ContextConfig(source=f"csv:{ctx_dir}"),
    )
    tk.prepare(m)
    n = int(np.searchsorted(m.dates, np.datetime64(CUT), side="right"))
    table = context_table(m, tk.context)
    return [tk.propose(t, _STATE) for t in range(n)], table.values[:n], table.asof[:n]


def test_truncated_data_and_a_random_walk_future_give_the_same_decisions(tmp_path: Path) -> None:
    frame = _MARKET.frame
    vd, vv = vix()
    cut = np.datetime64(CUT)
    truncated = frame.between(None, CUT)
    _write_vix(tmp_path / "cut", vd[vd <= cut], vv[vd <= cut])
    # The future: prices and the VIX replaced by seeded random walks (the VIX far above
    # the filter's threshold, so a leak of one day would flip the regime).
    after = frame.dates > cut
    rng = np.random.default_rng(11)
    close = frame.close.copy()
    close[after] = close[~after][-1] * np.exp(
        np.cumsum(rng.normal(0, 0.03, (int(after.sum()), close.shape[1])), axis=0)
    )
    walked = dataclasses.replace(frame, close=close)
    future = vv.copy()
    future[vd > cut] = 60 + np.abs(np.cumsum(rng.normal(0, 3, int((vd > cut).sum()))))
    _write_vix(tmp_path / "walk", vd, future)
    a, values_a, asof_a = _decisions(truncated, tmp_path / "cut")
    b, values_b, asof_b = _decisions(walked, tmp_path / "walk")
    assert len(a) == len(b) > 1000
    assert a == b
    assert np.array_equal(values_a, values_b, equal_nan=True)
    assert np.array_equal(asof_a, asof_b, equal_nan=True)
    # The cut day itself reads the day before's close, and the filter is on there.
    assert a[-1].regime is Regime.DEFENSE  # type: ignore[attr-defined]


@pytest.mark.parametrize("strategy", ["trend_king", "hybrid"])
def test_an_account_hands_the_context_section_to_its_trend_king(
    strategy: str, tmp_path: Path
) -> None:
    from invest.runtime.cycle import AccountRuntime

    settings = parse_config(
        {
            "context": {"source": f"csv:{tmp_path}"},
            "accounts": {
                "a": {
                    "strategy": strategy,
                    "universe": list(_universe(_MARKET)),
                    "trend_king": {"vix_filter": {"enter": 30, "exit": 25}},
                    "rl": {"pack": "default"},
                }
            },
        }
    )
    acct = AccountRuntime.build("a", settings, paper=True)
    tk = acct.strategy if strategy == "trend_king" else acct.strategy.rules  # type: ignore[attr-defined]
    assert tk.context == settings.context
    # An empty csv folder: the filter has no VIX anywhere and says so.
    tk.prepare(_MARKET)
    assert tk.propose(_row(_MARKET, "2018-02-07"), _STATE).notes[-1] == (
        "VIX filter: no VIX for this day"
    )


def test_rows_out_of_order_and_a_repeated_day_are_sorted_and_the_last_kept() -> None:
    dates = _days("2016-06-13", "2016-06-09", "2016-06-10", "2016-06-13")
    raw = _vix_only(dates, [14.0, 12.0, 13.0, 14.5])
    table = build_table(_days("2016-06-10", "2016-06-13", "2016-06-14"), raw)
    assert table.column("vix").tolist() == [12.0, 13.0, 14.5]
