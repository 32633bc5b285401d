"""Robustness: noisy replays, block bootstrap, the crash stress test, crisis replays, the command."""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from invest.runtime.backtest.metrics import daily_returns
from invest.runtime.backtest.robustness import (
    CRISES,
    PATH_COLUMNS,
    BootstrapKind,
    Crisis,
    Job,
    NoiseKind,
    block_bootstrap,
    bootstrap_indices,
    chunks,
    crash_frame,
    crisis_replays,
    default_window,
    exposure,
    monte_carlo,
    noise_factors,
    noisy_frame,
    path_row,
    stress_test,
    summarise,
    warmed,
)
from invest.runtime.backtest.runner import BacktestResult
from invest.runtime.config import Settings, parse_config
from invest.runtime.data.frame import BarFrame
from invest.runtime.data.sample import SampleData
from invest.runtime.paths import Paths
from invest.runtime.robustness_cli import add_robustness_command

START, END = date(2021, 1, 4), date(2021, 12, 31)


@pytest.fixture(scope="module")
def settings() -> Settings:
    universe = [s for s in SampleData().symbols() if s != "SP500"]
    return parse_config({"accounts": {"tk": {"universe": universe}}})


@pytest.fixture(scope="module")
def job(settings: Settings) -> Job:
    return Job("tk", settings, START)


@pytest.fixture(scope="module")
def history(job: Job) -> BarFrame:
    """The whole sample for the account (crises read it all)."""
    return SampleData().load(job.runtime().symbols())


@pytest.fixture(scope="module")
def window(history: BarFrame) -> BarFrame:
    """History up to the end of the 2021 test window (everything before warms up)."""
    return history.between(None, END)


@pytest.fixture(scope="module")
def baseline(job: Job, window: BarFrame) -> BacktestResult:
    return job.replay(window)


def _ohlc(n: int = 50, k: int = 3) -> BarFrame:
    close = 100 + np.arange(n * k, dtype=np.float64).reshape(n, k)
    dates = np.busday_offset(np.datetime64("2022-01-03"), np.arange(n), roll="forward")
    return BarFrame(
        dates=dates.astype("datetime64[D]"),
        symbols=tuple(f"S{j}" for j in range(k)),
        close=close,
        open=close - 0.5,
        high=close + 1,
        low=close - 1,
        volume=np.full((n, k), 1e6),
    )


# ---------------------------------------------------------------------------- noise


@pytest.mark.parametrize("kind", ["uniform", "normal"])
def test_noise_is_reproducible_for_a_seed_and_bounded_by_a_tenth_of_a_percent(
    kind: NoiseKind,
) -> None:
    a = noise_factors((500, 20), seed=7, path=3, kind=kind)
    assert np.array_equal(a, noise_factors((500, 20), seed=7, path=3, kind=kind))
    assert not np.array_equal(a, noise_factors((500, 20), seed=7, path=4, kind=kind))
    assert not np.array_equal(a, noise_factors((500, 20), seed=8, path=3, kind=kind))
    assert np.all(np.abs(a - 1) <= 0.001 + 1e-12)  # up to float rounding of 1 + e
    assert np.abs(a - 1).max() > 0.0009  # the bound is reached, not just respected
    assert abs(float(np.mean(a - 1))) < 1e-4  # centred


def test_noise_moves_open_high_low_and_close_by_the_same_factor_and_leaves_volume() -> None:
    frame = _ohlc()
    noisy = noisy_frame(frame, seed=1, path=0)
    f = noise_factors(frame.close.shape, seed=1, path=0)
    for name in ("close", "open", "high", "low"):
        np.testing.assert_allclose(getattr(noisy, name), getattr(frame, name) * f, rtol=0)
    assert noisy.volume is frame.volume
    assert noisy.high is not None
    assert noisy.low is not None
    assert np.all(noisy.high >= noisy.close)
    assert np.all(noisy.low <= noisy.close)


def test_zero_noise_reproduces_the_baseline_exactly(
    job: Job, window: BarFrame, baseline: BacktestResult
) -> None:
    still = job.replay(noisy_frame(window, seed=3, path=0, amplitude=0.0))
    np.testing.assert_array_equal(still.equity, baseline.equity)
    assert still.decisions == baseline.decisions
    mc = monte_carlo(job, window, paths=2, seed=3, amplitude=0.0, workers=1)
    assert np.array_equal(mc.table[0], np.array(path_row(baseline)), equal_nan=True)
    assert np.array_equal(mc.table[1], mc.table[0], equal_nan=True)


def test_a_path_is_the_same_whatever_the_number_of_workers(job: Job, window: BarFrame) -> None:
    one = monte_carlo(job, window, paths=4, seed=11, workers=1)
    two = monte_carlo(job, window, paths=4, seed=11, workers=2)
    assert two.workers == 2
    np.testing.assert_array_equal(one.table, two.table)
    assert len(np.unique(one.column("total_return"))) == 4  # each path has its own noise


def test_paths_warm_up_on_a_cut_of_history_only_when_it_changes_no_decision(
    job: Job, window: BarFrame, baseline: BacktestResult
) -> None:
    cut, warmup = warmed(job, window)
    assert warmup == 756
    assert len(cut) == 756 + len(baseline.days)
    assert cut.day(756) == baseline.days[0]
    again = job.replay(cut)
    np.testing.assert_array_equal(again.equity, baseline.equity)
    assert again.fills == baseline.fills
    # Ten sessions cannot warm up a 200-day regime filter: decisions change, so the
    # paths keep the whole history.
    whole, none = warmed(job, window, sessions=10)
    assert none is None
    assert whole is window
    # A window that starts within the warm-up has nothing to cut.
    early = Job("tk", job.settings, window.day(100))
    assert warmed(early, window) == (window, None)


def test_paths_are_chunked_for_balance_and_all_covered() -> None:
    parts = chunks(1000, 2)
    assert [p for part in parts for p in part] == list(range(1000))
    assert max(len(p) for p in parts) <= 25
    assert chunks(3, 8) == [range(0, 1), range(1, 2), range(2, 3)]


# ---------------------------------------------------------------------------- bootstrap


@pytest.mark.parametrize("kind", ["fixed", "stationary"])
def test_block_bootstrap_preserves_the_mean_approximately_and_is_seeded(
    kind: BootstrapKind, baseline: BacktestResult
) -> None:
    rets = daily_returns(baseline.equity)
    rng = np.random.default_rng(0)
    idx = bootstrap_indices(len(rets), 2000, 21, rng, kind)
    assert idx.shape == (2000, len(rets))
    assert abs(float(rets[idx].mean()) - float(rets.mean())) < 0.1 * float(rets.std())
    a = block_bootstrap(rets, paths=300, block=21, seed=5, kind=kind)
    b = block_bootstrap(rets, paths=300, block=21, seed=5, kind=kind)
    c = block_bootstrap(rets, paths=300, block=21, seed=6, kind=kind)
    np.testing.assert_array_equal(a.table, b.table)
    assert not np.array_equal(a.table, c.table)
    assert a.summary.paths == 300


def test_fixed_blocks_are_runs_of_consecutive_sessions() -> None:
    idx = bootstrap_indices(100, 5, 10, np.random.default_rng(1), "fixed")
    steps = np.diff(idx, axis=1) % 100
    # Inside a block every step is +1 (wrapping); a new block may start every 10 positions.
    inside = np.ones(99, dtype=bool)
    inside[9::10] = False
    assert np.all(steps[:, inside] == 1)


def test_stationary_blocks_have_the_requested_mean_length() -> None:
    idx = bootstrap_indices(5000, 20, 21, np.random.default_rng(2), "stationary")
    breaks = np.mean(np.diff(idx, axis=1) % 5000 != 1)
    assert 1 / breaks == pytest.approx(21, rel=0.1)


def test_bootstrap_statistics_match_the_backtest_metrics(baseline: BacktestResult) -> None:
    # One "resample" that is the series itself gives the baseline's own figures.
    rets = daily_returns(baseline.equity)
    from invest.runtime.backtest.robustness import path_stats

    total, sharpe, mdd = path_stats(rets[None, :])
    m = baseline.metrics
    assert total[0] == pytest.approx(m.total_return)
    assert sharpe[0] == pytest.approx(m.sharpe)
    assert mdd[0] == pytest.approx(m.max_drawdown)


# ---------------------------------------------------------------------------- verdict


def test_the_overfit_flag_triggers_when_more_than_five_percent_of_paths_lose() -> None:
    ok = np.linspace(0.01, 1.0, 100)
    five = ok.copy()
    five[:5] = -0.1
    six = ok.copy()
    six[:6] = -0.1
    zeros = np.zeros(100)
    assert not summarise(ok, zeros, zeros).overfit
    assert summarise(five, zeros, zeros).losing_share == pytest.approx(0.05)
    assert not summarise(five, zeros, zeros).overfit
    s = summarise(six, zeros, zeros)
    assert s.overfit
    assert s.losing_share == pytest.approx(0.06)
    assert s.total_return.p5 < s.total_return.median < s.total_return.p95


# ---------------------------------------------------------------------------- stress


def test_the_crash_scales_every_later_price_by_0_8() -> None:
    frame = _ohlc()
    hit = crash_frame(frame, 20)
    for name in ("close", "open", "high", "low"):
        before, after = getattr(frame, name), getattr(hit, name)
        np.testing.assert_array_equal(after[:20], before[:20])
        np.testing.assert_allclose(after[20:], before[20:] * 0.8)
    assert hit.volume is frame.volume


def test_the_crash_day_defaults_to_an_invested_session_after_the_middle(
    job: Job, window: BarFrame, baseline: BacktestResult
) -> None:
    res, _ = stress_test(job, window, baseline)
    i = baseline.days.index(res.crash_day)
    assert i >= len(baseline.days) // 2
    assert exposure(baseline)[i] > 0.5
    assert res.exposure_before > 0.5


def test_a_strategy_with_a_stop_loss_exits_after_the_crash(
    job: Job, window: BarFrame, baseline: BacktestResult
) -> None:
    res, hit = stress_test(job, window, baseline, sessions=5)
    day = res.crash_day.isoformat()
    assert res.index_return < -0.15  # the index fell with everything else
    assert res.crash_day_loss < 0
    assert res.stop_losses, "no stop-loss fired after a -20% crash"
    clamps = [c for d in hit.decisions if d["day"] >= day for c in d["clamps"]]
    assert any(c["rule"] == "stop_loss" for c in clamps)
    assert any(f.reason.startswith("stop_loss") and f.day > res.crash_day for f in hit.fills)
    assert res.regime_flip_day is not None  # the index fell 20%: DEFENSE
    assert res.de_risked
    assert res.exposure_after < res.exposure_before / 2


def test_a_crash_date_outside_the_window_is_refused(
    job: Job, window: BarFrame, baseline: BacktestResult
) -> None:
    from invest.runtime.errors import ConfigError

    with pytest.raises(ConfigError, match="--crash-date"):
        stress_test(job, window, baseline, crash_day=date(2030, 1, 1))


# ---------------------------------------------------------------------------- crises


def test_crisis_windows_produce_a_row_for_each_crisis_with_both_benchmarks(
    job: Job, history: BarFrame
) -> None:
    rows = crisis_replays(job, history)
    assert [r.crisis.name for r in rows] == [c.name for c in CRISES]
    for r in rows:
        assert r.covered, r.note
        assert r.start is not None
        assert r.start >= r.crisis.start
        assert r.end is not None
        assert r.end <= r.crisis.end
        assert r.index is not None
        assert r.equal_weight is not None
        assert r.strategy is not None
        d = r.as_dict()
        assert d["index_buy_and_hold"]["max_drawdown"] <= 0
        assert d["equal_weight_buy_and_hold"]["return"] is not None
        assert "features not warm" not in r.note
    gfc = rows[1]
    assert gfc.index is not None
    assert gfc.index.total_return < -0.4
    covid = rows[2]
    assert set(covid.to_trough) == {"strategy", "index_buy_and_hold", "equal_weight_buy_and_hold"}


def test_a_crisis_outside_the_data_is_reported_not_replayed(job: Job, history: BarFrame) -> None:
    late = history.between(date(2015, 1, 2), None)
    rows = crisis_replays(
        job, late, [CRISES[0], Crisis("x", date(2031, 1, 2), date(2031, 6, 1), "")]
    )
    assert [r.covered for r in rows] == [False, False]
    assert rows[1].note == "not in the data"


def test_the_default_window_is_the_last_five_years(history: BarFrame) -> None:
    start, end = default_window(history, None, None)
    assert end == history.day(len(history) - 1)
    assert (start.year, end.year) == (end.year - 5, end.year)
    assert default_window(history, START, END) == (START, END)


# ---------------------------------------------------------------------------- the command


def test_the_command_writes_the_report_and_prints_the_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    add_robustness_command(parser.add_subparsers(dest="command"))
    out = tmp_path / "rob"
    args = parser.parse_args(
        [
            "robustness",
            "--strategy",
            "trend_king",
            "--start",
            "2021-01-04",
            "--end",
            "2021-12-31",
            "--paths",
            "8",
            "--workers",
            "2",
            "--seed",
            "1",
            "--out",
            str(out),
        ]
    )
    assert args.handler(args, Paths.resolve(None)) == 0
    printed = capsys.readouterr()
    assert "Robustness of trend-king" in printed.out
    assert "paths/s" in printed.err
    report = json.loads((out / "report.json").read_text())
    assert report["window"] == {"start": "2021-01-04", "end": "2021-12-31", "sessions": 252}
    mc = report["monte_carlo"]
    assert mc["paths"] == 8
    assert mc["workers"] == 2
    assert set(mc["total_return"]) == {"p5", "median", "p95"}
    assert 0 <= mc["losing_share"] <= 1
    assert isinstance(mc["overfit"], bool)
    assert report["bootstrap"]["paths"] == 8
    assert report["stress"]["crash_day"] >= "2021-07-01"
    assert len(report["crises"]) == 4
    assert (out / "summary.md").read_text().startswith("# Robustness of trend-king")
    lines = (out / "mc_paths.csv").read_text().splitlines()
    assert lines[0] == "path," + ",".join(PATH_COLUMNS)
    assert len(lines) == 9


def test_only_the_requested_parts_run_and_a_failed_check_is_flagged(
    job: Job, window: BarFrame
) -> None:
    from invest.runtime.backtest.robustness_report import Options, run_robustness, summary_markdown

    opts = Options(paths=4, workers=1, parts=("bootstrap",), threshold=-1.0)
    rep = run_robustness(job, window, END, opts)
    assert rep.monte_carlo is None
    assert rep.stress is None
    assert rep.crises == []
    assert rep.overfit
    [flag] = rep.flagged
    assert flag.startswith("block bootstrap: ")
    assert flag.endswith("losing paths > -100%: overfit")
    assert "OVERFIT" in summary_markdown(rep)


def test_an_unknown_part_is_refused() -> None:
    from invest.runtime.backtest.robustness_report import Options
    from invest.runtime.errors import ConfigError

    with pytest.raises(ConfigError, match="--parts"):
        Options(parts=("mc", "vibes"))
