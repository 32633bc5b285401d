"""HMM market regime: a causal forward filter over fitted Gaussian-HMM parameters, with hysteresis.

The trainer (``invest train hmm-regime``) fits a Gaussian hidden Markov model on the
regime index's daily log returns once per test year, walk-forward, and writes the
parameters of every year to one JSON file (the bundled one is fitted on the sample's
SP500). This module only reads that file and filters, with numpy: no HMM library in
the runtime (an import-linter contract forbids hmmlearn here).

Point in time: row ``t`` uses the entry for ``t``'s calendar year (the newest entry
whose ``year`` is not after it; every entry was fitted on data that ended before its
year, which :func:`load_hmm_params` checks), and the returns through ``t`` only:
``P(state | r_1..r_t)``, the filtered (not smoothed) probability. Each entry filters
the series from its first return, so the value at ``t`` equals an HMM library's
posterior on the series truncated at ``t``. The regime is ATTACK once the probability
of the ATTACK states rises above ``enter`` and stays so until it falls below ``exit``
(hysteresis, like the SMA band). Rows before the first entry's year are DEFENSE
(warm-up: no model, no risk).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from invest.runtime.errors import ConfigError
from invest.runtime.market import Market
from invest.runtime.regime import latch

FloatArray = npt.NDArray[np.float64]

#: The ``format`` a parameters file must declare.
FORMAT = "invest-hmm-regime/1"
#: The bundled parameters (fitted on the sample's SP500), in ``invest.runtime.data``.
BUNDLED = "bundled/sp500_hmm_regime.json"
#: The one feature: the index's daily log return in percent (hmmlearn's default
#: covariance floor, 1e-3, would swamp a daily variance of about 1e-4 in plain units).
FEATURE = "log_return_pct"
SCALE = 100.0


def log_returns_pct(close: FloatArray) -> FloatArray:
    """``100 * ln(close_t / close_{t-1})`` per row; NaN on row 0 and next to a missing close.

    The trainer fits on exactly this series, so both sides share the one definition.
    """
    out = np.full(len(close), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        out[1:] = SCALE * np.log(close[1:] / close[:-1])
    return out


@dataclass(frozen=True, slots=True)
class HmmEntry:
    """Parameters fitted for one test year, on data that ended before it."""

    year: int
    fit_start: date
    fit_end: date
    startprob: FloatArray  # (K,)
    transmat: FloatArray  # (K, K), rows sum to 1
    means: FloatArray  # (K, D)
    covars: FloatArray  # (K, D, D)
    attack: npt.NDArray[np.bool_]  # (K,): True for the ATTACK states


@dataclass(frozen=True, slots=True)
class HmmParams:
    """A parameters file: the walk-forward entries and the decision thresholds."""

    symbol: str
    entries: tuple[HmmEntry, ...]  # by year, ascending
    enter: float
    exit: float
    source: str


def _arr(raw: Any, shape: tuple[int, ...], what: str, where: str) -> FloatArray:
    a = np.asarray(raw, dtype=np.float64)
    if a.shape != shape or not np.isfinite(a).all():
        raise ConfigError(f"{where}: {what} must be finite numbers of shape {shape}, got {a.shape}")
    return a


def _entry(raw: dict[str, Any], where: str) -> HmmEntry:
    try:
        year = int(raw["year"])
        fit_start = date.fromisoformat(raw["fit_start"])
        fit_end = date.fromisoformat(raw["fit_end"])
        means = np.asarray(raw["means"], dtype=np.float64)
        k, d = means.shape
        labels = list(raw["labels"])
        e = HmmEntry(
            year,
            fit_start,
            fit_end,
            _arr(raw["startprob"], (k,), "startprob", where),
            _arr(raw["transmat"], (k, k), "transmat", where),
            _arr(means, (k, d), "means", where),
            _arr(raw["covars"], (k, d, d), "covars", where),
            np.array([lab == "attack" for lab in labels], dtype=bool),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: not a valid HMM entry ({exc})") from None
    if e.fit_end >= date(year, 1, 1):
        raise ConfigError(
            f"{where}: fitted through {e.fit_end}, not before its year {year} (look-ahead): refit it"
        )
    if len(labels) != k or not set(labels) <= {"attack", "defense"} or not e.attack.any():
        raise ConfigError(f"{where}: labels must name each of the {k} states attack or defense")
    if (e.transmat < 0).any() or not np.allclose(e.transmat.sum(axis=1), 1.0):
        raise ConfigError(f"{where}: transmat rows must be probabilities summing to 1")
    try:
        np.linalg.cholesky(e.covars)
    except np.linalg.LinAlgError:
        raise ConfigError(f"{where}: covars must be positive definite") from None
    return e


def load_hmm_params(path: str | None = None) -> HmmParams:
    """Read a parameters file (None: the bundled one) and check it.

    Raises:
        ConfigError: the file is missing, not this format, or an entry is invalid or
            was fitted on data that reached its own year.
    """
    if path is None:
        text = resources.files("invest.runtime.data").joinpath(BUNDLED).read_text()
        source = f"bundled {BUNDLED}"
    else:
        p = Path(path).expanduser()
        try:
            text = p.read_text()
        except OSError as exc:
            raise ConfigError(
                f"trend_king.hmm_params: cannot read {p} ({exc.strerror}); "
                "write one with `invest train hmm-regime --out FILE`"
            ) from None
        source = str(p)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source}: not JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ConfigError(f"{source}: not an HMM regime file (format must be {FORMAT!r})")
    feature = doc.get("feature", {})
    if feature.get("name") != FEATURE or feature.get("scale") != SCALE:
        raise ConfigError(f"{source}: feature must be {FEATURE} scaled by {SCALE}")
    entries = tuple(
        sorted(
            (_entry(e, f"{source} entry {i}") for i, e in enumerate(doc.get("entries", []))),
            key=lambda e: e.year,
        )
    )
    if not entries:
        raise ConfigError(f"{source}: no entries")
    if len({e.year for e in entries}) != len(entries):
        raise ConfigError(f"{source}: two entries for one year")
    if len({len(e.startprob) for e in entries}) != 1:
        raise ConfigError(f"{source}: every entry must have the same number of states")
    th = doc.get("thresholds", {})
    enter, exit_ = float(th.get("enter", math.nan)), float(th.get("exit", math.nan))
    if not 0.0 <= exit_ <= enter <= 1.0:
        raise ConfigError(f"{source}: thresholds need 0 <= exit <= enter <= 1")
    return HmmParams(str(doc.get("symbol", "")), entries, enter, exit_, source)


def log_emissions(x: FloatArray, e: HmmEntry) -> FloatArray:
    """``log N(x_t; mean_k, cov_k)`` for every row and state, ``(T, K)``; NaN rows stay NaN."""
    n, d = len(x), e.means.shape[1]
    obs = x.reshape(n, d)
    out = np.empty((n, len(e.means)))
    for k in range(len(e.means)):
        chol = np.linalg.cholesky(e.covars[k])
        z = np.linalg.solve(chol, (obs - e.means[k]).T)  # (D, T)
        logdet = 2.0 * float(np.log(np.diag(chol)).sum())
        out[:, k] = -0.5 * ((z * z).sum(axis=0) + d * math.log(2 * math.pi) + logdet)
    return out


def filtered(x: FloatArray, e: HmmEntry, stop: int | None = None) -> FloatArray:
    """``P(state_t | x_1..x_t)`` under ``e`` for rows ``[0, stop)``, ``(stop, K)``."""
    one: FloatArray = filtered_batch(x, (e,), stop)[0]
    return one


def filtered_batch(
    x: FloatArray, entries: Sequence[HmmEntry], stop: int | None = None
) -> FloatArray:
    """``P(state_t | x_1..x_t)`` under each entry for rows ``[0, stop)``, ``(E, stop, K)``.

    The scaled forward recursion, started at the first finite observation with the
    start probabilities; rows before it are NaN. A NaN observation after it (a
    missing bar) carries the prediction ``alpha_{t-1} @ A`` forward. The entries
    (with one state count) run side by side: the recursion is sequential in t, so
    numpy's per-call cost is paid once per day for all of them, not once per entry.
    """
    stop = len(x) if stop is None else stop
    n, k = len(entries), len(entries[0].startprob)
    out = np.full((n, stop, k), np.nan)
    logb = np.stack([log_emissions(x[:stop], e) for e in entries], axis=1)  # (T, E, K)
    seen = np.asarray(np.isfinite(logb).all(axis=(1, 2)), dtype=bool)
    if not seen.any():
        return out
    first = int(np.argmax(seen))
    # Per state, exp(log b - max log b): the likeliest state's factor is 1, so the
    # normaliser never underflows (a 10-sigma day would underflow plain densities).
    with np.errstate(invalid="ignore"):
        b = np.exp(logb - logb.max(axis=2, keepdims=True))
    trans = np.stack([e.transmat for e in entries])  # (E, K, K)
    alpha = np.stack([e.startprob for e in entries])  # (E, K)
    seen_rows: list[bool] = seen.tolist()
    # The normaliser is 0 only where an entry gives its likeliest state probability 0:
    # possible on the first day (a start probability of 0) and, with a 0 in a
    # transition matrix, later. Only then is the guarded (slower) step needed.
    guarded = bool((trans <= 0.0).any())
    for t in range(first, stop):
        if t > first:
            alpha = np.einsum("ek,ekj->ej", alpha, trans)
        if seen_rows[t]:
            w = alpha * b[t]
            total = w.sum(axis=1, keepdims=True)
            if guarded or t == first:  # a zero normaliser keeps that entry's prediction
                alpha = np.where(total > 0.0, w / np.where(total > 0.0, total, 1.0), alpha)
            else:
                alpha = w / total
        out[:, t] = alpha
    return out


def entry_index(years: npt.NDArray[np.int64], params: HmmParams) -> npt.NDArray[np.int64]:
    """Per row, the index of the entry it is filtered with: the newest whose year is not
    after the row's (-1 before the first entry's year)."""
    first_years = np.array([e.year for e in params.entries], dtype=np.int64)
    return np.searchsorted(first_years, years, side="right").astype(np.int64) - 1


def attack_probability(
    close: FloatArray, years: npt.NDArray[np.int64], params: HmmParams
) -> FloatArray:
    """P(ATTACK states | returns through t) per row, each row under its year's entry; NaN before the first."""
    x = log_returns_pct(close)
    out = np.full(len(close), np.nan)
    which = entry_index(years, params)
    used = sorted({int(i) for i in which.tolist() if i >= 0})
    if not used:
        return out
    stop = int(np.flatnonzero(which >= 0)[-1]) + 1
    post = filtered_batch(x, [params.entries[i] for i in used], stop)
    for slot, i in enumerate(used):
        rows = np.flatnonzero(which[:stop] == i)
        out[rows] = post[slot, rows][:, params.entries[i].attack].sum(axis=1)
    return out


def hysteresis(p: FloatArray, enter: float, exit_: float) -> npt.NDArray[np.int8]:
    """ATTACK from the first row ``p > enter`` until ``p < exit_``; NaN rows keep the last regime."""
    with np.errstate(invalid="ignore"):
        return latch(p > enter, p < exit_).astype(np.int8)  # ATTACK is 1, DEFENSE 0


def hmm_regime_series(
    close: FloatArray, dates: npt.NDArray[np.datetime64], params: HmmParams
) -> tuple[npt.NDArray[np.int8], FloatArray]:
    """``(regime, p_attack)`` for every row: the int8 codes of :mod:`regime` and the probability."""
    years = dates.astype("datetime64[Y]").astype(np.int64) + 1970
    p = attack_probability(close, years, params)
    return hysteresis(p, params.enter, params.exit), p


def hmm_regime(
    market: Market, symbol: str, path: str | None
) -> tuple[npt.NDArray[np.int8], FloatArray]:
    """:func:`hmm_regime_series` of ``symbol``'s closes in ``market``, computed once per Market.

    Raises:
        ConfigError: the file is invalid, or was fitted on another symbol.
    """

    def compute() -> tuple[npt.NDArray[np.int8], FloatArray]:
        params = load_hmm_params(path)
        if params.symbol != symbol:
            raise ConfigError(
                f"{params.source} was fitted on {params.symbol!r}, the regime index is {symbol!r}: "
                f"fit one with `invest train hmm-regime --symbol {symbol} --out FILE` "
                "and set trend_king.hmm_params"
            )
        return hmm_regime_series(market.close[:, market.col[symbol]], market.dates, params)

    out: tuple[npt.NDArray[np.int8], FloatArray] = market.derived(("hmm", symbol, path), compute)
    return out
