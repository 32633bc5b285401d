"""The replay loop: the live cycle, day by day, on point-in-time data.

For each session t: settle fills of earlier orders at bar t, then run the cycle
(on scheduled days) or the position monitors (other days), then mark equity.
The strategy and risk engine are the live ones; only the Market (whole
history, read by row) and the sink (memory) are the backtester's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

from invest.runtime.backtest.metrics import Metrics, curve_metrics, round_trip_pnls, with_trading
from invest.runtime.clock import today_in_new_york
from invest.runtime.cycle import AccountRuntime, Sink, mark, run_cycle, settle
from invest.runtime.data.base import MarketData
from invest.runtime.data.frame import BarFrame
from invest.runtime.data.sample import SURVIVORSHIP_NOTE
from invest.runtime.domain import Ack, Fill, OrderIntent, OrderStatus
from invest.runtime.errors import DataError, DataUnavailableError
from invest.runtime.market import Market
from invest.runtime.schedule import fires_on

Progress = Callable[[int, int], None]
logger = logging.getLogger(__name__)


class MemorySink:
    """Keeps a run's records in lists (the backtester's sink)."""

    def __init__(self) -> None:
        self.orders: dict[str, OrderIntent] = {}
        self.fills: list[Fill] = []
        self.decisions: list[dict[str, Any]] = []
        self.cancelled: dict[str, str] = {}
        self._cycles: set[str] = set()

    def order(self, intent: OrderIntent) -> bool:
        """Record; False on a duplicate client id."""
        if intent.client_order_id in self.orders:
            return False
        self.orders[intent.client_order_id] = intent
        return True

    def answer(self, ack: Ack) -> None:
        """Keep a refusal like a broker-side cancellation (the paper broker refuses none)."""
        if ack.status in (OrderStatus.REJECTED, OrderStatus.CANCELLED):
            self.cancelled[ack.client_order_id] = ack.detail or ack.status.value

    def fill(self, fill: Fill) -> None:
        """Record a fill."""
        self.fills.append(fill)

    def decision(self, record: dict[str, Any]) -> None:
        """Record an explanation record."""
        self.decisions.append(record)
        self._cycles.add(record["cycle_id"])

    def equity(self, account: str, day: str, equity: float, cash: float) -> None:
        """Equity is kept in arrays by the runner instead."""

    def cancel(self, client_order_id: str, reason: str) -> None:
        """Record a broker-side cancellation."""
        self.cancelled[client_order_id] = reason

    def done(self, cycle_id: str) -> bool:
        """True when this cycle was recorded."""
        return cycle_id in self._cycles


class TeeSink(MemorySink):
    """A MemorySink that also writes every record to another sink (the ledger, for the demo)."""

    def __init__(self, other: Sink) -> None:
        super().__init__()
        self.other = other

    def order(self, intent: OrderIntent) -> bool:
        """Record in both; the other sink decides idempotency."""
        return super().order(intent) and self.other.order(intent)

    def answer(self, ack: Ack) -> None:
        """Record in both."""
        super().answer(ack)
        self.other.answer(ack)

    def fill(self, fill: Fill) -> None:
        """Record in both."""
        super().fill(fill)
        self.other.fill(fill)

    def decision(self, record: dict[str, Any]) -> None:
        """Record in both."""
        super().decision(record)
        self.other.decision(record)

    def equity(self, account: str, day: str, equity: float, cash: float) -> None:
        """Forward to the other sink."""
        self.other.equity(account, day, equity, cash)

    def cancel(self, client_order_id: str, reason: str) -> None:
        """Record in both."""
        super().cancel(client_order_id, reason)
        self.other.cancel(client_order_id, reason)

    def done(self, cycle_id: str) -> bool:
        """Either sink has recorded the cycle."""
        return super().done(cycle_id) or self.other.done(cycle_id)


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
    sink = TeeSink(mirror) if mirror is not None else MemorySink()
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


def load_market(
    source: MarketData,
    acct: AccountRuntime,
    end: date | None,
    *,
    live: bool = False,
    today: date | None = None,
) -> Market:
    """All history of the account's symbols (and holdings) up to ``end`` (warm-up included).

    ``live`` (``invest run``, the engine) makes bad input skip a symbol instead of
    failing the cycle (invariant 9):

    * a symbol the source does not have (it says so by failing the load and not
      listing the symbol) becomes an all-NaN column listed in ``Market.missing``: no
      stop, no trade, valued at its average cost, named in the record's ``skipped``;
    * rows dated after ``today`` (default: the system clock's date in New York) are
      dropped, with an audit entry per symbol in ``Market.dropped``, so a row dated
      2030 can never become the account's last session.

    A backtest (``live=False``) keeps failing on an unknown symbol.

    Raises:
        DataError: no data at all, or the load failed for another reason.
    """
    symbols = list(dict.fromkeys((*acct.symbols(), *acct.state.positions)))
    missing: list[str] = []
    try:
        frame = source.load(symbols, None, end)
    except DataUnavailableError:
        raise
    except DataError:
        if not live:
            raise
        available = set(source.symbols())
        missing = [s for s in symbols if s not in available]
        if not available or not missing or len(missing) == len(symbols):
            raise
        logger.warning("%s lacks %s: skipped this cycle", source.name, ", ".join(missing))
        frame = with_empty_columns(
            source.load([s for s in symbols if s in available], None, end), missing
        )
    dropped: list[dict[str, str]] = []
    if live:
        frame, dropped = _drop_future(frame, today or today_in_new_york())
    if len(frame) == 0:
        raise DataError(f"no data from {source.name} up to {end}")
    return Market(frame, missing=missing, dropped=dropped)


def with_empty_columns(frame: BarFrame, symbols: Sequence[str]) -> BarFrame:
    """``frame`` with an all-NaN column (no bar ever) for each of ``symbols``."""
    n = len(frame)

    def widen(arr: npt.NDArray[np.float64] | None) -> npt.NDArray[np.float64] | None:
        if arr is None:
            return None
        return np.concatenate([arr, np.full((n, len(symbols)), np.nan)], axis=1)

    close = widen(frame.close)
    assert close is not None
    return replace(
        frame,
        symbols=(*frame.symbols, *symbols),
        close=close,
        open=widen(frame.open),
        high=widen(frame.high),
        low=widen(frame.low),
        volume=widen(frame.volume),
    )


def _drop_future(frame: BarFrame, today: date) -> tuple[BarFrame, list[dict[str, str]]]:
    """``frame`` without rows dated after ``today``, and one audit entry per symbol they held."""
    keep = frame.row_for(today) + 1
    if keep >= len(frame):
        return frame, []
    late = frame.close[keep:]
    days = [str(d) for d in frame.dates[keep:]]
    out = []
    for j in np.flatnonzero(~np.isnan(late).all(axis=0)).tolist():
        rows = np.flatnonzero(~np.isnan(late[:, j])).tolist()
        shown = ", ".join(days[r] for r in rows[:3]) + (" ..." if len(rows) > 3 else "")
        out.append(
            {
                "symbol": frame.symbols[j],
                "reason": f"{frame.symbols[j]} has {len(rows)} bar(s) dated after today "
                f"({today}): {shown}; dropped, not traded or marked",
            }
        )
    logger.warning("dropped %d row(s) dated after %s: %s", len(days), today, ", ".join(days[:3]))
    return frame.rows(0, keep), out
