"""``invest train``: walk-forward training, ONNX export with parity, and a model pack.

The runtime CLI calls :func:`main` through importlib when the ``train`` extra is
installed. Output: ``<out>/pack/`` (the model pack), ``<out>/folds/<year>/seed-<s>/``
(SB3 model, metrics.csv/json, parity.json, policy.onnx) and ``<out>/walk_forward.json``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

from invest.runtime.clock import utcnow
from invest.runtime.errors import InvestError
from invest.runtime.logs import setup_logging

from . import hmm_regime
from .config import TrainConfig, TrainConfigError, load_train_config
from .optimise import OptunaMissingError

__all__ = ["build_parser", "main"]

logger = logging.getLogger("invest.trainer")

#: Exit status of a run whose pack failed the promotion gate (and was not exported).
NOT_PROMOTED = 3


def build_parser() -> argparse.ArgumentParser:
    """The ``invest train`` argument parser."""
    p = argparse.ArgumentParser(
        prog="invest train",
        description="Train the RL ensemble walk-forward and write a verified model pack.",
    )
    p.add_argument("--quick", action="store_true", help="tiny preset: minutes on a CPU")
    p.add_argument("--config", type=Path, help="training config (TOML)")
    p.add_argument("--out", type=Path, help="run folder (default: train-runs/<name>-<time>)")
    p.add_argument("--years", help="walk-forward test years, e.g. 2005-2022 or 2022")
    p.add_argument("--seeds", type=int, help="policies per fold (the ensemble size)")
    p.add_argument("--timesteps", type=int, help="environment steps per policy")
    p.add_argument("--workers", type=int, help="parallel training processes")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], help="torch device")
    p.add_argument("--trials", type=int, help="Optuna trials before training (needs optuna)")
    p.add_argument("--storage", help="Optuna RDB storage URL shared by workers")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--export-unpromoted",
        action="store_true",
        help="write the pack even when it fails the promotion gate (marked NOT passed; "
        "real-money accounts refuse it unless rl.allow_unpromoted); --quick implies it",
    )
    jobs = p.add_subparsers(dest="job", metavar="{hmm-regime}", help="instead of the RL ensemble:")
    hmm_regime.add_arguments(jobs.add_parser("hmm-regime", help=hmm_regime.DESCRIPTION))
    return p


def _years(text: str | None) -> tuple[int | None, int | None]:
    if text is None:
        return None, None
    try:
        first, _, last = text.partition("-")
        return int(first), int(last or first)
    except ValueError:
        raise TrainConfigError(f"--years: expected YEAR or FIRST-LAST, got {text!r}") from None


def resolve_config(args: argparse.Namespace) -> TrainConfig:
    """The config file (or preset) with the command-line overrides applied.

    Raises:
        TrainConfigError: invalid file or values.
    """
    config = load_train_config(args.config, quick=args.quick)
    start, end = _years(args.years)
    optuna: dict[str, Any] = config.optuna.model_dump()
    if args.trials is not None:
        optuna["trials"] = args.trials
    if args.storage is not None:
        optuna["storage"] = args.storage
    seeds: dict[str, Any] = {}
    if args.seeds:
        first = config.seed_base
        seeds = {"n_policies": args.seeds, "seeds": tuple(range(first, first + args.seeds))}
    return config.with_overrides(
        start_year=start,
        end_year=end,
        total_timesteps=args.timesteps,
        workers=args.workers,
        device=args.device,
        optuna=optuna,
        progress=False if args.no_progress else None,
        **seeds,
    )


def _run(config: TrainConfig, out: Path, export_unpromoted: bool = False) -> int:
    from .dataset import load_market_arrays
    from .pack import run_pack_step, write_pack
    from .walkforward import promote, replay_folds, run_folds

    t0 = time.perf_counter()
    data = load_market_arrays(config.symbols, config.index_symbol, config.context)
    hp = None
    if config.optuna.trials > 0:
        from .optimise import best_hyperparameters

        hp = best_hyperparameters(config, data, out)
    result = run_folds(config, data, config.test_years, out, hyperparameters=hp)
    # One pack per fold, so the runtime replays each test year with its own ensemble.
    result = replay_folds(result, config, data, out)
    promotion = promote(config.promotion, result)
    # The gate decides the export: a pack that failed it is written only on request.
    pack = None
    if promotion["passed"] or export_unpromoted:
        pack = write_pack(out / "pack", config, data, result, promotion)
        run_pack_step(pack)
    wall = time.perf_counter() - t0
    cols = result.runtime_columns
    for y in result.years:
        shown = ", ".join(
            f"{name} {_pct(cols.get(name, {}).get(y.year))}"
            for name in ("trend_king", "rl_ensemble", "hybrid", "equal_weight", "index")
        )
        drift = (
            f" (entropy {y.entropy:.0%} of uniform, KL from init {y.kl_from_initial:.3f})"
            if y.entropy is not None and y.kl_from_initial is not None
            else ""
        )
        print(f"{y.year}: {shown}{drift}")
    parity = max(j.parity["max_abs_logit_diff"] for j in result.jobs)
    print(f"parity: {len(result.jobs)} policies passed, max |logit diff| {parity:.1e}")
    print(f"promotion: {'PASSED' if promotion['passed'] else 'not passed'} ({promotion['rule']})")
    for c in promotion.get("criteria", []) + promotion.get("degenerate", []):
        if not c["passed"]:
            print(f"  failed: {c['check']}: {c['detail']} (value {c['value']})")
    print(f"wall time: {wall:.1f} s")
    if pack is None:
        print(
            f"no pack exported: it did not pass the promotion gate. The walk-forward table is in "
            f"{out / 'walk_forward.json'}; --export-unpromoted writes the pack anyway, marked NOT passed."
        )
        return NOT_PROMOTED
    print(f"pack: {pack} ({len(result.fold_jobs(result.folds[-1].year))} policies)")
    return 0


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v:+.2%}"


def main(argv: list[str]) -> int:
    """Run ``invest train`` with ``argv`` (without the program and subcommand names).

    Returns:
        0 when the pack passed its promotion gate (or ``--export-unpromoted``) and is
        written and verified; 3 (:data:`NOT_PROMOTED`) when training worked but the
        gate refused the pack, so none was exported; 2 on a configuration, data,
        parity or pack error, printed as one line on stderr.
    """
    args = build_parser().parse_args(argv)
    if args.job == "hmm-regime":
        try:
            return hmm_regime.run(args)
        except (InvestError, ValueError) as e:
            print(f"invest train hmm-regime: error: {e}", file=sys.stderr)
            return 2
    # torch loads only past the parser: `invest train --help` works without the extra.
    from .export import ParityError
    from .pack import PackError

    setup_logging(
        level=logging.INFO, stream=sys.stderr, fmt="%(levelname)s %(message)s", keep_existing=True
    )
    try:
        config = resolve_config(args)
        stamp = utcnow().strftime("%Y%m%d-%H%M%S")
        out = args.out or Path("train-runs") / f"{config.name}-{stamp}"
        # --quick is a smoke run of the whole path: it always writes its pack, marked
        # with the gate's verdict (real-money accounts refuse an unpromoted one).
        return _run(config, out, export_unpromoted=args.export_unpromoted or args.quick)
    except (TrainConfigError, OptunaMissingError, ParityError, PackError, ValueError) as e:
        print(f"invest train: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
