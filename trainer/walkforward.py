"""Expanding-window walk-forward with an embargo; folds x seeds run as parallel processes.

For each test year ``Y``: train on ``train_start .. (first session of Y - 1 - embargo)``,
test on ``Y``. The fold's ``n_policies`` seeds form its ensemble, evaluated out of sample
on ``Y`` by replaying it through the runtime's own cycle (:func:`with_runtime_columns`,
gated by :mod:`invest.trainer.gate`). Every (fold, seed) is an independent job in a
``concurrent.futures.ProcessPoolExecutor`` (spawned workers, so no forked torch
threads); the optional hyperparameter search uses Optuna (see
:mod:`invest.trainer.optimise`). There is no scheduler of our own.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import queue
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import Hyperparameters, PromotionGate, TrainConfig
from .dataset import MarketArrays
from .train import Job, JobResult, run_job

if TYPE_CHECKING:
    from invest.runtime.backtest.walkforward import YearReplay

__all__ = [
    "Fold",
    "WalkForwardResult",
    "default_workers",
    "plan_folds",
    "promote",
    "run_folds",
    "run_jobs",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fold:
    """One walk-forward fold.

    Attributes:
        year: the test year (the fold's key).
        train_rows: training row range ``[lo, hi)``, embargo applied.
        test_rows: test row range ``[lo, hi)``.
        train: first and last training session (ISO dates).
        test: first and last test session (ISO dates).
        embargo_days: sessions left out between train and test.
    """

    year: int
    train_rows: tuple[int, int]
    test_rows: tuple[int, int]
    train: tuple[str, str]
    test: tuple[str, str]
    embargo_days: int

    def window(self) -> dict[str, Any]:
        """The manifest's ``training.windows`` entry."""
        return {
            "fold": self.year,
            "train": list(self.train),
            "test": list(self.test),
            "embargo_days": self.embargo_days,
        }


@dataclass(frozen=True)
class YearResult:
    """What training did in one fold: how far its policies moved from their initialisation.

    The fold's out-of-sample figures come from the runtime replays (:attr:`WalkForwardResult.replays`).

    Attributes:
        year: the test year.
        entropy: mean action entropy of the fold's policies at the end, as a share of uniform.
        entropy_initial: the same before training.
        kl_from_initial: mean KL(final || initial) over a probe sequence.
    """

    year: int
    entropy: float | None = None
    entropy_initial: float | None = None
    kl_from_initial: float | None = None

    @classmethod
    def of(cls, year: int, jobs: Sequence[JobResult]) -> YearResult:
        """The mean drift of ``jobs`` (one fold's policies)."""

        def mean(key: str) -> float | None:
            vals = [j.drift[key] for j in jobs if j.drift.get(key) is not None]
            return float(f"{sum(vals) / len(vals):.4g}") if vals else None

        return cls(year, mean("entropy_final"), mean("entropy_initial"), mean("kl_from_initial"))

    def to_json(self) -> dict[str, Any]:
        """Plain dict for the manifest."""
        return asdict(self)


@dataclass(frozen=True)
class WalkForwardResult:
    """Everything a pack needs from a walk-forward run.

    Attributes:
        folds: the folds, oldest first.
        jobs: finished jobs, sorted by (fold, seed).
        years: per test year, how far training moved the fold's policies.
        summary: the mean drift over the folds.
        hyperparameters: the hyperparameters trained with.
        timesteps: steps per policy.
        seeds: seeds per fold.
    """

    folds: tuple[Fold, ...]
    jobs: tuple[JobResult, ...]
    years: tuple[YearResult, ...]
    summary: dict[str, float]
    hyperparameters: Hyperparameters
    timesteps: int
    seeds: tuple[int, ...]
    #: Per-year total returns of the runtime replays (``trend_king``, ``rl_ensemble``,
    #: ``hybrid``, ``equal_weight``, ``index``), filled by :func:`with_runtime_columns`.
    runtime_columns: dict[str, dict[int, float | None]] = field(default_factory=dict)
    #: Each test year replayed through the runtime with its fold's pack (daily equity,
    #: RL statistics): what :func:`promote` gates. Empty until :func:`with_runtime_columns`.
    replays: tuple[YearReplay, ...] = ()
    #: Years up to this one are validation in the table and not gated (``promotion.validation_end``).
    validation_end: int = PromotionGate().validation_end

    def fold_jobs(self, year: int) -> list[JobResult]:
        """Jobs of fold ``year``, by seed."""
        return sorted((j for j in self.jobs if j.fold == year), key=lambda j: j.seed)

    def table(self) -> dict[str, Any]:
        """The manifest's ``walk_forward`` section (metric: total return per calendar year).

        With :attr:`replays` (after :func:`with_runtime_columns`): every column comes from
        the runtime replays (:data:`gate.TABLE_COLUMNS`, each row marked ``validation`` or
        ``test``), with ``chained`` figures per split (CAGR, Sharpe, max drawdown) and
        each year's RL statistics in ``replays``. Before that, the trainer's own
        evaluation of rl_ensemble and the benchmarks, trend_king and hybrid null.
        ``details`` and ``summary`` are always the trainer's evaluation.
        """
        if self.replays:
            from .gate import TABLE_COLUMNS, chained_figures, year_rows

            return {
                "columns": list(TABLE_COLUMNS),
                "rows": year_rows(self.replays, self.validation_end),
                "metric": "total_return",
                "validation_end": self.validation_end,
                "chained": chained_figures(self.replays, self.validation_end),
                "replays": [r.as_dict() for r in self.replays],
                "details": [y.to_json() for y in self.years],
                "summary": self.summary,
            }
        return {
            "columns": ["year"],
            "rows": [[y.year] for y in self.years],
            "metric": "total_return (not replayed yet)",
            "details": [y.to_json() for y in self.years],
            "summary": self.summary,
        }


def default_workers() -> int:
    """``min(2, CPU count)``."""
    return max(1, min(2, os.cpu_count() or 1))


def plan_folds(config: TrainConfig, data: MarketArrays, years: Sequence[int]) -> list[Fold]:
    """The expanding-window folds for ``years``.

    Raises:
        ValueError: a test year has no data, or leaves no training rows.
    """
    lo, _ = data.rows(config.train_start, None)
    folds = []
    for year in years:
        tlo, thi = data.year_rows(year)
        if thi - tlo < 3:
            raise ValueError(f"the data has no sessions in test year {year}")
        hi = tlo - config.embargo_days
        if hi - lo < config.env.episode_days + 2:
            raise ValueError(
                f"fold {year}: {max(hi - lo, 0)} training sessions, fewer than an episode "
                f"({config.env.episode_days} + 2)"
            )
        folds.append(
            Fold(
                year=year,
                train_rows=(lo, hi),
                test_rows=(tlo, thi),
                train=(data.day(lo).isoformat(), data.day(hi - 1).isoformat()),
                test=(data.day(tlo).isoformat(), data.day(thi - 1).isoformat()),
                embargo_days=config.embargo_days,
            )
        )
    return folds


class _BarSink:
    """Progress sink for inline jobs: updates the bar directly."""

    def __init__(self, bar: Any) -> None:
        self.bar = bar

    def put(self, item: tuple[str, int]) -> None:
        self.bar.update(item[1])


def run_jobs(jobs: Sequence[Job], workers: int, progress: bool = True) -> list[JobResult]:
    """Run jobs inline (``workers == 1``) or in a spawned process pool.

    Raises:
        Exception: the first job's failure (the remaining jobs are cancelled).
    """
    from tqdm.auto import tqdm

    total = sum(j.timesteps for j in jobs)
    with tqdm(total=total, unit="step", disable=not progress, desc="train") as bar:
        if workers <= 1 or len(jobs) <= 1:
            return [run_job(j, _BarSink(bar)) for j in jobs]
        ctx = multiprocessing.get_context("spawn")
        with ctx.Manager() as manager:
            q = manager.Queue()
            with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
                futures = [pool.submit(run_job, j, q) for j in jobs]
                pending = set(futures)
                while pending:
                    done, pending = wait(pending, timeout=0.5, return_when=FIRST_EXCEPTION)
                    _drain(q, bar)
                    for f in done:
                        if f.exception() is not None:
                            pool.shutdown(wait=False, cancel_futures=True)
                            raise f.exception()  # type: ignore[misc]
                _drain(q, bar)
                return [f.result() for f in futures]


def _drain(q: Any, bar: Any) -> None:
    while True:
        try:
            _, n = q.get_nowait()
        except queue.Empty:
            return
        bar.update(n)


def run_folds(
    config: TrainConfig,
    data: MarketArrays,
    years: Sequence[int],
    out_dir: Path,
    *,
    hyperparameters: Hyperparameters | None = None,
    timesteps: int | None = None,
    seeds: Sequence[int] | None = None,
    workers: int | None = None,
) -> WalkForwardResult:
    """Train every (fold, seed), then evaluate each fold's ensemble on its test year.

    Args:
        config: the run's config.
        data: market arrays (the same the workers load).
        years: test years.
        out_dir: run folder; jobs write to ``<out_dir>/folds/<year>/seed-<seed>/``.
        hyperparameters: override of ``config.hyperparameters`` (Optuna trials).
        timesteps: override of ``config.total_timesteps``.
        seeds: override of ``config.policy_seeds``.
        workers: parallel processes; None uses ``config.workers`` or :func:`default_workers`.

    Returns:
        The walk-forward result (also written to ``<out_dir>/walk_forward.json``).
    """
    hp = hyperparameters or config.hyperparameters
    steps = timesteps or config.total_timesteps
    seeds = tuple(seeds or config.policy_seeds)
    folds = plan_folds(config, data, years)
    n_workers = workers or config.workers or default_workers()

    def job(f: Fold, seed: int, init_from: str | None, n: int) -> Job:
        return Job(
            fold=f.year,
            seed=seed,
            rows=f.train_rows,
            out_dir=str(out_dir / "folds" / str(f.year) / f"seed-{seed}"),
            config=config,
            hyperparameters=hp,
            timesteps=n,
            init_from=init_from,
        )

    if config.warm_start_timesteps is None or len(folds) == 1:
        results = run_jobs(
            [job(f, s, None, steps) for f in folds for s in seeds], n_workers, config.progress
        )
    else:
        # Each fold fine-tunes the previous fold's policy of the same seed: folds run in
        # order, the seeds of a fold in parallel.
        results, previous = [], {}
        for k, f in enumerate(folds):
            n = steps if k == 0 else config.warm_start_timesteps
            fold_jobs = [job(f, s, previous.get(s), n) for s in seeds]
            done = run_jobs(fold_jobs, n_workers, config.progress)
            previous = {r.seed: r.model for r in done}
            results += done
    results = sorted(results, key=lambda r: (r.fold, r.seed))
    year_results = [YearResult.of(f.year, [r for r in results if r.fold == f.year]) for f in folds]
    drifts = [y for y in year_results if y.entropy is not None]
    result = WalkForwardResult(
        folds=tuple(folds),
        jobs=tuple(results),
        years=tuple(year_results),
        summary={
            "entropy": round(sum(y.entropy or 0 for y in drifts) / max(len(drifts), 1), 4),
            "kl_from_initial": round(
                sum(y.kl_from_initial or 0 for y in drifts) / max(len(drifts), 1), 4
            ),
        },
        hyperparameters=hp,
        timesteps=steps,
        seeds=seeds,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "walk_forward.json").write_text(json.dumps(result.table(), indent=2))
    return result


def with_runtime_columns(
    result: WalkForwardResult,
    config: TrainConfig,
    symbols: Sequence[str],
    fold_packs: Mapping[int, Path],
    out_dir: Path,
) -> WalkForwardResult:
    """Replay each test year through the runtime: trend_king, and rl_ensemble and hybrid
    with that fold's own pack, so every figure stays out of sample.

    Needs only the result's test years and the fold packs' paths (one replay per
    strategy per year, :func:`invest.runtime.backtest.walkforward.replay_folds`).

    Returns:
        ``result`` with :attr:`~WalkForwardResult.replays`, ``runtime_columns`` and
        ``validation_end`` filled; ``<out_dir>/walk_forward.json`` is rewritten.
    """
    from invest.runtime.backtest.walkforward import replay_folds, year_returns
    from invest.runtime.data import open_source

    years = [y.year for y in result.years]
    replays = replay_folds(
        years,
        symbols,
        open_source(config.data),
        benchmark=config.index_symbol,
        fold_packs=fold_packs,
        fills=config.fills.model_dump(mode="json"),
        # The runtime's rule with the training config's threshold (rl.min_confidence).
        rl={"min_confidence": config.min_confidence},
    )
    done = replace(
        result,
        runtime_columns=year_returns(replays, years),
        replays=tuple(replays),
        validation_end=config.promotion.validation_end,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "walk_forward.json").write_text(json.dumps(done.table(), indent=2))
    return done


def replay_folds(
    result: WalkForwardResult, config: TrainConfig, data: MarketArrays, out_dir: Path
) -> WalkForwardResult:
    """Write each fold's pack and replay its test year through the runtime (the gate's input).

    A fold's pack is never promoted on its own: the gate judges the final pack on all
    folds' replays.
    """
    from .pack import write_pack

    fold_only = {
        "passed": False,
        "rule": "a walk-forward fold's pack: the gate is applied to the final pack",
        "values": {},
    }
    fold_packs = {
        f.year: write_pack(
            out_dir / "folds" / str(f.year) / "pack", config, data, result, fold_only, fold=f.year
        )
        for f in result.folds
    }
    return with_runtime_columns(result, config, data.symbols, fold_packs, out_dir)


def promote(gate: PromotionGate, result: WalkForwardResult) -> dict[str, Any]:
    """The manifest's ``promotion`` section.

    Args:
        gate: the thresholds.
        result: a walk-forward result after :func:`with_runtime_columns`: the gate of
            :func:`invest.trainer.gate.evaluate` (runtime replays, test years chained,
            degenerate checks, bootstrap CI). A result without replays is refused.

    Returns:
        ``passed``, ``rule``, ``values`` and, from the replays, ``criteria``,
        ``degenerate``, ``sharpe_diff_ci``, ``test_years``, ``validation_end``, ``chained``.
    """
    if not result.replays:
        return {
            "passed": False,
            "rule": "the gate needs the runtime replays of every fold (with_runtime_columns)",
            "values": {},
        }
    from .gate import evaluate

    return evaluate(result.replays, gate)
