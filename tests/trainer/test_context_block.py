"""A recipe's ``context`` option: the trainer builds the runtime's context block, trains and
exports a wider policy, and the runtime serves that pack the same columns."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sb3_contrib")

from invest.runtime import features
from invest.runtime.config.context import ContextConfig
from invest.runtime.data.sample import vix
from invest.runtime.domain import AccountState
from invest.runtime.policy import pack as runtime_pack
from invest.runtime.policy.contract import OBS_DIM, Normaliser, context_spec_hash, obs_layout
from invest.runtime.policy.ensemble import OnnxEnsemble
from invest.runtime.policy.observe import Observer
from invest.trainer.config import TrainConfig, TrainConfigError, load_train_config
from invest.trainer.dataset import load_market_arrays
from invest.trainer.env import fit_normaliser, rollout_sequence
from invest.trainer.pack import read_manifest, write_pack
from invest.trainer.train import NORMALISER_FILE, JobResult, fold_normaliser, make_sim
from invest.trainer.walkforward import WalkForwardResult, YearResult, plan_folds, promote

from .support import PARITY_PORTFOLIOS, PARITY_STEPS, make_model

RECIPES = Path(__file__).parents[2] / "trainer" / "recipes"
VIX = ("vix",)


@pytest.fixture(scope="module")
def ctx_config(tiny_config: Any) -> TrainConfig:
    return TrainConfig.model_validate({**tiny_config.model_dump(), "context": ["vix"]})


@pytest.fixture(scope="module")
def ctx_market() -> Any:
    return load_market_arrays(None, "SP500", VIX)


def test_the_recipe_option_is_checked_and_the_default_recipe_has_none(tmp_path: Path) -> None:
    assert load_train_config(RECIPES / "default-cpu.toml").context == ()
    assert load_train_config(RECIPES / "context-vix-example.toml").context == VIX
    bad = tmp_path / "bad.toml"
    bad.write_text('context = ["vix", "vxx"]\n')
    with pytest.raises(TrainConfigError, match=r"context: unknown \['vxx'\]"):
        load_train_config(bad)


def test_the_dataset_block_is_the_sample_vix_lagged_one_session(ctx_market: Any) -> None:
    assert ctx_market.context_keys == VIX
    assert ctx_market.context.shape == (len(ctx_market.dates), 2)
    vd, vv = vix()
    lo, hi = ctx_market.year_rows(2016)
    for t in range(lo, hi):
        prev = vv[np.searchsorted(vd, ctx_market.dates[t]) - 1]  # the last close before t
        assert ctx_market.context[t, 0] == pytest.approx(np.log(prev / 20.0))
    known = ctx_market.context[:, 1].astype(bool)
    assert known[lo:hi].all()
    assert not known[ctx_market.year_rows(2021)[0] :].any()  # the sample's VIX ends 2019-01-03
    assert np.isnan(ctx_market.context[~known, 0]).all()


def test_a_series_the_training_data_never_has_is_refused_in_one_line() -> None:
    with pytest.raises(ValueError, match=r"'us10y' has no value in the training data.*sample"):
        load_market_arrays(None, "SP500", ("us10y",))


def test_the_env_appends_the_normalised_block_to_every_slot(
    ctx_config: Any, ctx_market: Any, train_rows: tuple[int, int], market: Any
) -> None:
    norm = fold_normaliser(ctx_market, train_rows)
    assert norm.context == VIX
    assert norm.layout == obs_layout(VIX)
    sim = make_sim(ctx_config, ctx_market, train_rows, 3, seed=4, normaliser=norm)
    obs = sim.observe()
    assert obs.shape == (15, OBS_DIM + 2)
    want = norm.apply(
        np.concatenate([np.zeros((3, OBS_DIM)), ctx_market.context[sim.t]], axis=1).astype(
            np.float32
        )
    )[:, OBS_DIM:]
    np.testing.assert_array_equal(obs[:, OBS_DIM:], np.repeat(want, 5, axis=0))
    # The 27 fields are those of the same sim without the block.
    plain = make_sim(
        ctx_config, market, train_rows, 3, seed=4, normaliser=fit_normaliser(market, train_rows)
    )
    assert plain.observe().shape == (15, OBS_DIM)
    # A normaliser and data of different recipes do not mix.
    with pytest.raises(ValueError, match="normaliser declares context"):
        make_sim(ctx_config, market, train_rows, 3, seed=4, normaliser=norm)


@pytest.fixture(scope="module")
def ctx_pack(
    ctx_config: Any, ctx_market: Any, train_rows: tuple[int, int], tmp_path_factory: Any
) -> Path:
    """A tiny pack trained with ``context = ["vix"]``, exported with parity, written as a pack."""
    from invest.trainer.export import export_policy

    folds = plan_folds(ctx_config, ctx_market, [2021])
    sim = make_sim(ctx_config, ctx_market, train_rows, PARITY_PORTFOLIOS, seed=3)
    obs, starts = rollout_sequence(sim, PARITY_STEPS, seed=3)
    out = tmp_path_factory.mktemp("ctx-onnx")
    exported = []
    for seed in (0, 1):
        model = make_model(ctx_config, ctx_market, train_rows, seed, steps=320)
        path = out / f"policy-{seed}.onnx"
        exported.append((path, export_policy(model.policy, path, obs, starts).to_json()))
    norm = fold_normaliser(ctx_market, folds[0].train_rows)
    (out / NORMALISER_FILE).write_text(json.dumps(norm.to_json()))
    drift = {"entropy_initial": 0.99, "entropy_final": 0.9, "kl_from_initial": 0.01}
    jobs = tuple(
        JobResult(2021, seed, str(path), "", report, 320, 1.0, 320.0, "cpu", drift)
        for seed, (path, report) in enumerate(exported)
    )
    result = WalkForwardResult(
        tuple(folds),
        jobs,
        (YearResult.of(2021, jobs),),
        {"entropy": 0.9},
        ctx_config.hyperparameters,
        320,
        (0, 1),
    )
    dest = tmp_path_factory.mktemp("ctx-run") / "pack"
    return write_pack(dest, ctx_config, ctx_market, result, promote(ctx_config.promotion, result))


def test_the_pack_declares_the_block_and_the_runtime_loads_it(ctx_pack: Path) -> None:
    m = read_manifest(ctx_pack)
    assert m["observation"]["context"] == ["vix"]
    assert m["observation"]["dim"] == OBS_DIM + 2
    assert m["observation"]["layout"][-2:] == ["ctx_vix", "ctx_vix_known"]
    assert m["normalisation"]["layout"] == m["observation"]["layout"]
    assert m["feature_spec"]["hash"] == context_spec_hash(features.spec_hash(), VIX)
    assert m["feature_spec"]["hash"] != features.spec_hash()
    report = runtime_pack.verify_pack(ctx_pack)  # the ONNX graphs' input width checked too
    assert report.ok, report.reason
    pack = runtime_pack.load_pack(ctx_pack)
    assert pack.context == VIX
    assert pack.obs_dim == OBS_DIM + 2


def _vix_dir(folder: Path, scale: float) -> Path:
    vd, vv = vix()
    folder.mkdir()
    rows = "".join(f"{d},{v * scale:.4f}\n" for d, v in zip(vd.astype(str), vv, strict=True))
    (folder / "VIX.csv").write_text("date,close\n" + rows)
    return folder


def test_the_trained_policy_sees_the_vix(ctx_pack: Path, tmp_path: Path) -> None:
    from invest.runtime.data.sample import SampleData
    from invest.runtime.market import Market

    pack = runtime_pack.load_pack(ctx_pack)
    ens = OnnxEnsemble(pack)
    src = SampleData()
    market = Market(src.load(list(src.symbols())))
    syms = ("AAPL", "MSFT", "KO", "XOM", "JNJ")
    t = int(np.searchsorted(market.dates, np.datetime64("2016-06-15")))
    state = AccountState("a", Decimal(10000))
    outs = []
    for name, scale in (("same", 1.0), ("doubled", 2.0)):
        cfg = ContextConfig(source=f"csv:{_vix_dir(tmp_path / name, scale)}")
        ob = Observer(market, syms, "SP500", pack.normaliser, cfg).observe(t, state)
        h = np.zeros((pack.layers, len(syms), pack.hidden), np.float32)
        res = ens.step(ob.obs, np.stack([h] * 2), np.stack([h] * 2), np.ones(len(syms), np.float32))
        outs.append((ob.obs, res.logits))
    (a, la), (b, lb) = outs
    norm: Normaliser = pack.normaliser
    # Only ctx_vix moves, by log(2) in the pack's scale; the flag stays on.
    np.testing.assert_allclose(
        b[:, OBS_DIM] - a[:, OBS_DIM], np.log(2.0) / norm.std[OBS_DIM], rtol=1e-4
    )
    np.testing.assert_array_equal(a[:, :OBS_DIM], b[:, :OBS_DIM])
    assert (a[:, OBS_DIM + 1] == 1.0).all()
    assert not np.allclose(la, lb)  # the policies' output moves with the VIX


def test_a_replay_where_the_context_is_unknown_runs_and_says_so(ctx_pack: Path) -> None:
    from invest.runtime.backtest.runner import replay
    from invest.runtime.config import parse_config
    from invest.runtime.cycle import AccountRuntime
    from invest.runtime.data.sample import SampleData
    from invest.runtime.market import Market

    universe = ["AAPL", "MSFT", "KO", "XOM", "JNJ"]
    settings = parse_config(
        {
            "accounts": {
                "rl": {
                    "strategy": "rl_ensemble",
                    "universe": universe,
                    "rl": {"pack": str(ctx_pack), "allow_unpromoted": True},
                }
            }
        }
    )
    acct = AccountRuntime.build("rl", settings)
    result = replay(acct, Market(SampleData().load(acct.symbols())), date(2022, 1, 3))
    assert len(result.days) == 249
    assert all(d["rl"] for d in result.decisions)
    for d in result.decisions:
        notes = [n for n in d["notes"] if n.startswith("RL context:")]
        assert notes == [
            "RL context: VIX: not available (last VIX close 2019-01-03 is more than 5 sessions "
            "old); the policies see 0 with its known flag off"
        ]
