"""Robustness of a strategy: Monte Carlo price noise, block bootstrap, a crash, crisis replays.

Ploutos' crash test (master plan, phase 4), built on the real replay: every
simulated path goes through :func:`~invest.runtime.backtest.runner.replay`, so
through the same cycle, strategy, risk engine and paper broker that trade.
There is no second, vectorised copy of a strategy here.

* **Monte Carlo with price noise.** Path ``i`` multiplies every bar by
  ``1 + e``, one ``e`` per (session, symbol) applied to open, high, low and
  close alike (so a bar stays consistent; volume is untouched). ``e`` is i.i.d.
  uniform on ``[-a, +a]`` (default, ``a`` = 0.1%), or normal with sigma ``a/2``
  clipped to ``[-a, +a]``. The noise covers the whole history, warm-up and
  index included: the regime and the features see it too. Path ``i`` draws from
  ``SeedSequence(seed, spawn_key=(0, i))``, so a path is the same whatever the
  worker count or the chunking. Each path builds a fresh account and replays
  the account's window; paths run in a process pool whose workers receive the
  bars once (initializer) and build each noisy frame from its seed.
* **The fan.** Each path also hands back its equity as growth of 1 (float32);
  the parent keeps the 5th, 50th and 95th percentile of each session over the
  paths (:func:`fan`) and drops the curves, so the report draws the fan from
  the paths the command ran, at about 5 MB while a 1,000-path, 5-year run lasts.
* **Block bootstrap** of the baseline's daily returns (cheap, vectorised):
  circular blocks of ``block`` sessions (``fixed``), or the stationary
  bootstrap of Politis and Romano with geometric block lengths of mean
  ``block``. It resamples what happened; it says how much of the result is
  the luck of the order of good and bad weeks, not how the strategy reacts to
  other prices (that is the Monte Carlo's job).
* **Verdict.** A losing path is one whose total return over the window is
  below zero. More than 5% of losing paths flags the strategy as overfit
  (Ploutos' rule); both methods are judged.
* **Stress test.** Every price of every symbol, index included, from the crash
  session on is multiplied by ``1 - drop`` (default 0.8): a one-day -20% gap
  that never recovers relative to the real path. The crash session defaults to
  the first session at or after the middle of the window at which the baseline
  was more than 50% invested (else the most invested session). The report says
  what it cost, whether stop-losses fired and the regime turned to DEFENSE, and
  whether exposure fell to half of its pre-crash level within ``k`` sessions.
* **Crisis replays.** The strategy over four market crises (:data:`CRISES`),
  each against buy-and-hold of the index and equal-weight buy-and-hold of the
  universe. The whole history before a window is loaded, so the features are
  warm at its first session.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from invest.runtime.backtest.metrics import YEAR, Metrics
from invest.runtime.backtest.runner import BacktestResult, replay
from invest.runtime.config import Settings
from invest.runtime.cycle import AccountRuntime
from invest.runtime.data.frame import BarFrame
from invest.runtime.errors import ConfigError, DataError
from invest.runtime.market import Market

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
NoiseKind = Literal["uniform", "normal"]
BootstrapKind = Literal["fixed", "stationary"]
Progress = Callable[[int, int], None]

#: Default noise amplitude: +-0.1% of the price.
NOISE = 0.001
#: More than this share of losing paths flags overfitting (Ploutos).
OVERFIT_SHARE = 0.05
#: Default Monte Carlo window: the last five years of the data.
DEFAULT_YEARS = 5
#: Default one-day crash of the stress test.
CRASH = 0.20
#: Sessions after the crash within which the book should be de-risked.
DERISK_SESSIONS = 5
#: Exposure above which the baseline counts as invested when picking the crash day.
INVESTED = 0.5
#: Columns of the per-path table of the Monte Carlo.
PATH_COLUMNS = ("total_return", "cagr", "sharpe", "max_drawdown", "exposure", "fills")
#: The parts of a robustness run, in order.
PARTS = ("mc", "bootstrap", "stress", "crises")
#: Sessions of history before the window that a Monte Carlo path warms up on (three
#: years; the longest lookback of the features and strategies is one year).
WARMUP_SESSIONS = 756


# ---------------------------------------------------------------------------- the account


@dataclass(frozen=True)
class Job:
    """What every replay of a robustness run shares (picklable: it goes to the workers).

    Attributes:
        account: the account's name in ``settings``.
        settings: the whole settings (the account, its risk profile, the fill model).
        start: first traded session of the window (earlier rows only warm up).
        tz: timezone of the account's cron schedule.
        packs_dir: where model packs live (RL strategies).
    """

    account: str
    settings: Settings
    start: date | None
    tz: str = "America/New_York"
    packs_dir: Path | None = None

    def runtime(self) -> AccountRuntime:
        """A fresh account: new strategy, risk engine, paper broker and state."""
        return AccountRuntime.build(
            self.account, self.settings, packs_dir=self.packs_dir, paper=True
        )

    def replay(
        self, frame: BarFrame, start: date | None = None, explain: bool = True
    ) -> BacktestResult:
        """The real replay of a fresh account over ``frame`` from ``start`` (default: the job's)."""
        return replay(self.runtime(), Market(frame), start or self.start, self.tz, explain=explain)


def default_window(
    frame: BarFrame, start: date | None, end: date | None, years: int = DEFAULT_YEARS
) -> tuple[date, date]:
    """The Monte Carlo window: ``start``/``end`` when given, else the last ``years`` of the data.

    Raises:
        DataError: the frame is empty or has no session in the window.
    """
    if len(frame) == 0:
        raise DataError("no data to test")
    last = frame.row_for(end) if end is not None else len(frame) - 1
    if last < 0:
        raise DataError(f"no data on or before {end} (the data starts {frame.day(0)})")
    stop = frame.day(last)
    if start is None:
        start = date(stop.year - years, stop.month, min(stop.day, 28))
    if start > stop:
        raise DataError(f"the window {start} .. {stop} is empty")
    return start, stop


# ---------------------------------------------------------------------------- noise


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def noise_factors(
    shape: tuple[int, ...],
    seed: int,
    path: int,
    amplitude: float = NOISE,
    kind: NoiseKind = "uniform",
) -> FloatArray:
    """Multiplicative factors ``1 + e`` with ``|e| <= amplitude`` for path ``path`` of run ``seed``.

    Raises:
        ConfigError: unknown ``kind`` or a negative amplitude.
    """
    if not 0 <= amplitude < 1:
        raise ConfigError(f"noise amplitude must be in [0, 1), got {amplitude}")
    rng = _rng(seed, 0, path)
    if kind == "uniform":
        e = rng.uniform(-amplitude, amplitude, shape)
    elif kind == "normal":
        e = np.clip(rng.normal(0.0, amplitude / 2, shape), -amplitude, amplitude)
    else:
        raise ConfigError(f"unknown noise distribution {kind!r} (uniform or normal)")
    return np.asarray(1.0 + e, dtype=np.float64)


def scale_prices(frame: BarFrame, factors: FloatArray) -> BarFrame:
    """``frame`` with open, high, low and close multiplied by ``factors`` (volume untouched)."""

    def scaled(arr: FloatArray | None) -> FloatArray | None:
        return None if arr is None else arr * factors

    return replace(
        frame,
        close=frame.close * factors,
        open=scaled(frame.open),
        high=scaled(frame.high),
        low=scaled(frame.low),
    )


def noisy_frame(
    frame: BarFrame, seed: int, path: int, amplitude: float = NOISE, kind: NoiseKind = "uniform"
) -> BarFrame:
    """Path ``path`` of run ``seed``: every bar times its own ``1 + e`` (see :func:`noise_factors`)."""
    return scale_prices(frame, noise_factors(frame.close.shape, seed, path, amplitude, kind))


def crash_frame(frame: BarFrame, row: int, drop: float = CRASH) -> BarFrame:
    """``frame`` with every price from row ``row`` on multiplied by ``1 - drop``."""
    if not 0 < drop < 1:
        raise ConfigError(f"crash must be in (0, 1), got {drop}")
    scale = np.ones((len(frame), 1))
    scale[row:] = 1 - drop
    return scale_prices(frame, scale)


# ---------------------------------------------------------------------------- summaries


@dataclass(frozen=True, slots=True)
class Quantiles:
    """5th percentile, median and 95th percentile of one statistic over the paths."""

    p5: float
    median: float
    p95: float

    @classmethod
    def of(cls, x: FloatArray) -> Quantiles:
        """Quantiles of the finite values of ``x`` (NaN when there are none)."""
        x = x[np.isfinite(x)]
        if len(x) == 0:
            return cls(math.nan, math.nan, math.nan)
        p5, med, p95 = np.percentile(x, [5, 50, 95])
        return cls(float(p5), float(med), float(p95))

    def as_dict(self) -> dict[str, float | None]:
        """JSON form (NaN as None)."""
        return {k: _num(getattr(self, k)) for k in ("p5", "median", "p95")}


@dataclass(frozen=True, slots=True)
class Distribution:
    """What many paths say: quantiles, the share of losing paths and the overfit flag.

    ``overfit`` is True when more than ``threshold`` of the paths lose money
    over the window (total return below zero).
    """

    paths: int
    total_return: Quantiles
    sharpe: Quantiles
    max_drawdown: Quantiles
    losing_share: float
    threshold: float
    overfit: bool

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "paths": self.paths,
            "total_return": self.total_return.as_dict(),
            "sharpe": self.sharpe.as_dict(),
            "max_drawdown": self.max_drawdown.as_dict(),
            "losing_share": _num(self.losing_share),
            "overfit_threshold": self.threshold,
            "overfit": self.overfit,
        }


def summarise(
    total_return: FloatArray,
    sharpe: FloatArray,
    max_drawdown: FloatArray,
    threshold: float = OVERFIT_SHARE,
) -> Distribution:
    """Quantiles of the three statistics and Ploutos' verdict (losing share > ``threshold``)."""
    tr = np.asarray(total_return, dtype=np.float64)
    losing = float(np.mean(tr < 0)) if len(tr) else math.nan
    return Distribution(
        paths=len(tr),
        total_return=Quantiles.of(tr),
        sharpe=Quantiles.of(np.asarray(sharpe, dtype=np.float64)),
        max_drawdown=Quantiles.of(np.asarray(max_drawdown, dtype=np.float64)),
        losing_share=losing,
        threshold=threshold,
        overfit=bool(losing > threshold),
    )


def _num(x: float) -> float | None:
    return None if math.isnan(x) else round(float(x), 6)


# ---------------------------------------------------------------------------- Monte Carlo


@dataclass
class MonteCarloResult:
    """N noisy replays of the account's window.

    ``table`` has one row per path (in path order) and the :data:`PATH_COLUMNS`.
    """

    paths: int
    seed: int
    amplitude: float
    kind: NoiseKind
    workers: int
    seconds: float
    table: FloatArray
    summary: Distribution
    #: Sessions each path warmed up on before the window; None: the whole history.
    warmup: int | None = None
    #: Per session of the window: the 5th, 50th and 95th percentile over the paths of
    #: equity as growth of 1 (shape ``(3, sessions)``, :func:`fan`).
    fan: FloatArray | None = None

    @property
    def paths_per_second(self) -> float:
        """Throughput of the run."""
        return self.paths / self.seconds if self.seconds > 0 else math.inf

    def column(self, name: str) -> FloatArray:
        """One column of the per-path table."""
        return self.table[:, PATH_COLUMNS.index(name)]


def path_row(r: BacktestResult) -> tuple[float, ...]:
    """The per-path statistics of one replay, in :data:`PATH_COLUMNS` order."""
    m: Metrics = r.metrics
    return (m.total_return, m.cagr, m.sharpe, m.max_drawdown, m.exposure, float(len(r.fills)))


def run_path_curve(
    job: Job,
    frame: BarFrame,
    path: int,
    seed: int,
    amplitude: float = NOISE,
    kind: NoiseKind = "uniform",
) -> tuple[tuple[float, ...], npt.NDArray[np.float32]]:
    """Replay path ``path`` (a fresh account on the noisy frame, through the real cycle):
    its :func:`path_row` and its equity as growth of 1 (float32, for the fan)."""
    # Paths need only the equity curve: no explanation records (same decisions).
    r = job.replay(noisy_frame(frame, seed, path, amplitude, kind), explain=False)
    growth = (r.equity / r.equity[0]) if len(r.equity) and r.equity[0] > 0 else r.equity * np.nan
    return path_row(r), growth.astype(np.float32)


_WORKER: dict[str, Any] = {}


def _init_worker(job: Job, frame: BarFrame) -> None:
    """Pool initializer: the bars and the account arrive once per worker, not per task."""
    _WORKER["job"], _WORKER["frame"] = job, frame


PathOut = tuple[int, tuple[float, ...], npt.NDArray[np.float32]]


def _run_chunk(paths: Sequence[int], seed: int, amplitude: float, kind: NoiseKind) -> list[PathOut]:
    job, frame = _WORKER["job"], _WORKER["frame"]
    return [(p, *run_path_curve(job, frame, p, seed, amplitude, kind)) for p in paths]


def fan(growth: npt.NDArray[np.float32]) -> FloatArray:
    """The 5th, 50th and 95th percentile over the paths of each session's growth of 1.

    ``growth`` holds one row per path (equity over its first session's), so the fan's
    last column is one plus the total-return quantiles of the per-path table
    (a percentile commutes with an increasing linear map).
    """
    return np.asarray(
        np.nanpercentile(growth.astype(np.float64), [5, 50, 95], axis=0), dtype=np.float64
    )


def warmed(
    job: Job, frame: BarFrame, sessions: int = WARMUP_SESSIONS
) -> tuple[BarFrame, int | None]:
    """``frame`` cut to ``sessions`` before the window, where that changes no decision.

    Every path recomputes the features, the regime and the data masks of its noisy
    bars; over 33 years of warm-up that was a quarter of a 5-year path's time. Most
    lookbacks are finite, but the regime's hysteresis and the stale-price mask carry
    state from further back, so the cut is used only when the noise-free replay on it
    gives the same fills and the same equity curve as the replay on the whole history.
    Otherwise the paths keep the whole history.

    Returns:
        (the frame the paths replay, the warm-up sessions or None for the whole history)
    """
    first = frame.row_from(job.start) - sessions
    if first <= 0:
        return frame, None
    cut = frame.rows(first, len(frame))
    full, short = job.replay(frame, explain=False), job.replay(cut, explain=False)
    same = (
        len(full.equity) == len(short.equity)
        and bool(np.array_equal(full.equity, short.equity))
        and full.fills == short.fills
    )
    return (cut, sessions) if same else (frame, None)


def default_workers() -> int:
    """CPUs this process may use (its affinity mask where the OS has one, else ``os.cpu_count()``)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # pragma: no cover - macOS and Windows have no affinity call
        return os.cpu_count() or 1


def chunks(paths: int, workers: int, most: int = 25) -> list[range]:
    """Path numbers in chunks: about four per worker for balance, at most ``most`` paths each."""
    size = max(1, min(most, math.ceil(paths / max(workers * 4, 1))))
    return [range(i, min(i + size, paths)) for i in range(0, paths, size)]


def monte_carlo(
    job: Job,
    frame: BarFrame,
    paths: int = 1000,
    seed: int = 0,
    amplitude: float = NOISE,
    kind: NoiseKind = "uniform",
    workers: int | None = None,
    progress: Progress | None = None,
    threshold: float = OVERFIT_SHARE,
) -> MonteCarloResult:
    """Replay ``paths`` noisy versions of ``frame`` through the real cycle, in parallel.

    Args:
        job: the account and the window's first session.
        frame: the bars up to the window's end (the whole history before it warms up;
            the paths replay :func:`warmed`'s cut of it).
        paths: how many paths.
        seed: run seed; path ``i`` depends only on (seed, i).
        amplitude: noise bound, as a fraction of the price.
        kind: ``uniform`` or ``normal`` (clipped) noise.
        workers: processes (default: :func:`default_workers`); 1 runs in this process.
        progress: called with (paths done, paths) after each chunk.
        threshold: losing share above which the result is flagged as overfit.
    """
    if paths < 1:
        raise ConfigError(f"--paths must be at least 1, got {paths}")
    workers = max(1, workers or default_workers())
    noise_factors((1,), seed, 0, amplitude, kind)  # fail fast on bad parameters
    t0 = time.perf_counter()
    frame, warmup = warmed(job, frame)
    table = np.full((paths, len(PATH_COLUMNS)), np.nan)
    # Every path's growth curve, float32: 1000 paths of 5 years are 5 MB, of 33 years
    # 33 MB; only the three percentile curves outlive this call.
    curves: list[npt.NDArray[np.float32]] = [np.empty(0, np.float32)] * paths

    def keep(p: int, row: tuple[float, ...], curve: npt.NDArray[np.float32]) -> None:
        table[p] = row
        curves[p] = curve

    parts = chunks(paths, workers)
    workers = min(workers, len(parts))
    done = 0
    if workers == 1:
        for part in parts:
            for p in part:
                keep(p, *run_path_curve(job, frame, p, seed, amplitude, kind))
            done += len(part)
            if progress:
                progress(done, paths)
    else:
        with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(job, frame)) as pool:
            futures: list[Future[list[PathOut]]] = [
                pool.submit(_run_chunk, part, seed, amplitude, kind) for part in parts
            ]
            try:
                for fut in as_completed(futures):
                    rows = fut.result()
                    for p, row, curve in rows:
                        keep(p, row, curve)
                    done += len(rows)
                    if progress:
                        progress(done, paths)
            except BaseException:
                for fut in futures:
                    fut.cancel()
                raise
    seconds = time.perf_counter() - t0
    tr, sh, dd = (
        table[:, PATH_COLUMNS.index(c)] for c in ("total_return", "sharpe", "max_drawdown")
    )
    return MonteCarloResult(
        paths,
        seed,
        amplitude,
        kind,
        workers,
        seconds,
        table,
        summarise(tr, sh, dd, threshold),
        warmup,
        fan(np.vstack(curves)),
    )


# ---------------------------------------------------------------------------- block bootstrap


def bootstrap_indices(
    n: int, paths: int, block: int, rng: np.random.Generator, kind: BootstrapKind = "fixed"
) -> IntArray:
    """Indices into a series of ``n`` returns, shape ``(paths, n)``, resampled by blocks.

    ``fixed``: circular blocks of exactly ``block`` sessions at uniform random starts.
    ``stationary``: a new block starts at each position with probability ``1/block``
    (geometric lengths of mean ``block``), at a uniform random start, wrapping around.
    """
    if n < 1 or block < 1:
        raise ConfigError(f"bootstrap needs at least one return and a block >= 1 (block {block})")
    step = np.arange(n, dtype=np.int64)
    if kind == "fixed":
        nb = math.ceil(n / block)
        starts = rng.integers(0, n, size=(paths, nb))
        idx = (starts[:, :, None] + np.arange(block)) % n
        return np.asarray(idx.reshape(paths, nb * block)[:, :n], dtype=np.int64)
    if kind == "stationary":
        new = rng.random((paths, n)) < 1.0 / block
        new[:, 0] = True
        starts = rng.integers(0, n, size=(paths, n))
        # Position of the current block's first element, for every position.
        first = np.maximum.accumulate(np.where(new, step, 0), axis=1)
        rows = np.arange(paths)[:, None]
        return np.asarray((starts[rows, first] + step - first) % n, dtype=np.int64)
    raise ConfigError(f"unknown bootstrap {kind!r} (fixed or stationary)")


def path_stats(returns: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Total return, Sharpe and max drawdown of each row of daily returns (as ``curve_metrics``)."""
    growth = np.cumprod(1.0 + returns, axis=1)
    equity = np.concatenate([np.ones((len(returns), 1)), growth], axis=1)
    total = equity[:, -1] - 1.0
    mean = returns.mean(axis=1)
    sd = returns.std(axis=1, ddof=1) if returns.shape[1] > 1 else np.zeros(len(returns))
    with np.errstate(divide="ignore", invalid="ignore"):
        sharpe = np.where(sd > 0, mean / sd * math.sqrt(YEAR), 0.0)
    peak = np.maximum.accumulate(equity, axis=1)
    mdd = (equity / peak - 1.0).min(axis=1)
    return total, sharpe, mdd


@dataclass
class BootstrapResult:
    """Block-bootstrap resamples of the baseline's daily returns."""

    paths: int
    block: int
    kind: BootstrapKind
    seed: int
    seconds: float
    table: FloatArray  # (paths, 3): total_return, sharpe, max_drawdown
    summary: Distribution


def block_bootstrap(
    returns: FloatArray,
    paths: int = 1000,
    block: int = 21,
    seed: int = 0,
    kind: BootstrapKind = "fixed",
    threshold: float = OVERFIT_SHARE,
    batch: int = 256,
) -> BootstrapResult:
    """Resample ``returns`` by blocks ``paths`` times and summarise the resampled curves.

    Vectorised in batches of ``batch`` paths (memory stays at a few tens of MB for
    33 years of returns). Seeded: the same (seed, paths, block, kind) gives the same result.
    """
    t0 = time.perf_counter()
    r = np.asarray(returns, dtype=np.float64)
    rng = _rng(seed, 1)
    table = np.empty((paths, 3))
    for lo in range(0, paths, batch):
        hi = min(lo + batch, paths)
        idx = bootstrap_indices(len(r), hi - lo, block, rng, kind)
        table[lo:hi] = np.column_stack(path_stats(r[idx]))
    summary = summarise(table[:, 0], table[:, 1], table[:, 2], threshold)
    return BootstrapResult(paths, block, kind, seed, time.perf_counter() - t0, table, summary)


# ---------------------------------------------------------------------------- stress test


def exposure(r: BacktestResult) -> FloatArray:
    """Invested share of equity on each session of a replay."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(r.equity > 0, (r.equity - r.cash) / r.equity, 0.0)


def pick_crash_session(r: BacktestResult, invested: float = INVESTED) -> tuple[int, str]:
    """Session (index into ``r.days``) to crash, and why it was chosen.

    The first session at or after the window's middle session at which the
    baseline is more than ``invested`` invested; else the most invested session;
    else the middle session. Never the first session (the day before is needed).
    """
    n = len(r.days)
    if n < 2:
        raise DataError("the stress test needs a window of at least two sessions")
    ex = exposure(r)
    mid = max(n // 2, 1)
    after = np.flatnonzero(ex[mid:] > invested)
    if len(after):
        return mid + int(
            after[0]
        ), f"first session from the window's middle with exposure > {invested:.0%}"
    best = 1 + int(np.argmax(ex[1:]))
    if ex[best] > 0:
        return best, f"most invested session (never > {invested:.0%} invested after the middle)"
    return mid, "middle of the window (the account is never invested)"


@dataclass
class StressResult:
    """The account through a one-day crash, against the same replay without it."""

    crash_day: date
    chosen_by: str
    drop: float
    sessions: int
    index_return: float  # index close-to-close on the crash day
    crash_day_loss: float  # equity on the crash day against the day before
    loss_after: float  # equity ``sessions`` sessions later against the day before the crash
    worst_after: float  # lowest equity from the crash on against the day before the crash
    end_vs_baseline: float  # final equity against the baseline's
    max_drawdown: float
    baseline_max_drawdown: float
    exposure_before: float
    exposure_crash_day: float
    exposure_after: float
    regime_before: str | None
    regime_flip_day: date | None
    sessions_to_flip: int | None
    stop_losses: list[dict[str, str]]
    baseline_stop_losses: int
    brake_day: date | None
    sessions_to_derisk: int | None
    de_risked: bool
    #: Day by day through the stress window (:func:`stress_days`): the crashed run
    #: against the same run without the crash.
    days: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        out: dict[str, Any] = {}
        for k, v in self.__dict__.items():
            out[k] = (
                v.isoformat() if isinstance(v, date) else _num(v) if isinstance(v, float) else v
            )
        return out


#: Sessions shown before the crash, and after the de-risking window, day by day.
STRESS_BEFORE, STRESS_AFTER = 5, 15


def stress_days(
    baseline: BacktestResult, hit: BacktestResult, i: int, sessions: int
) -> list[dict[str, Any]]:
    """Equity and exposure of both runs from a few sessions before crash row ``i`` to after.

    Equity in money rounded to cents, exposure as a share rounded to 6 places.
    """
    lo = max(i - STRESS_BEFORE, 0)
    hi = min(i + sessions + STRESS_AFTER, len(hit.days) - 1)
    ex, base_ex = exposure(hit), exposure(baseline)
    return [
        {
            "day": hit.days[j].isoformat(),
            "equity": round(float(hit.equity[j]), 2),
            "baseline_equity": round(float(baseline.equity[j]), 2),
            "exposure": _num(float(ex[j])),
            "baseline_exposure": _num(float(base_ex[j])),
        }
        for j in range(lo, hi + 1)
    ]


def _stops(decisions: list[dict[str, Any]], first: str, last: str) -> list[dict[str, str]]:
    return [
        {"day": d["day"], "symbol": c["symbol"], "reason": c["reason"]}
        for d in decisions
        if first <= d["day"] <= last
        for c in d["clamps"]
        if c["rule"] == "stop_loss"
    ]


def _regimes(r: BacktestResult) -> dict[str, str]:
    return {d["day"]: d["regime"] for d in r.decisions if d.get("regime")}


def stress_test(
    job: Job,
    frame: BarFrame,
    baseline: BacktestResult,
    crash_day: date | None = None,
    drop: float = CRASH,
    sessions: int = DERISK_SESSIONS,
) -> tuple[StressResult, BacktestResult]:
    """Crash every price by ``drop`` at ``crash_day`` (default: :func:`pick_crash_session`).

    Returns the summary and the stressed replay. ``de_risked`` is True when the
    exposure falls to half its level of the session before the crash (or lower)
    within ``sessions`` sessions of it, crash day included.
    """
    days = baseline.days
    if crash_day is None:
        i, why = pick_crash_session(baseline)
    else:
        i = int(np.searchsorted(np.array(days, dtype="datetime64[D]"), np.datetime64(crash_day)))
        if not 1 <= i < len(days):
            raise ConfigError(
                f"--crash-date {crash_day} must be after {days[0]} and up to {days[-1]}"
            )
        why = "--crash-date"
    row = frame.row_for(days[i])
    hit = job.replay(crash_frame(frame, row, drop))
    eq, ex, base_ex = hit.equity, exposure(hit), exposure(baseline)
    k = min(i + sessions, len(days) - 1)
    before = float(base_ex[i - 1])
    window = ex[i : k + 1]
    low = np.flatnonzero(window <= before / 2) if before > 0 else np.array([0])
    regimes = _regimes(hit)
    prior = [v for d, v in regimes.items() if d < days[i].isoformat()]
    regime_before = prior[-1] if prior else None
    flip = next(
        (j for j in range(i, len(days)) if regimes.get(days[j].isoformat()) == "DEFENSE"), None
    )
    brake = next(
        (
            d["day"]
            for d in hit.decisions
            if d["day"] >= days[i].isoformat()
            and any(c["rule"] == "drawdown_brake" for c in d["clamps"])
        ),
        None,
    )
    first, last = days[i].isoformat(), days[k].isoformat()
    index_return = float(hit.benchmark[i] / hit.benchmark[i - 1] - 1)
    result = StressResult(
        crash_day=days[i],
        chosen_by=why,
        drop=drop,
        sessions=sessions,
        index_return=index_return,
        crash_day_loss=float(eq[i] / eq[i - 1] - 1),
        loss_after=float(eq[k] / eq[i - 1] - 1),
        worst_after=float(eq[i:].min() / eq[i - 1] - 1),
        end_vs_baseline=float(eq[-1] / baseline.equity[-1] - 1),
        max_drawdown=hit.metrics.max_drawdown,
        baseline_max_drawdown=baseline.metrics.max_drawdown,
        exposure_before=before,
        exposure_crash_day=float(ex[i]),
        exposure_after=float(ex[k]),
        regime_before=regime_before,
        regime_flip_day=days[flip] if flip is not None and regime_before != "DEFENSE" else None,
        sessions_to_flip=flip - i if flip is not None and regime_before != "DEFENSE" else None,
        stop_losses=_stops(hit.decisions, first, last),
        baseline_stop_losses=len(_stops(baseline.decisions, first, last)),
        brake_day=date.fromisoformat(brake) if brake else None,
        sessions_to_derisk=int(low[0]) if len(low) else None,
        de_risked=bool(len(low)),
        days=stress_days(baseline, hit, i, sessions),
    )
    return result, hit


# ---------------------------------------------------------------------------- crises


@dataclass(frozen=True, slots=True)
class Crisis:
    """A market crisis window (S&P 500 closing high to closing low unless noted)."""

    name: str
    start: date
    end: date
    note: str
    trough: date | None = None


#: The crisis windows, with their exact dates (see each note).
CRISES: tuple[Crisis, ...] = (
    Crisis(
        "dot-com 2000-02",
        date(2000, 3, 24),
        date(2002, 10, 9),
        "S&P 500 closing high 2000-03-24 to closing low 2002-10-09",
    ),
    Crisis(
        "GFC 2008",
        date(2007, 10, 9),
        date(2009, 3, 9),
        "S&P 500 closing high 2007-10-09 to closing low 2009-03-09",
    ),
    Crisis(
        "COVID 2020",
        date(2020, 2, 19),
        date(2020, 12, 31),
        "crash 2020-02-19 to 2020-03-23, extended to 2020-12-31 to see the recovery",
        trough=date(2020, 3, 23),
    ),
    Crisis(
        "bear 2022",
        date(2022, 1, 3),
        date(2022, 10, 12),
        "S&P 500 closing high 2022-01-03 to closing low 2022-10-12",
    ),
)


@dataclass
class CrisisRow:
    """The strategy and both buy-and-holds over one crisis window."""

    crisis: Crisis
    start: date | None = None
    end: date | None = None
    sessions: int = 0
    strategy: Metrics | None = None
    index: Metrics | None = None
    equal_weight: Metrics | None = None
    exposure: float = math.nan
    to_trough: dict[str, float] = field(default_factory=dict)
    note: str = ""
    #: The replay's sessions and, for ``strategy``, ``index_buy_and_hold`` and
    #: ``equal_weight_buy_and_hold``, equity as growth of 1 (the report's charts).
    days: list[date] = field(default_factory=list)
    curves: dict[str, FloatArray] = field(default_factory=dict)

    @property
    def covered(self) -> bool:
        """True when the window was replayed."""
        return self.strategy is not None

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""

        def pair(m: Metrics | None) -> dict[str, float | None] | None:
            if m is None:
                return None
            return {"return": _num(m.total_return), "max_drawdown": _num(m.max_drawdown)}

        return {
            "name": self.crisis.name,
            "window": [self.crisis.start.isoformat(), self.crisis.end.isoformat()],
            "window_note": self.crisis.note,
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "sessions": self.sessions,
            "strategy": pair(self.strategy),
            "index_buy_and_hold": pair(self.index),
            "equal_weight_buy_and_hold": pair(self.equal_weight),
            "strategy_exposure": _num(self.exposure),
            "to_trough": {k: _num(v) for k, v in self.to_trough.items()},
            "note": self.note,
        }


#: Sessions of history a window needs before it for warm features (the 200-day regime).
WARMUP = 200


def crisis_replays(job: Job, frame: BarFrame, crises: Sequence[Crisis] = CRISES) -> list[CrisisRow]:
    """Replay each crisis window with the whole history before it (warm-up), with both benchmarks."""
    rows = []
    for c in crises:
        row = CrisisRow(c)
        rows.append(row)
        if len(frame) == 0 or c.end < frame.day(0) or c.start > frame.day(len(frame) - 1):
            row.note = "not in the data"
            continue
        part = frame.between(None, c.end)
        lo = part.row_from(c.start)
        if lo >= len(part) - 1:
            row.note = "fewer than two sessions of data in the window"
            continue
        notes = []
        if lo < WARMUP:
            notes.append(f"only {lo} sessions of history before the window: features not warm")
        if part.day(len(part) - 1) < c.end:
            notes.append(f"data ends {part.day(len(part) - 1)}: window cut short")
        r = job.replay(part, c.start)
        row.start, row.end, row.sessions = r.days[0], r.days[-1], len(r.days)
        row.strategy, row.index, row.equal_weight = (
            r.metrics,
            r.benchmark_metrics,
            r.equal_weight_metrics,
        )
        row.exposure = r.metrics.exposure
        row.days = r.days
        row.curves = {
            "strategy": r.equity / r.equity[0],
            "index_buy_and_hold": r.benchmark / r.benchmark[0],
            "equal_weight_buy_and_hold": r.equal_weight / r.equal_weight[0],
        }
        if c.trough is not None:
            t = (
                int(
                    np.searchsorted(
                        np.array(r.days, dtype="datetime64[D]"), np.datetime64(c.trough), "right"
                    )
                )
                - 1
            )
            if t > 0:
                row.to_trough = {
                    "strategy": float(r.equity[t] / r.equity[0] - 1),
                    "index_buy_and_hold": float(r.benchmark[t] / r.benchmark[0] - 1),
                    "equal_weight_buy_and_hold": float(r.equal_weight[t] / r.equal_weight[0] - 1),
                }
                notes.append(f"returns to the trough {r.days[t]} in to_trough")
        row.note = "; ".join(notes)
    return rows
