"""Design experiments for the RL env on validation years only (never the 2015-2022 test years).

    python scripts/rl_experiment.py --years 2013,2014 --steps 300000 --seeds 0,1,2 \
        --out DIR [--set env.risk_aversion=5 --set hyperparameters.ent_coef=0.01]

Trains the walk-forward fold of the first year (data through the year before,
minus the embargo: 2012-11-30 for 2013) with the real trainer (the portfolio env,
RecurrentPPO, ONNX export with parity, the pack writer), then
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


def train_pack(cfg: Any, first_year: int, seeds: list[int], steps: int, out: Path) -> Path:
    """Train the walk-forward fold of ``first_year`` (data through the year before, minus
    the embargo) with the real trainer, and write its pack."""
    import torch

    from invest.trainer.dataset import load_market_arrays
    from invest.trainer.pack import write_pack
    from invest.trainer.walkforward import run_folds

    torch.set_num_threads(1)
    data = load_market_arrays(cfg.symbols, cfg.index_symbol)
    t0 = time.perf_counter()
    result = run_folds(cfg, data, [first_year], out, timesteps=steps, seeds=seeds, workers=1)
    for job in result.jobs:
        print(
            f"seed {job.seed}: {job.timesteps} steps in {job.train_s:.0f} s "
            f"({job.steps_per_s:,.0f} steps/s), parity {job.parity['max_abs_logit_diff']:.1e}, "
            f"drift {job.drift}"
        )
    print(f"trained in {time.perf_counter() - t0:.0f} s")
    design_run = {"passed": False, "rule": "a design run on validation years", "values": {}}
    return write_pack(out / "pack", cfg, data, result, design_run, fold=first_year)


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
        seeds = [int(s) for s in a.seeds.split(",")]
        pack = train_pack(cfg, years[0], seeds, a.steps, Path(a.out))
    replay_years(pack, years, None)


if __name__ == "__main__":
    main()
