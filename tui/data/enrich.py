"""Slow extras computed after the ledger rows are on screen: benchmark returns and
curves, position marks, risk-profile stops, the risk snapshot and the next scheduled cycle."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from invest.runtime.ledger.views import AccountDetail, AccountSummary
from invest.runtime.paths import Paths

from .market import account_prices, benchmark_curve, benchmark_return, is_offline
from .risk import account_snapshot, history_start
from .schedule import engine_timezone, next_cycle
from .settings import engine_value, stop_loss_pct

if TYPE_CHECKING:
    from invest.runtime.risk.snapshot import RiskSnapshot


@dataclass(frozen=True, slots=True)
class Extras:
    """Per-account extras of the overview."""

    bench_return: float | None = None
    next_cycle: datetime | None = None
    bench_note: str = ""
    """Why ``bench_return`` is None ("" when it is known)."""


@dataclass(frozen=True, slots=True)
class AccountExtras:
    """Extras of the account screen."""

    bench_curve: list[float] | None = None
    marks: dict[str, float] = field(default_factory=dict)
    estimated: frozenset[str] = frozenset()
    default_stop: float | None = None
    next_cycle: datetime | None = None
    bench_return: float | None = None
    risk: RiskSnapshot | None = None
    """VaR/CVaR, concentration, drawdown (``tui.data.risk``); None for unmeasurable equity."""


def _next(summary: AccountSummary, tz: str, now: datetime) -> datetime | None:
    try:
        return next_cycle(summary.info.schedule, tz, now)
    except Exception:  # a calendar out of range or an odd cron must not hide the row
        return None


def overview_extras(
    summaries: list[AccountSummary], paths: Paths, now: datetime
) -> dict[str, Extras]:
    """Benchmark return over each account's history and its next cycle."""
    tz = engine_timezone(paths)
    data = engine_value(paths, "data", "sample")
    out = {}
    for s in summaries:
        bench = None
        if s.first_day and s.last_day:
            prices = account_prices(s.info, data, [], s.first_day, s.last_day, paths.cache)
            bench = benchmark_return(prices, s.info.benchmark, s.first_day, s.last_day)
        note = "" if bench is not None else bench_note(s, data)
        out[s.name] = Extras(bench, _next(s, tz, now), note)
    return out


def bench_note(summary: AccountSummary, engine_data: str) -> str:
    """Why an account's benchmark return is unknown: no session marked yet, an online
    source (the TUI calls no provider), or a benchmark the offline source lacks."""
    spec = summary.info.data or engine_data
    if not (summary.first_day and summary.last_day):
        return "no session marked yet"
    if not is_offline(spec):
        return f"online data source {spec}"
    return f"no {summary.info.benchmark} closes in {spec}"


def _estimated_marks(detail: AccountDetail) -> dict[str, float]:
    """Marks implied by the latest record's weights (weight x equity / quantity)."""
    if not detail.decisions:
        return {}
    rec = detail.decisions[0]
    weights, equity = rec.get("weights") or {}, float(rec.get("equity") or 0)
    out = {}
    for p in detail.positions:
        w = weights.get(p.symbol)
        if isinstance(w, int | float) and p.quantity:
            out[p.symbol] = w * equity / p.quantity
    return out


def account_extras(detail: AccountDetail, paths: Paths, now: datetime) -> AccountExtras:
    """Benchmark curve, position marks (estimated where no offline prices exist), stops."""
    s = detail.summary
    data = engine_value(paths, "data", "sample")
    prices = None
    if s.first_day and s.last_day:
        symbols = [p.symbol for p in detail.positions]
        # A year of closes before the last session: the risk panel's trailing returns.
        start = history_start(s.first_day, s.last_day)
        prices = account_prices(s.info, data, symbols, start, s.last_day, paths.cache)
    marks: dict[str, float] = dict(detail.marks)  # the engine's own last prices come first
    as_of = s.last_day or now.date().isoformat()
    for p in detail.positions:
        px = prices.asof(p.symbol, as_of) if prices is not None else None
        if px is not None and p.symbol not in marks:
            marks[p.symbol] = px
    estimated = {k: v for k, v in _estimated_marks(detail).items() if k not in marks}
    marks.update(estimated)
    bench = None
    if s.first_day and s.last_day:
        bench = benchmark_return(prices, s.info.benchmark, s.first_day, s.last_day)
    return AccountExtras(
        bench_curve=benchmark_curve(prices, s.info.benchmark, detail.curve),
        marks=marks,
        estimated=frozenset(estimated),
        default_stop=stop_loss_pct(paths, s.info.risk),
        next_cycle=_next(s, engine_timezone(paths), now),
        bench_return=bench,
        risk=account_snapshot(detail, marks, prices),
    )
