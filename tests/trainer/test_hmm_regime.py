"""The HMM regime's trainer side: hmmlearn as the reference of the runtime's numpy filter,
the walk-forward fit and its file, the ``invest train hmm-regime`` subcommand."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

pytest.importorskip("hmmlearn")

from hmmlearn.hmm import GaussianHMM

from invest.runtime.data.sample import SampleData
from invest.runtime.regime_hmm import (
    HmmEntry,
    filtered,
    load_hmm_params,
    log_returns_pct,
)
from invest.trainer import cli
from invest.trainer.hmm_regime import HmmFitConfig, fit_best, fit_entry


@pytest.fixture(autouse=True, scope="session")
def _one_thread() -> None:
    """Overrides the trainer conftest's torch thread set-up: nothing here needs torch."""


def _model(e: HmmEntry) -> GaussianHMM:
    k = len(e.startprob)
    m = GaussianHMM(n_components=k, covariance_type="full", init_params="", params="")
    m.n_features = e.means.shape[1]
    m.startprob_, m.transmat_, m.means_, m.covars_ = e.startprob, e.transmat, e.means, e.covars
    return m


def _check_against_hmmlearn(x: npt.NDArray[np.float64], e: HmmEntry, rows: list[int]) -> None:
    """The numpy filter at ``t`` equals hmmlearn's posterior of the last row of ``x[:t+1]``."""
    ours = filtered(x, e)
    m = _model(e)
    for t in rows:
        ref = m.predict_proba(x[: t + 1].reshape(-1, 1))[-1]
        np.testing.assert_allclose(ours[t], ref, rtol=0, atol=1e-9)


@pytest.fixture(scope="module")
def sp500() -> tuple[npt.NDArray[np.datetime64], npt.NDArray[np.float64]]:
    frame = SampleData().load(("SP500",), None, None)
    return frame.dates, frame.close[:, 0]


def test_the_numpy_filter_equals_hmmlearn_on_the_sample(
    sp500: tuple[npt.NDArray[np.datetime64], npt.NDArray[np.float64]],
) -> None:
    params = load_hmm_params(None)
    x = log_returns_pct(sp500[1])[1:]  # the first return is row 1
    for e in (params.entries[0], params.entries[-1]):
        _check_against_hmmlearn(x, e, [0, 1, 5, 250, 4500, 4700, len(x) - 1])


@pytest.mark.parametrize("k", [2, 3])
def test_the_numpy_filter_equals_hmmlearn_on_simulated_data(k: int) -> None:
    rng = np.random.default_rng(k)
    trans = rng.uniform(0.01, 0.1, (k, k)) + np.eye(k)
    e = HmmEntry(
        year=2000,
        fit_start=date(1990, 1, 1),
        fit_end=date(1999, 12, 31),
        startprob=rng.dirichlet(np.ones(k)),
        transmat=trans / trans.sum(axis=1, keepdims=True),
        means=rng.normal(0, 1, (k, 1)),
        covars=rng.uniform(0.2, 4.0, (k, 1, 1)),
        attack=np.arange(k) == 0,
    )
    x, _ = _model(e).sample(3000, random_state=k)
    _check_against_hmmlearn(x[:, 0], e, [0, 2, 99, 1500, 2999])


def _simulated_prices(n: int = 3000) -> tuple[npt.NDArray[np.datetime64], npt.NDArray[np.float64]]:
    """Closes whose returns switch between a calm rise (+0.08%, sd 0.6%) and a falling storm."""
    rng = np.random.default_rng(1)
    calm = True
    r = np.empty(n)
    for t in range(n):
        if rng.random() < 0.01:
            calm = not calm
        r[t] = rng.normal(0.08, 0.6) if calm else rng.normal(-0.1, 2.0)
    dates = np.busday_offset("2000-01-03", np.arange(n + 1), roll="forward")
    close = 100 * np.exp(np.concatenate([[0.0], np.cumsum(r / 100)]))
    return dates, close


def test_a_year_is_fitted_on_data_before_it_and_the_highest_mean_state_is_attack() -> None:
    dates, close = _simulated_prices()
    entry = fit_entry(dates, close, 2010, HmmFitConfig(restarts=3))
    assert date.fromisoformat(entry["fit_end"]) < date(2010, 1, 1)
    assert date.fromisoformat(entry["fit_end"]) >= date(2009, 12, 28)
    a = entry["labels"].index("attack")
    assert entry["means"][a][0] == max(m[0] for m in entry["means"])
    assert entry["means"][a][0] == pytest.approx(0.08, abs=0.05)  # the calm state is recovered
    assert entry["covars"][a][0][0] == pytest.approx(0.36, rel=0.25)
    # Only data before the year: a different future leaves the fit as it was.
    future = close.copy()
    after = dates >= np.datetime64("2010-01-01")
    future[after] *= np.exp(np.cumsum(np.random.default_rng(9).normal(0, 0.05, after.sum())))
    assert fit_entry(dates, future, 2010, HmmFitConfig(restarts=3)) == entry


def test_the_best_of_several_restarts_is_kept() -> None:
    _dates, close = _simulated_prices()
    x = log_returns_pct(close)[1:]
    lls = [fit_best(x, HmmFitConfig(restarts=1 + s))[2] for s in range(4)]
    assert lls == sorted(lls)  # more restarts never keep a worse likelihood
    _, seed, ll = fit_best(x, HmmFitConfig(restarts=4))
    assert ll == lls[-1]
    assert 0 <= seed < 4


def test_the_subcommand_writes_a_file_the_runtime_reads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "hmm.json"
    rc = cli.main(["hmm-regime", "--out", str(out), "--years", "2021-2022", "--restarts", "2"])
    assert rc == 0
    assert "2022: fit 1990-01-03..2021-12-31" in capsys.readouterr().out
    doc = json.loads(out.read_text())
    assert doc["library"].startswith("hmmlearn ")
    assert doc["restarts"]["seeds"] == [0, 1]
    params = load_hmm_params(str(out))
    assert [e.year for e in params.entries] == [2021, 2022]
    assert params.entries[1].fit_end == date(2021, 12, 31)


def test_the_subcommand_names_a_bad_option_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = cli.main(["hmm-regime", "--out", str(tmp_path / "x.json"), "--years", "soon"])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--years" in err
    rc = cli.main(["hmm-regime", "--out", str(tmp_path / "x.json"), "--years", "1991"])
    assert rc == 2
    assert "need 500" in capsys.readouterr().err


def test_the_rl_training_still_parses_without_the_subcommand() -> None:
    args = cli.build_parser().parse_args(["--quick", "--years", "2021"])
    assert args.job is None
    assert args.years == "2021"


def test_the_bundled_file_is_what_the_trainer_fits(
    sp500: tuple[npt.NDArray[np.datetime64], npt.NDArray[np.float64]],
) -> None:
    from importlib import resources

    from invest.runtime.regime_hmm import BUNDLED

    doc = json.loads(resources.files("invest.runtime.data").joinpath(BUNDLED).read_text())
    bundled = doc["entries"][0]
    refit = fit_entry(*sp500, bundled["year"], HmmFitConfig())
    assert refit["fit_end"] == bundled["fit_end"]
    assert refit["labels"] == bundled["labels"]
    assert refit["seed"] == bundled["seed"]
    for key in ("startprob", "transmat", "means", "covars"):
        np.testing.assert_allclose(refit[key], bundled[key], rtol=1e-6, atol=1e-9)
