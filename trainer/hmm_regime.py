"""``invest train hmm-regime``: fit the HMM regime walk-forward and write its parameters file.

For each test year Y a two-state Gaussian HMM (hmmlearn) is fitted on the regime
index's daily log returns (in percent, :func:`invest.runtime.regime_hmm.log_returns_pct`,
the runtime's own definition) from the first session of the data through the last
session before Y (an expanding window: every year sees all the history before it and
none of its own). The runtime reads the file and filters causally with numpy
(:mod:`invest.runtime.regime_hmm`).

Choices, fixed before any 2005-2022 result was looked at:

* **Two states.** trend_king's regime is binary; two states separate calm, rising
  markets from turbulent, falling ones. A third state on daily returns tends to be a
  short crash state whose label and mean swing between refits.
* **One feature, the daily log return.** A rolling volatility would be causal but
  breaks the HMM's assumption that observations are independent given the state, and
  the state variance already captures volatility.
* **Ten restarts (seeds 0-9), the best training log-likelihood kept.** EM finds a
  local optimum; each restart starts from its own seeded random means, variances and
  persistence (:func:`_start`), so the file is reproducible.
* **Labels by mean return:** the state with the highest mean is ``attack``, the other
  ``defense``, so the labels mean the same thing in every year's refit.
* **Thresholds 0.6 / 0.4:** ATTACK when P(attack) > 0.6, back to DEFENSE below 0.4, a
  band around the even odds as the SMA's 2% band is around the average.
"""

from __future__ import annotations

import argparse
import json
import math
import warnings
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from invest.runtime.regime_hmm import FEATURE, FORMAT, SCALE, log_returns_pct

__all__ = ["HmmFitConfig", "fit_entry", "fit_walk_forward", "main", "run"]

DESCRIPTION = (
    "Fit the HMM regime walk-forward (one model per test year) and write its parameters file."
)

#: hmmlearn adds this floor to each state's variance (squared percent): 1e-6, not its
#: default 1e-3, so the floor never shapes a fitted variance (a calm day's is about 0.4).
MIN_COVAR = 1e-6
#: Decision thresholds written into the file (see the module docstring).
ENTER, EXIT = 0.6, 0.4


@dataclass(frozen=True)
class HmmFitConfig:
    """How each year's model is fitted."""

    n_states: int = 2
    restarts: int = 10
    n_iter: int = 500
    tol: float = 1e-5


def _library_version() -> str:
    import hmmlearn

    return f"hmmlearn {hmmlearn.__version__}"


def _start(model: Any, x: npt.NDArray[np.float64], rng: np.random.Generator) -> None:
    """A random starting point for EM: state means and variances spread around the data's.

    hmmlearn's own start is k-means on the returns, the same split for every seed
    (so restarts would not explore) and the slowest step of a fit on two cores.
    """
    k = model.n_components
    mu, var = float(x.mean()), float(x.var())
    model.startprob_ = np.full(k, 1.0 / k)
    stay = rng.uniform(0.5, 0.99, k)
    trans = np.where(np.eye(k, dtype=bool), stay[:, None], ((1 - stay) / max(k - 1, 1))[:, None])
    model.transmat_ = trans
    model.means_ = (mu + rng.normal(0.0, math.sqrt(var), k)).reshape(k, 1)
    model.covars_ = (var * rng.uniform(0.2, 3.0, k)).reshape(k, 1, 1)


def fit_best(x: npt.NDArray[np.float64], config: HmmFitConfig) -> tuple[Any, int, float]:
    """The restart with the highest log-likelihood on ``x``: ``(model, seed, loglik)``.

    Restart ``s`` starts EM from :func:`_start` with ``numpy.random.default_rng(s)``.
    """
    from hmmlearn.hmm import GaussianHMM

    best: tuple[Any, int, float] | None = None
    obs = x.reshape(-1, 1)
    for seed in range(config.restarts):
        model = GaussianHMM(
            n_components=config.n_states,
            covariance_type="full",
            n_iter=config.n_iter,
            tol=config.tol,
            min_covar=MIN_COVAR,
            random_state=seed,
            init_params="",
            implementation="scaling",
        )
        _start(model, x, np.random.default_rng(seed))
        with warnings.catch_warnings():
            # hmmlearn warns when EM's likelihood dips by rounding near convergence.
            warnings.simplefilter("ignore")
            model.fit(obs)
        ll = float(model.score(obs))
        if math.isfinite(ll) and (best is None or ll > best[2]):
            best = (model, seed, ll)
    if best is None:
        raise ValueError("no restart of the HMM fit converged to a finite likelihood")
    return best


def fit_entry(
    dates: npt.NDArray[np.datetime64],
    close: npt.NDArray[np.float64],
    year: int,
    config: HmmFitConfig,
) -> dict[str, Any]:
    """Fit the model for test year ``year`` on every return dated before it.

    Raises:
        ValueError: fewer than 500 returns before ``year``.
    """
    x = log_returns_pct(close)
    before = dates < np.datetime64(date(year, 1, 1), "D")
    use = before & np.isfinite(x)
    if use.sum() < 500:
        raise ValueError(f"year {year}: only {int(use.sum())} returns before it (need 500)")
    rows = np.flatnonzero(use)
    model, seed, ll = fit_best(x[use], config)
    means = np.asarray(model.means_, dtype=np.float64)
    order = np.argsort(-means[:, 0], kind="stable")
    labels = ["defense"] * config.n_states
    labels[int(order[0])] = "attack"  # the highest mean return
    return {
        "year": year,
        "fit_start": str(dates[rows[0]]),
        "fit_end": str(dates[rows[-1]]),
        "returns": len(rows),
        "seed": seed,
        "log_likelihood": round(ll, 6),
        "startprob": np.asarray(model.startprob_).tolist(),
        "transmat": np.asarray(model.transmat_).tolist(),
        "means": means.tolist(),
        "covars": np.asarray(model.covars_).tolist(),
        "labels": labels,
    }


def fit_walk_forward(
    dates: npt.NDArray[np.datetime64],
    close: npt.NDArray[np.float64],
    years: range,
    symbol: str,
    config: HmmFitConfig | None = None,
) -> dict[str, Any]:
    """The whole parameters file: one entry per test year, fitted on the years before it."""
    config = config or HmmFitConfig()
    return {
        "format": FORMAT,
        "symbol": symbol,
        "library": _library_version(),
        "model": f"GaussianHMM, {config.n_states} states, full covariance",
        "feature": {
            "name": FEATURE,
            "scale": SCALE,
            "spec": "100 * ln(close_t / close_t-1) of the regime index; rows with a missing close dropped",
        },
        "window": "expanding: the data's first return through the last session before the year",
        "restarts": {"seeds": list(range(config.restarts)), "keep": "highest log-likelihood"},
        "em": {
            "n_iter": config.n_iter,
            "tol": config.tol,
            "min_covar": MIN_COVAR,
            "implementation": "scaling",
        },
        "thresholds": {"enter": ENTER, "exit": EXIT},
        "entries": [fit_entry(dates, close, y, config) for y in years],
    }


def build_parser() -> argparse.ArgumentParser:
    """The ``invest train hmm-regime`` options (added as a subcommand by the trainer CLI)."""
    p = argparse.ArgumentParser(prog="invest train hmm-regime", description=DESCRIPTION)
    add_arguments(p)
    return p


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The subcommand's options on ``p``."""
    p.add_argument("--out", type=Path, required=True, help="parameters file to write (JSON)")
    p.add_argument("--symbol", default="SP500", help="regime index (default SP500)")
    p.add_argument("--data", default="sample", help="data source: sample, csv:PATH, yfinance...")
    p.add_argument(
        "--years",
        dest="hmm_years",
        metavar="FIRST-LAST",
        default="2005-2023",
        help="test years FIRST-LAST; each is fitted on the data before it (default 2005-2023)",
    )
    p.add_argument("--restarts", type=int, default=10, help="EM restarts per year (seeds 0..N-1)")


def run(args: argparse.Namespace) -> int:
    """Fit and write the file named by ``args.out``; print one line per year."""
    from invest.runtime.data import open_source

    first, _, last = str(args.hmm_years).partition("-")
    try:
        years = range(int(first), int(last or first) + 1)
    except ValueError:
        raise ValueError(f"--years: expected YEAR or FIRST-LAST, got {args.hmm_years!r}") from None
    if args.restarts < 1:
        raise ValueError("--restarts must be at least 1")
    frame = open_source(args.data).load((args.symbol,), None, None)
    doc = fit_walk_forward(
        frame.dates, frame.close[:, 0], years, args.symbol, HmmFitConfig(restarts=args.restarts)
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    for e in doc["entries"]:
        a = e["labels"].index("attack")
        d = 1 - a if len(e["labels"]) == 2 else None
        stay = e["transmat"][a][a]
        line = f"{e['year']}: fit {e['fit_start']}..{e['fit_end']}, attack mean {e['means'][a][0]:+.3f}%"
        line += f" sd {math.sqrt(e['covars'][a][0][0]):.2f}%, stays {stay:.3f}"
        if d is not None:
            line += (
                f"; defense mean {e['means'][d][0]:+.3f}% sd {math.sqrt(e['covars'][d][0][0]):.2f}%"
            )
        print(line)
    print(f"wrote {args.out} ({doc['library']}, {len(doc['entries'])} years)")
    return 0


def main(argv: list[str]) -> int:
    """Run the subcommand on its own (``python -m invest.trainer.hmm_regime``)."""
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
