"""Per-fold runtime replays (trend_king, rl_ensemble, hybrid) and the gate's verdict on them.

Offline, on the bundled sample: five stocks, test years 2020 and 2021 with all
earlier history as warm-up. The ensembles are scripted numpy stand-ins, and a
format-2 ONNX pack of randomly initialised policies (needs ``onnx``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from invest.runtime.backtest.walkforward import (
    SERIES,
    replay_folds,
    replay_year,
    strategy_years,
)
from invest.runtime.data.sample import SampleData
from invest.runtime.paths import Paths
from invest.runtime.policy.cli import add_models_commands
from invest.trainer.config import PromotionGate
from invest.trainer.gate import TABLE_COLUMNS, chained_figures, evaluate, year_rows
from tests.runtime.backtest.packs import ConstEnsemble, LinearEnsemble, random_pack, write_pack

UNIVERSE = ("AAPL", "AMD", "BAC", "BBY", "CVX")
YEARS = (2020, 2021)
GATE = PromotionGate(validation_end=2020)
ALWAYS_OUT = (8.0, 0.0, 0.0)
NEVER_OUT = (-8.0, 4.0, 0.0)


def checks(out: dict[str, object]) -> dict[str, dict[str, object]]:
    return {str(c["check"]): c for c in out["degenerate"]}  # type: ignore[attr-defined]


def test_one_year_replays_every_strategy_and_both_benchmarks_in_the_same_run() -> None:
    r = replay_year(2021, UNIVERSE, SampleData(), pack=LinearEnsemble(scale=1.0))
    assert r is not None
    assert set(r.equity) == set(SERIES)
    n = len(r.days)
    assert n == 252
    assert {d.year for d in r.days} == {2021}
    assert all(len(eq) == n for eq in r.equity.values())
    # Every curve starts from the same fresh cash on the year's first session (orders
    # placed then fill on the next one).
    assert {float(eq[0]) for eq in r.equity.values()} == {10_000.0}
    assert r.rl is not None
    assert r.rl.symbol_days == n * len(UNIVERSE)
    assert sum(r.rl.actions) == r.rl.symbol_days
    assert r.rl.entropy_source == "policies"
    assert r.exposure is not None
    assert 0.0 < r.exposure <= r.budget
    assert r.trades["trend_king"] > 0
    assert r.trade_diff is not None
    assert r.total_return("index") == pytest.approx(
        float(r.equity["index"][-1] / r.equity["index"][0] - 1)
    )
    assert r.as_dict()["sessions"] == n


def test_without_a_pack_only_trend_king_and_the_benchmarks_are_replayed() -> None:
    r = replay_year(2021, UNIVERSE, SampleData())
    assert r is not None
    assert set(r.equity) == {"trend_king", "equal_weight", "index"}
    assert r.rl is None
    assert r.trade_diff is None
    assert replay_year(2031, UNIVERSE, SampleData()) is None  # no data that year
    cols = strategy_years([2021, 2031], UNIVERSE, SampleData())
    assert set(cols) == set(SERIES)
    assert cols["trend_king"][2021] == pytest.approx(r.total_return("trend_king"))
    assert cols["hybrid"] == {2021: None, 2031: None}


def test_an_always_out_ensemble_is_refused_hybrid_vetoes_everything() -> None:
    reps = replay_folds(
        YEARS, UNIVERSE, SampleData(), fold_packs=dict.fromkeys(YEARS, ConstEnsemble(ALWAYS_OUT))
    )
    assert [r.year for r in reps] == list(YEARS)
    for r in reps:
        assert r.rl is not None
        assert r.rl.actions[1:] == (0, 0)
        assert r.exposure == 0.0
        assert r.trades["hybrid"] == 0  # every trend_king pick vetoed
        assert r.trade_diff == r.trades["trend_king"] > 0
        assert np.all(r.equity["rl_ensemble"] == r.equity["rl_ensemble"][0])
    out = evaluate(reps, GATE)
    c = checks(out)
    assert c["one_action"]["passed"] is False
    assert c["one_action"]["value"] == 1.0
    assert c["constant_exposure"]["passed"] is False
    assert c["hybrid_is_trend_king"]["passed"] is True
    assert out["passed"] is False


def test_an_ensemble_that_never_votes_out_leaves_hybrid_identical_to_trend_king() -> None:
    reps = replay_folds(
        YEARS, UNIVERSE, SampleData(), fold_packs=dict.fromkeys(YEARS, ConstEnsemble(NEVER_OUT))
    )
    for r in reps:
        assert r.trade_diff == 0
        np.testing.assert_array_equal(r.equity["hybrid"], r.equity["trend_king"])
    out = evaluate(reps, GATE)
    assert checks(out)["hybrid_is_trend_king"]["passed"] is False
    assert out["passed"] is False


def test_the_replays_use_the_given_rl_settings_min_confidence_included() -> None:
    """The gate judges the rule that trades: the training config's threshold reaches hybrid."""
    p_out = float(np.exp(1.0) / (np.exp(1.0) + 2.0))  # logits (1, 0, 0): P(OUT) about 0.58
    pack = ConstEnsemble((1.0, 0.0, 0.0))
    vetoed = replay_year(2021, UNIVERSE, SampleData(), pack=pack, rl={"min_confidence": 0.5})
    kept = replay_year(2021, UNIVERSE, SampleData(), pack=pack, rl={"min_confidence": 0.7})
    assert vetoed is not None
    assert kept is not None
    assert 0.5 <= p_out < 0.7
    assert vetoed.trades["hybrid"] == 0  # every pick vetoed at 50%
    assert kept.trade_diff == 0  # none at 70%: hybrid trades like trend_king
    np.testing.assert_array_equal(kept.equity["hybrid"], kept.equity["trend_king"])


def test_random_small_weights_are_refused_for_near_uniform_probabilities() -> None:
    reps = replay_folds(
        YEARS,
        UNIVERSE,
        SampleData(),
        fold_packs={y: LinearEnsemble(scale=0.001, seed=y) for y in YEARS},
    )
    out = evaluate(reps, GATE)
    c = checks(out)["uniform_probabilities"]
    assert c["passed"] is False
    assert c["value"] > 0.999  # type: ignore[operator]
    assert out["passed"] is False


def test_a_random_initialised_onnx_pack_is_refused_by_the_degenerate_checks(
    tmp_path: Path,
) -> None:
    pytest.importorskip("onnx")
    packs = {y: random_pack(tmp_path / f"fold-{y}", scale=0.01) for y in YEARS}
    reps = replay_folds(YEARS, UNIVERSE, SampleData(), fold_packs=packs)
    assert all(r.rl is not None and r.rl.entropy_source == "policies" for r in reps)
    out = evaluate(reps, GATE)
    c = checks(out)["uniform_probabilities"]
    assert c["passed"] is False
    assert c["value"] > 0.99  # type: ignore[operator]
    assert out["passed"] is False
    assert out["sharpe_diff_ci"] is not None  # measured, even though refused


def _show(pack: Path) -> None:
    parser = argparse.ArgumentParser(prog="invest")
    add_models_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["models", "show", str(pack)])
    assert args.handler(args, Paths.resolve()) == 0


def test_models_show_prints_the_verdict_checks_ci_and_chained_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reps = replay_folds(
        YEARS, UNIVERSE, SampleData(), fold_packs=dict.fromkeys(YEARS, ConstEnsemble(ALWAYS_OUT))
    )
    promotion = evaluate(reps, GATE)
    table = {
        "columns": list(TABLE_COLUMNS),
        "rows": year_rows(reps, GATE.validation_end),
        "metric": "total_return",
        "chained": chained_figures(reps, GATE.validation_end),
    }
    # Through JSON, as the trainer writes it.
    sections = json.loads(json.dumps({"promotion": promotion, "walk_forward": table}))
    pack = write_pack(tmp_path / "gated", [b"not onnx"], **sections)
    _show(pack)
    out = capsys.readouterr().out
    assert "promotion: NOT passed (on the test years (2021) chained" in out
    assert "degenerate checks (any failure refuses the pack):" in out
    assert "FAIL one_action: 1.0000 (limit 0.9500)" in out
    assert "FAIL constant_exposure: 2021 0.0000" in out
    assert "ok   hybrid_is_trend_king:" in out
    assert "hybrid - trend_king Sharpe:" in out
    assert "90% CI [" in out
    assert "chained out of sample (test 2021; validation up to 2020):" in out
    tk = promotion["chained"]["test"]["trend_king"]
    assert f"{tk['cagr']:+.1%}" in out  # percentages, not fractions
    assert "year  split       trend_king" in out


def test_models_show_tolerates_a_pack_without_the_gate_fields(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pack = write_pack(
        tmp_path / "old",
        [b"not onnx"],
        promotion={"passed": True, "rule": "old rule", "values": {"oos_sharpe": 0.5}},
    )
    _show(pack)
    out = capsys.readouterr().out
    assert "promotion: passed (old rule)" in out
    assert "degenerate" not in out
    assert "chained" not in out
    _show(write_pack(tmp_path / "bare", [b"not onnx"]))
    assert "promotion" not in capsys.readouterr().out
