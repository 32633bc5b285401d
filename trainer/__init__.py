"""Invest trainer: RecurrentPPO walk-forward training and ONNX export (needs the `train` extra).

Modules: ``config`` (typed settings, the quick preset), ``dataset`` (market arrays and
features, computed once), ``env`` (the portfolio environment: K portfolios x M symbol
slots as one SB3 VecEnv), ``callbacks`` (SB3 metrics and progress), ``train`` (one fold x
seed job, warm starts, policy drift), ``export`` (ONNX wrapper and parity), ``walkforward``
(folds, process pool, runtime replays of each fold), ``gate`` (the promotion gate and its
degenerate checks), ``optimise`` (optional Optuna search), ``pack`` (model pack writer and
checks), ``cli``. See docs/rl.md.

Importing this package is cheap: torch and sb3-contrib load only with the modules that
need them.
"""

from __future__ import annotations

__all__ = ["main"]


def main(argv: list[str]) -> int:
    """Run ``invest train`` (see :func:`invest.trainer.cli.main`)."""
    from .cli import main as _main

    return _main(argv)
