"""Walk-forward folds, the ensemble's OOS evaluation and the promotion gate."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sb3_contrib")

from invest.runtime.brokers.fills import FillModel
from invest.trainer.config import PromotionGate
from invest.trainer.env import BUY, HOLD, SELL
from invest.trainer.evaluate import (
    ensemble_actions,
    evaluate_year,
    max_drawdown,
    sharpe,
    summarise,
)
from invest.trainer.walkforward import plan_folds, promote


class FixedPolicy:
    """An onnxruntime-like session that always prefers one action per symbol."""

    def __init__(self, actions: list[int], hidden: int = 4) -> None:
        self.actions = np.asarray(actions)
        self.hidden = hidden

    def get_inputs(self) -> list[Any]:
        class Input:
            name = "h_in"
            shape = (1, "B", self.hidden)

        return [Input()]

    def run(self, _names: Any, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        b = feeds["obs"].shape[0]
        logits = np.zeros((b, 3), np.float32)
        logits[np.arange(b), self.actions[:b]] = 1.0
        return [logits, feeds["h_in"], feeds["c_in"]]


def vote(actions_per_policy: list[list[int]], min_confidence: float = 0.5) -> list[int]:
    sessions = [FixedPolicy(a) for a in actions_per_policy]
    b = len(actions_per_policy[0])
    states = [(np.zeros((1, b, 4), np.float32),) * 2 for _ in sessions]
    action, _ = ensemble_actions(
        sessions, np.zeros((b, 17), np.float32), states, np.ones(b, np.float32), min_confidence
    )
    return action.tolist()


def test_the_ensemble_takes_the_majority_vote() -> None:
    assert vote([[BUY, SELL], [BUY, SELL], [HOLD, BUY]]) == [BUY, SELL]


def test_a_split_or_weak_vote_means_hold() -> None:
    assert vote([[BUY, SELL], [SELL, BUY]]) == [HOLD, HOLD]
    assert vote([[BUY], [SELL], [HOLD]]) == [HOLD]
    assert vote([[BUY], [BUY], [SELL]], min_confidence=0.7) == [HOLD]


def test_folds_expand_and_leave_the_embargo_out(market: Any, tiny_config: Any) -> None:
    config = tiny_config.with_overrides(start_year=2019, end_year=2021, embargo_days=10)
    folds = plan_folds(config, market, config.test_years)
    assert [f.year for f in folds] == [2019, 2020, 2021]
    for f in folds:
        assert f.train_rows[0] == 0
        assert f.train_rows[1] == f.test_rows[0] - 10
        assert f.train[1] < f.test[0]
        assert f.test[0].startswith(str(f.year))
        assert f.test[1].startswith(str(f.year))
    assert folds[0].train_rows[1] < folds[1].train_rows[1] < folds[2].train_rows[1]


def test_an_always_buying_ensemble_tracks_equal_weight_minus_costs(market: Any) -> None:
    n = len(market.symbols)
    always = [FixedPolicy([BUY] * n) for _ in range(3)]
    year = evaluate_year(always, market, 2021, FillModel())
    lo, hi = market.year_rows(2021)
    # Bought at the second close of the year, then rebalanced daily to equal weight.
    rets = market.close[lo + 2 : hi] / market.close[lo + 1 : hi - 1] - 1
    approx = np.prod(1 + rets.mean(axis=1)) - 1
    assert year.total_return == pytest.approx(approx, abs=0.01)
    assert year.total_return < approx  # costs are paid
    assert year.exposure == pytest.approx(1.0)
    assert year.trades == n


def test_a_never_buying_ensemble_stays_in_cash(market: Any) -> None:
    n = len(market.symbols)
    year = evaluate_year([FixedPolicy([SELL] * n)], market, 2021)
    assert year.total_return == 0.0
    assert year.sharpe == 0.0
    assert year.max_drawdown == 0.0
    assert year.index_bh is not None


def test_metrics_of_known_series() -> None:
    assert max_drawdown(np.array([1.0, 1.2, 0.9, 1.3])) == pytest.approx(0.25)
    assert sharpe(np.zeros(10)) == 0.0
    daily = np.array([0.01, -0.005] * 50)
    assert sharpe(daily) == pytest.approx(daily.mean() / daily.std(ddof=1) * np.sqrt(252))


def test_the_promotion_gate_needs_both_sharpe_and_drawdown() -> None:
    gate = PromotionGate(min_sharpe=0.5, max_drawdown=0.2)
    assert promote(gate, {"oos_sharpe": 0.6, "oos_max_drawdown": 0.1})["passed"]
    assert not promote(gate, {"oos_sharpe": 0.4, "oos_max_drawdown": 0.1})["passed"]
    assert not promote(gate, {"oos_sharpe": 0.9, "oos_max_drawdown": 0.3})["passed"]


def test_summary_chains_the_test_years(market: Any) -> None:
    n = len(market.symbols)
    years = [evaluate_year([FixedPolicy([BUY] * n)], market, y) for y in (2020, 2021)]
    s = summarise(years)
    chained = (1 + years[0].total_return) * (1 + years[1].total_return) - 1
    assert s["oos_total_return"] == pytest.approx(chained)
    assert s["oos_years"] == 2


def test_run_folds_trains_exports_and_evaluates_every_seed(
    market: Any, tiny_config: Any, tmp_path: Any
) -> None:
    from invest.trainer.walkforward import run_folds

    result = run_folds(tiny_config, market, [2021], tmp_path, timesteps=128, workers=1)
    assert [(j.fold, j.seed) for j in result.jobs] == [(2021, 0), (2021, 1)]
    assert all(j.parity["passed"] for j in result.jobs)
    assert [y.year for y in result.years] == [2021]
    assert (tmp_path / "walk_forward.json").is_file()
    for seed in (0, 1):
        run = tmp_path / "folds" / "2021" / f"seed-{seed}"
        assert {"metrics.csv", "metrics.json", "model.zip", "policy.onnx", "parity.json"} <= {
            p.name for p in run.iterdir()
        }


def test_an_optuna_search_returns_valid_hyperparameters(
    market: Any, tiny_config: Any, tmp_path: Any
) -> None:
    pytest.importorskip("optuna")
    from invest.trainer.optimise import best_hyperparameters

    config = tiny_config.with_overrides(
        start_year=2021,
        optuna={"trials": 1, "storage": f"sqlite:///{tmp_path}/study.db", "validation_years": 1},
        total_timesteps=256,
        n_policies=1,
    )
    hp = best_hyperparameters(config, market, tmp_path, workers=1)
    assert hp.lstm_hidden_size == config.hyperparameters.lstm_hidden_size
    assert (tmp_path / "study.db").is_file()
