"""Per-year out-of-sample returns of the runtime strategies, for the walk-forward report.

``invest train`` trains one ensemble per test year Y (on data through Y-1) and
calls :func:`strategy_years` to replay year Y through the live cycle with
trend_king (no fitting: out of sample by construction) and with hybrid using
fold Y's ensemble. Each year starts from fresh cash on its first session, with
all earlier history loaded as warm-up, and pays the configured costs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from invest.runtime.backtest.runner import replay
from invest.runtime.config import parse_config
from invest.runtime.cycle import AccountRuntime
from invest.runtime.data.base import MarketData
from invest.runtime.market import Market


def _year_return(
    settings: Any, source: MarketData, year: int, packs_dir: Path | None = None
) -> float | None:
    acct = AccountRuntime.build("wf", settings, packs_dir=packs_dir, paper=True)
    frame = source.load(acct.symbols(), None, date(year, 12, 31))
    market = Market(frame)
    if len(market) == 0 or market.day(len(market) - 1).year != year:
        return None
    r = replay(acct, market, date(year, 1, 1))
    return float(r.equity[-1] / r.equity[0] - 1)


def strategy_years(
    years: Sequence[int],
    universe: Sequence[str],
    source: MarketData,
    *,
    benchmark: str = "SP500",
    fold_packs: Mapping[int, Path] | None = None,
    fills: Mapping[str, Any] | None = None,
) -> dict[str, dict[int, float | None]]:
    """Total return of trend_king (and hybrid, when fold packs are given) per test year.

    Args:
        years: the test years.
        universe: the symbols traded.
        source: market data (the bundled sample for the default pack).
        benchmark: index of the regime and the benchmark.
        fold_packs: year -> the pack trained for that fold (hybrid is skipped without it).
        fills: ``engine.fills`` settings (slippage, commission) to charge.

    Returns:
        ``{"trend_king": {year: return}, "hybrid": {year: return}}``.
    """
    out: dict[str, dict[int, float | None]] = {"trend_king": {}, "hybrid": {}}
    engine = {"fills": dict(fills)} if fills else {}
    base = {"universe": list(universe), "benchmark": benchmark, "schedule": "30 16 * * mon-fri"}
    tk = parse_config({"engine": engine, "accounts": {"wf": base}})
    for y in years:
        out["trend_king"][y] = _year_return(tk, source, y)
        pack = (fold_packs or {}).get(y)
        if pack is None:
            out["hybrid"][y] = None
            continue
        hybrid = {**base, "strategy": "hybrid", "rl": {"pack": str(pack)}}
        settings = parse_config({"engine": engine, "accounts": {"wf": hybrid}})
        out["hybrid"][y] = _year_return(settings, source, y)
    return out
