"""Design experiments for the RL env on validation years only (never the 2015-2022 test years).

    python scripts/rl_experiment.py --train-end 2012-11-30 --years 2013,2014 --steps 300000 \
        --seeds 0,1,2 --out /tmp/rlx [--set env.risk_aversion=5 --set hyperparameters.ent_coef=0.01]

Trains the policies on data up to ``--train-end`` (through the real trainer: the
portfolio env, RecurrentPPO, ONNX export with parity), writes a format-2 pack, then
replays ``trend_king``, ``rl_ensemble`` and ``hybrid`` through the runtime's own cycle
on the validation years and prints their returns, Sharpe, exposure and the
policies' action shares and entropy. The selection protocol (docs/rl.md) uses this on
folds up to 2014 only.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np


def _config(overrides: list[str]) -> Any:
    from invest.trainer.config import TrainConfig

    data = TrainConfig().model_dump()
    for item in overrides:
        key, _, value = item.partition("=")
        node = data
        *parents, leaf = key.split(".")
        for p in parents:
            node = node[p]
        node[leaf] = json.loads(value)
    return TrainConfig.model_validate(data)


def train_pack(cfg: Any, train_end: date, seeds: list[int], steps: int, out: Path) -> Path:
    """Train one policy per seed on rows up to ``train_end`` and write a pack."""
    import torch

    from invest.trainer.dataset import load_market_arrays
    from invest.trainer.train import NORMALISER_FILE, Job, export_with_parity, train_policy

    torch.set_num_threads(1)
    data = load_market_arrays(cfg.symbols, cfg.index_symbol)
    lo, hi = data.rows(cfg.train_start, train_end)
    policies = []
    for seed in seeds:
        job = Job(0, seed, (lo, hi), str(out / f"seed-{seed}"), cfg, cfg.hyperparameters, steps)
        t0 = time.perf_counter()
        model, learn_s, drift = train_policy(job)
        path, parity = export_with_parity(model, job)
        print(
            f"seed {seed}: {steps} steps in {learn_s:.0f} s ({steps / learn_s:,.0f} steps/s), "
            f"parity {parity.max_abs_logit_diff:.1e}, total {time.perf_counter() - t0:.0f} s, "
            f"drift {drift}"
        )
        policies.append((seed, path))
    pack = out / "pack"
    pack.mkdir(parents=True, exist_ok=True)
    from invest.runtime.features import FEATURE_NAMES, FEATURE_SPEC_VERSION, spec_hash
    from invest.runtime.policy.contract import ACTIONS, OBS_DIM, OBS_LAYOUT, OBS_SPEC_VERSION
    from invest.runtime.policy.pack import sha256_hex

    files = []
    for k, (seed, path) in enumerate(policies):
        name = f"policy-{k}.onnx"
        (pack / name).write_bytes(path.read_bytes())
        files.append(
            {
                "file": name,
                "seed": seed,
                "sha256": sha256_hex((pack / name).read_bytes()),
                "fold": 0,
            }
        )
    hp = cfg.hyperparameters
    manifest = {
        "format": 2,
        "name": "experiment",
        "feature_spec": {
            "version": FEATURE_SPEC_VERSION,
            "hash": spec_hash(ohlc=False),
            "names": list(FEATURE_NAMES),
            "ohlc": False,
        },
        "observation": {"dim": OBS_DIM, "layout": list(OBS_LAYOUT), "spec": OBS_SPEC_VERSION},
        "normalisation": json.loads((policies[0][1].parent / NORMALISER_FILE).read_text()),
        "actions": list(ACTIONS),
        "lstm": {"hidden": hp.lstm_hidden_size, "layers": hp.n_lstm_layers},
        "policies": files,
        "training": {
            "windows": [
                {"fold": 0, "train": [data.day(lo).isoformat(), data.day(hi - 1).isoformat()]}
            ]
        },
    }
    (pack / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return pack


def replay_years(pack: Path, years: list[int], symbols: list[str] | None) -> None:
    """Print trend_king, rl_ensemble and hybrid on ``years`` through the runtime cycle."""
    from invest.runtime.backtest.runner import replay
    from invest.runtime.config import parse_config
    from invest.runtime.cycle import AccountRuntime
    from invest.runtime.data.sample import SampleData
    from invest.runtime.market import Market

    source = SampleData()
    universe = symbols or [s for s in source.symbols() if s != "SP500"]
    base = {"universe": universe, "benchmark": "SP500", "schedule": "30 16 * * mon-fri"}
    start, end = date(years[0], 1, 1), date(years[-1], 12, 31)
    rows: dict[str, Any] = {}
    variants = {
        "trend_king": ("trend_king", {}),
        "rl_ensemble": ("rl_ensemble", {}),
        "hybrid": ("hybrid", {}),
        "hybrid_v40": ("hybrid", {"min_confidence": 0.4}),
        "hybrid_shrink": ("hybrid", {"shrink": True}),
    }
    for name, (strat, extra) in variants.items():
        acct_cfg = {**base, "strategy": strat}
        if strat != "trend_king":
            acct_cfg["rl"] = {"pack": str(pack), **extra}
        settings = parse_config({"accounts": {"x": acct_cfg}})
        acct = AccountRuntime.build("x", settings, paper=True)
        market = Market(source.load(acct.symbols(), None, end))
        r = replay(acct, market, start)
        rows[name] = r
    bench = rows["trend_king"]
    print(f"{'':12} {'return':>8} {'sharpe':>7} {'mdd':>7} {'exposure':>9} {'fills':>6}")
    for name, r in [*rows.items(), ("equal_wt", None), ("index", None)]:
        if r is None:
            eq = bench.equal_weight if name == "equal_wt" else bench.benchmark
            exposure = float("nan")
            fills = 0
        else:
            eq = r.equity
            exposure = float(np.mean(1 - r.cash / r.equity))
            fills = len(r.fills)
        ret = np.diff(eq) / eq[:-1]
        sharpe = float(ret.mean() / ret.std() * math.sqrt(252)) if ret.std() > 0 else 0.0
        mdd = float(np.max(1 - eq / np.maximum.accumulate(eq)))
        print(
            f"{name:12} {eq[-1] / eq[0] - 1:8.1%} {sharpe:7.2f} {mdd:7.1%} "
            f"{exposure:9.1%} {fills:6d}"
        )
    recs = [d["rl"] for d in rows["rl_ensemble"].decisions if d.get("rl")]
    p = np.array([v["p"] for rec in recs for v in rec.values() if v.get("p")])
    ent = -(p * np.log(np.clip(p, 1e-12, 1))).sum(axis=1) / math.log(3)
    share = np.bincount(p.argmax(axis=1), minlength=3) / len(p)
    print(
        f"rl mean p {p.mean(axis=0).round(3)}  argmax shares {share.round(3)}  "
        f"entropy/uniform {ent.mean():.3f}  level mean {float((p @ [0, 1, 2]).mean()):.2f}"
    )
    tk_days = {(f.symbol, f.day) for f in rows["trend_king"].fills}
    hy_days = {(f.symbol, f.day) for f in rows["hybrid"].fills}
    print(f"hybrid trades differing from trend_king: {len(tk_days ^ hy_days)}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--train-end", default="2012-11-30")
    ap.add_argument("--years", default="2013,2014")
    ap.add_argument("--steps", type=int, default=200_000)
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--out", default="rl-experiment")
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--pack", help="skip training: replay this pack")
    a = ap.parse_args()
    years = [int(y) for y in a.years.split(",")]
    if a.pack:
        pack = Path(a.pack)
    else:
        cfg = _config(a.set)
        pack = train_pack(
            cfg,
            date.fromisoformat(a.train_end),
            [int(s) for s in a.seeds.split(",")],
            a.steps,
            Path(a.out),
        )
    replay_years(pack, years, None)


if __name__ == "__main__":
    main()
