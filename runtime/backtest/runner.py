"""The replay loop: the live cycle, day by day, on point-in-time data.

For each session t: settle fills of earlier orders at bar t, then run the cycle
(on scheduled days) or the position monitors (other days), then mark equity.
The strategy and risk engine are the live ones; only the Market (whole
history, read by row) and the sink (memory) are the backtester's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

from invest.runtime.backtest.metrics import Metrics, curve_metrics, round_trip_pnls, with_trading
from invest.runtime.cycle import AccountRuntime, MemorySink, Sink, mark, run_cycle, settle
from invest.runtime.data.sample import SURVIVORSHIP_NOTE
from invest.runtime.domain import Fill
from invest.runtime.errors import DataError
from invest.runtime.market import Market
from invest.runtime.schedule import fires_on

Progress = Callable[[int, int], None]


@dataclass
class BacktestResult:
    """Everything a backtest produced."""

    account: str
    params: dict[str, Any]
    days: list[date]
    equity: npt.NDArray[np.float64]
    cash: npt.NDArray[np.float64]
    benchmark: npt.NDArray[np.float64]
    equal_weight: npt.NDArray[np.float64]
    fills: list[Fill]
    decisions: list[dict[str, Any]]
    metrics: Metrics
    benchmark_metrics: Metrics
    equal_weight_metrics: Metrics
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: Column names of the two benchmarks in the summary table, and their report.json keys.
    benchmark_labels: tuple[str, str] = ("Index buy&hold", "Equal-weight buy&hold")
    benchmark_keys: tuple[str, str] = ("index_buy_and_hold", "equal_weight_buy_and_hold")
    #: Options accounts: cash the option book reserved each day, the trades.csv rows
    #: (stock fills and one row per option position) and the counts of report.json.
    reserved: npt.NDArray[np.float64] | None = None
    option_trades: list[dict[str, Any]] | None = None
    counts: dict[str, Any] | None = None


def buy_and_hold(market: Market, cols: list[int], lo: int, cash: float) -> npt.NDArray[np.float64]:
    """Equal-weight buy-and-hold of ``cols`` bought at row ``lo`` (names without a price then are left out)."""
    px0 = market.mark[lo, cols]
    live = [c for c, p in zip(cols, px0, strict=True) if np.isfinite(p) and p > 0]
    if not live:
        return np.full(len(market) - lo, cash)
    shares = cash / len(live) / market.mark[lo, live]
    return np.asarray(market.mark[lo:, live] @ shares, dtype=np.float64)


def replay(
    acct: AccountRuntime,
    market: Market,
    start: date | None,
    tz: str = "America/New_York",
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
    mirror: Sink | None = None,
    explain: bool = True,
) -> BacktestResult:
    """Replay ``market`` from ``start`` through its last row with the live cycle.

    Args:
        acct: the account, with its strategy, risk engine, broker and state.
        market: the whole history, read point-in-time by row.
        start: first session to trade (earlier rows only warm up the features).
        tz: timezone of the account's cron schedule.
        progress: called with (done, total) about 100 times.
        cancelled: polled as often; True stops the replay early (partial result).
        mirror: a second sink that receives every record (the ledger, for the demo).
        explain: build explanation records; Monte Carlo paths, which only need the
            equity curve, skip them (the decisions themselves are unchanged).
    """
    t0 = time.perf_counter()
    lo = market.frame.row_from(start)
    if lo >= len(market):
        raise DataError(
            f"no sessions on or after {start} in the data (last is {market.day(len(market) - 1)})"
        )
    acct.strategy.prepare(market)
    days = [market.day(t) for t in range(lo, len(market))]
    scheduled = fires_on(acct.config.schedule, tz, days)
    sink = MemorySink(mirror)
    n = len(days)
    equity, cash = np.empty(n), np.empty(n)
    step = max(n // 100, 1)
    for i, t in enumerate(range(lo, len(market))):
        settle(acct, market, t, sink)
        res = run_cycle(acct, market, t, sink, monitor_only=not scheduled[i], explain=explain)
        equity[i] = mark(acct, market, t, sink, res.equity if res.equity > 0 else None)
        cash[i] = float(acct.state.cash)
        if progress and i % step == 0:
            progress(i, n)
        if cancelled and i % step == 0 and cancelled():
            n = i + 1
            equity, cash, days = equity[:n], cash[:n], days[:n]
            break
    cfg = acct.config
    start_cash = float(cfg.cash)
    bench = market.mark[lo : lo + n, market.col[cfg.benchmark]]
    bench = bench / bench[0] * start_cash
    ew = buy_and_hold(market, [market.col[s] for s in cfg.universe], lo, start_cash)[:n]
    traded = sum(float(f.quantity * f.price) for f in sink.fills)
    m = with_trading(
        curve_metrics(equity), equity, equity - cash, traded, round_trip_pnls(sink.fills)
    )
    notes = [SURVIVORSHIP_NOTE] if market.frame.source.startswith("sample") else []
    if market.frame.adjusted:
        notes.append(
            "Prices are back-adjusted closes: the min_price floor is not applied (old adjusted closes are not traded prices)."
        )
    if market.frame.open is None:
        notes.append("The data has closes only: orders fill at the next session's close.")
    if progress:
        progress(n, n)
    return BacktestResult(
        account=acct.name,
        params={},
        days=days,
        equity=equity,
        cash=cash,
        benchmark=bench,
        equal_weight=ew,
        fills=sink.fills,
        decisions=sink.decisions,
        metrics=m,
        benchmark_metrics=curve_metrics(bench),
        equal_weight_metrics=curve_metrics(ew),
        notes=notes,
        seconds=time.perf_counter() - t0,
    )
