"""The HMM regime: the numpy forward filter, the per-year parameters, hysteresis, point in time.

The filter is checked here against a brute-force sum over every state path (no HMM
library needed); ``tests/trainer/test_hmm_regime.py`` checks it against hmmlearn.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from invest.runtime.config import TrendKingParams
from invest.runtime.data.frame import BarFrame
from invest.runtime.data.sample import SampleData
from invest.runtime.domain import AccountState, Regime
from invest.runtime.errors import ConfigError
from invest.runtime.market import Market
from invest.runtime.regime import ATTACK, DEFENSE
from invest.runtime.regime_hmm import (
    BUNDLED,
    HmmEntry,
    entry_index,
    filtered,
    filtered_batch,
    hmm_regime,
    hmm_regime_series,
    hysteresis,
    load_hmm_params,
    log_returns_pct,
)
from invest.runtime.strategies.trend_king import TrendKing

CUT = date(2008, 9, 30)


def _entry(k: int = 2, seed: int = 3) -> HmmEntry:
    rng = np.random.default_rng(seed)
    trans = rng.uniform(0.05, 1.0, (k, k)) + np.eye(k) * 3
    return HmmEntry(
        year=2000,
        fit_start=date(1990, 1, 3),
        fit_end=date(1999, 12, 31),
        startprob=np.full(k, 1.0 / k),
        transmat=trans / trans.sum(axis=1, keepdims=True),
        means=rng.normal(0, 1, (k, 1)),
        covars=rng.uniform(0.3, 3.0, (k, 1, 1)),
        attack=np.arange(k) == 0,
    )


def _brute_force(x: npt.NDArray[np.float64], e: HmmEntry) -> npt.NDArray[np.float64]:
    """P(state at the last row | every observation), summed over all K**T state paths."""
    k = len(e.startprob)
    sd = np.sqrt(e.covars[:, 0, 0])
    dens = [
        np.ones(k)
        if math.isnan(v)
        else np.exp(-0.5 * ((v - e.means[:, 0]) / sd) ** 2) / (sd * math.sqrt(2 * math.pi))
        for v in x
    ]
    last = np.zeros(k)
    for path in itertools.product(range(k), repeat=len(x)):
        p = e.startprob[path[0]] * dens[0][path[0]]
        for t in range(1, len(x)):
            p *= e.transmat[path[t - 1], path[t]] * dens[t][path[t]]
        last[path[-1]] += p
    return last / last.sum()


@pytest.mark.parametrize("k", [2, 3])
def test_the_filter_is_the_posterior_of_the_last_state_given_the_prefix(k: int) -> None:
    e = _entry(k)
    x = np.random.default_rng(k).normal(0, 1.5, 7)
    x[4] = np.nan  # a missing bar: the prediction is carried, no observation
    post = filtered(x, e)
    for t in range(len(x)):
        np.testing.assert_allclose(post[t], _brute_force(x[: t + 1], e), rtol=0, atol=1e-12)


def test_zeros_in_the_start_and_transitions_take_the_guarded_step() -> None:
    e = dataclasses.replace(
        _entry(2),
        startprob=np.array([0.0, 1.0]),
        transmat=np.array([[0.9, 0.1], [0.0, 1.0]]),  # state 1 absorbs
        means=np.array([[0.0], [40.0]]),
        covars=np.array([[[1.0]], [[1.0]]]),
    )
    # Day 0 looks like state 0, which the start rules out, and state 1's density there
    # underflows to 0 (40 sigma): the normaliser is 0 and the prediction is kept, not NaN.
    x = np.array([0.0, 39.0, 1.0])
    assert filtered(x, e).tolist() == [[0.0, 1.0], [0.0, 1.0], [0.0, 1.0]]


def test_entries_filtered_side_by_side_equal_each_alone() -> None:
    x = np.random.default_rng(5).normal(0, 1.5, 300)
    entries = (_entry(2, seed=1), _entry(2, seed=2), _entry(2, seed=4))
    both = filtered_batch(x, entries, 250)
    for i, e in enumerate(entries):
        np.testing.assert_allclose(both[i], filtered(x[:250], e), rtol=0, atol=1e-15)


def test_a_ten_sigma_day_does_not_underflow_the_filter() -> None:
    e = _entry(2)
    x = np.array([0.1, -0.2, 60.0, 0.1])
    post = filtered(x, e)
    assert np.isfinite(post).all()
    np.testing.assert_allclose(post.sum(axis=1), 1.0)


def test_log_returns_are_in_percent_and_nan_next_to_a_gap() -> None:
    r = log_returns_pct(np.array([100.0, 110.0, np.nan, 121.0, 121.0]))
    assert math.isnan(r[0])
    assert math.isnan(r[2])
    assert math.isnan(r[3])
    assert r[1] == pytest.approx(100 * math.log(1.1))
    assert r[4] == 0.0


def test_hysteresis_enters_above_enter_and_leaves_below_exit() -> None:
    p = np.array([np.nan, 0.5, 0.65, 0.5, 0.45, 0.35, 0.55, 0.61, np.nan, 0.39])
    got = hysteresis(p, 0.6, 0.4).tolist()
    assert got == [
        DEFENSE,
        DEFENSE,
        ATTACK,
        ATTACK,
        ATTACK,
        DEFENSE,
        DEFENSE,
        ATTACK,
        ATTACK,
        DEFENSE,
    ]


# --- the bundled parameters, on the sample -----------------------------------------


@pytest.fixture(scope="module")
def sample() -> BarFrame:
    return SampleData().load(("SP500",), None, None)


def test_each_row_uses_parameters_fitted_before_its_year(sample: BarFrame) -> None:
    params = load_hmm_params(None)
    assert params.symbol == "SP500"
    years = sample.dates.astype("datetime64[Y]").astype(np.int64) + 1970
    which = entry_index(years, params)
    assert (which[years < params.entries[0].year] == -1).all()
    used = which >= 0
    assert used.any()
    for t in np.flatnonzero(used):
        e = params.entries[which[t]]
        assert e.fit_end < date(int(years[t]), 1, 1) <= sample.dates[t].astype(object)
    # Each test year has its own refit: 2008 is not filtered with the 2005 model.
    assert {params.entries[i].year for i in set(which[years == 2008].tolist())} == {2008}


def test_the_regime_is_defense_before_the_first_fitted_year(sample: BarFrame) -> None:
    reg, p = hmm_regime_series(sample.close[:, 0], sample.dates, load_hmm_params(None))
    early = sample.dates < np.datetime64("2005-01-01")
    assert (reg[early] == DEFENSE).all()
    assert np.isnan(p[early]).all()
    assert np.isfinite(p[~early]).all()
    # it moves: 2008's crash is mostly DEFENSE, 2013's climb mostly ATTACK
    y = sample.dates.astype("datetime64[Y]").astype(np.int64) + 1970
    assert reg[y == 2008].mean() < 0.3 < 0.7 < reg[y == 2013].mean()


def _random_walk_after(frame: BarFrame, cut: date, seed: int) -> BarFrame:
    after = frame.dates > np.datetime64(cut, "D")
    close = frame.close.copy()
    steps = np.random.default_rng(seed).normal(0.0, 0.03, size=(int(after.sum()), close.shape[1]))
    close[after] = close[~after][-1] * np.exp(np.cumsum(steps, axis=0))
    assert not np.allclose(close[after], frame.close[after])
    return dataclasses.replace(frame, close=close)


@pytest.mark.parametrize("seed", [7, 11])
def test_truncated_data_and_a_random_walk_future_give_the_same_regime_up_to_the_cut(
    sample: BarFrame, seed: int
) -> None:
    params = load_hmm_params(None)
    cut = sample.between(None, CUT)
    n = len(cut)
    full_reg, full_p = hmm_regime_series(sample.close[:, 0], sample.dates, params)
    cut_reg, cut_p = hmm_regime_series(cut.close[:, 0], cut.dates, params)
    walk = _random_walk_after(sample, CUT, seed)
    walk_reg, walk_p = hmm_regime_series(walk.close[:, 0], walk.dates, params)
    assert (cut_reg == full_reg[:n]).all()
    assert (cut_reg == walk_reg[:n]).all()
    np.testing.assert_array_equal(cut_p, full_p[:n])
    np.testing.assert_array_equal(cut_p, walk_p[:n])
    assert not np.array_equal(walk_p[n:], full_p[n:])  # the future did change


# --- the parameters file -----------------------------------------------------------


def _bundled_doc() -> dict[str, Any]:
    from importlib import resources

    doc: dict[str, Any] = json.loads(
        resources.files("invest.runtime.data").joinpath(BUNDLED).read_text()
    )
    return doc


def _write(tmp_path: Path, doc: dict[str, Any]) -> str:
    path = tmp_path / "hmm.json"
    path.write_text(json.dumps(doc))
    return str(path)


def test_a_file_fitted_into_its_own_year_is_refused(tmp_path: Path) -> None:
    doc = _bundled_doc()
    doc["entries"][3]["fit_end"] = f"{doc['entries'][3]['year']}-03-31"
    with pytest.raises(ConfigError, match="look-ahead"):
        load_hmm_params(_write(tmp_path, doc))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(format="other"), "not an HMM regime file"),
        (lambda d: d["feature"].update(scale=1.0), "feature must be"),
        (lambda d: d["entries"][0].update(labels=["defense", "defense"]), "labels"),
        (lambda d: d["entries"][0].update(transmat=[[0.5, 0.6], [0.1, 0.9]]), "transmat"),
        (lambda d: d["entries"][0].update(covars=[[[1.0]], [[-1.0]]]), "positive definite"),
        (lambda d: d["entries"][0].update(means=[[0.1]]), "shape"),
        (lambda d: d.update(thresholds={"enter": 0.3, "exit": 0.6}), "thresholds"),
        (lambda d: d["entries"].append(d["entries"][0]), "two entries"),
    ],
)
def test_a_bad_file_gets_a_one_line_error(tmp_path: Path, change: Any, message: str) -> None:
    doc = _bundled_doc()
    change(doc)
    with pytest.raises(ConfigError, match=message) as err:
        load_hmm_params(_write(tmp_path, doc))
    assert "\n" not in str(err.value)


def test_a_missing_file_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="invest train hmm-regime"):
        load_hmm_params(str(tmp_path / "none.json"))


def test_a_file_fitted_on_another_index_is_refused(sample: BarFrame) -> None:
    renamed = dataclasses.replace(sample, symbols=("SPY",))
    with pytest.raises(ConfigError, match="fitted on 'SP500', the regime index is 'SPY'"):
        hmm_regime(Market(renamed), "SPY", None)


def test_hmm_params_without_the_hmm_model_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="regime_model"):
        TrendKingParams(hmm_params="x.json")


# --- trend_king with regime_model = "hmm" ------------------------------------------


def _trend_king(frame: BarFrame, model: str) -> TrendKing:
    universe = tuple(s for s in frame.symbols if s != "SP500")
    tk = TrendKing(TrendKingParams(regime_model=model), universe, "SP500")  # type: ignore[arg-type]
    tk.prepare(Market(frame))
    return tk


@pytest.fixture(scope="module")
def stocks() -> BarFrame:
    source = SampleData()
    return source.load(tuple(source.symbols()), None, None)


def test_trend_king_with_the_hmm_regime_decides_differently(stocks: BarFrame) -> None:
    sma, hmm = _trend_king(stocks, "sma"), _trend_king(stocks, "hmm")
    rows = np.flatnonzero(stocks.dates >= np.datetime64("2005-01-01"))
    assert (sma._regime[rows] != hmm._regime[rows]).sum() > 100
    state = AccountState("x", Decimal(10_000))
    t = int(rows[np.argmax(sma._regime[rows] != hmm._regime[rows])])
    a, b = sma.propose(t, state), hmm.propose(t, state)
    assert a.regime is not b.regime
    assert a.targets != b.targets
    assert any(n.startswith("HMM P(attack)") for n in b.notes)
    assert not any(n.startswith("HMM") for n in a.notes)


def test_trend_king_with_the_hmm_regime_is_point_in_time(stocks: BarFrame) -> None:
    full = _trend_king(_random_walk_after(stocks, CUT, 5), "hmm")
    cut = _trend_king(stocks.between(None, CUT), "hmm")
    state = AccountState("x", Decimal(10_000))
    for t in range(len(stocks.between(date(2008, 1, 2), CUT))):
        row = len(cut._regime) - 1 - t
        assert full.propose(row, state) == cut.propose(row, state)
    assert Regime.ATTACK in {cut.propose(r, state).regime for r in range(4000, len(cut._regime))}


def test_the_comparison_script_prints_both_regimes_for_a_year() -> None:
    import subprocess
    import sys

    root = Path(__file__).parents[2]
    done = subprocess.run(
        [sys.executable, str(root / "scripts/hmm_vs_sma.py"), "--years", "2009"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    row = next(line for line in done.stdout.splitlines() if line.startswith("| 2009 |"))
    sma, hmm = (float(c.strip().rstrip("%")) for c in row.split("|")[2:4])
    assert sma != hmm  # the regime model moves the year's return
    assert "| all 2009-2009 | HMM |" in done.stdout
