"""The replay of an options account: the options cycle, day by day, on modelled chains.

No option quotes ship with the appliance: the chains are modelled point-in-time from
the market's own closes (:class:`~invest.runtime.options.modelled.ModelledChainSource`,
with the bundled VIX when the data is the sample). Each session runs
:func:`~invest.runtime.options_cycle.run_options_session`: the account's cycle on its
scheduled days, the settlement, monitors and mark on the others.

The benchmark is buy-and-hold of the underlying (equal weight when there are several);
the second column is the index. The report counts what an options account does:
opens per kind, assignments, calls away, rolls and the exits per rule.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import date
from typing import Any

import numpy as np

from invest.runtime.backtest.metrics import curve_metrics, round_trip_pnls, with_trading
from invest.runtime.backtest.runner import BacktestResult, Progress, buy_and_hold
from invest.runtime.config import Settings
from invest.runtime.cycle import MemorySink, Sink
from invest.runtime.data.sample import SURVIVORSHIP_NOTE, vix
from invest.runtime.errors import DataError
from invest.runtime.market import Market
from invest.runtime.options.book import OptionPosition
from invest.runtime.options.modelled import ModelledChainSource
from invest.runtime.options.plan import OptionsStrategy
from invest.runtime.options_cycle import (
    OptionsAccount,
    legs_text,
    options_market,
    outcome_rule,
    run_options_session,
)
from invest.runtime.schedule import fires_on

__all__ = [
    "llm_notes",
    "modelled_account",
    "option_counts",
    "option_trade_rows",
    "options_market",
    "replay_options",
]


def modelled_account(
    name: str, settings: Settings, market: Market, strategy: OptionsStrategy | None = None
) -> OptionsAccount:
    """Options account ``name`` over chains modelled from ``market`` (VIX on the sample)."""
    cfg = settings.account(name)
    assert cfg.options is not None  # OptionsAccount.build says it plainly otherwise
    use_vix = market.frame.source.startswith("sample") and cfg.options.chain.vix == "premium"
    source = ModelledChainSource(market.frame, cfg.options.chain, vix=vix() if use_vix else None)
    return OptionsAccount.build(name, settings, source, strategy=strategy)


def replay_options(
    acct: OptionsAccount,
    market: Market,
    start: date | None,
    tz: str = "America/New_York",
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
    mirror: Sink | None = None,
    explain: bool = True,
) -> BacktestResult:
    """Replay ``market`` from ``start`` with the options cycle (see :func:`runner.replay`)."""
    t0 = time.perf_counter()
    lo = market.frame.row_from(start)
    if lo >= len(market):
        raise DataError(
            f"no sessions on or after {start} in the data (last is {market.day(len(market) - 1)})"
        )
    days = [market.day(t) for t in range(lo, len(market))]
    scheduled = fires_on(acct.config.schedule, tz, days)
    sink = MemorySink(mirror)
    n = len(days)
    equity, cash, reserved = np.empty(n), np.empty(n), np.empty(n)
    step = max(n // 100, 1)
    for i, t in enumerate(range(lo, len(market))):
        res = run_options_session(acct, market, t, sink, cycle=scheduled[i], explain=explain)
        equity[i], cash[i], reserved[i] = res.equity, res.cash, res.reserved
        if progress and i % step == 0:
            progress(i, n)
        if cancelled and i % step == 0 and cancelled():
            n = i + 1
            equity, cash, reserved, days = equity[:n], cash[:n], reserved[:n], days[:n]
            break
    cfg = acct.config
    start_cash = float(cfg.cash)
    underlying = buy_and_hold(market, [market.col[s] for s in cfg.universe], lo, start_cash)[:n]
    index = buy_and_hold(market, [market.col[cfg.benchmark]], lo, start_cash)[:n]
    positions = _positions(acct, sink)
    pnls = [float(r) for p in positions if (r := p.pnl().realised) is not None]
    pnls += round_trip_pnls(sink.fills)
    traded = sum(float(f.quantity * f.price) for f in sink.fills) + sum(
        float(p.premium_in + p.premium_out) for p in positions
    )
    # Capital at work: the shares held and the cash the open positions keep back.
    invested = equity - cash + reserved
    m = with_trading(curve_metrics(equity), equity, invested, traded, pnls)
    if progress:
        progress(n, n)
    result = BacktestResult(
        account=acct.name,
        params={},
        days=days,
        equity=equity,
        cash=cash,
        benchmark=underlying,
        equal_weight=index,
        fills=sink.fills,
        decisions=sink.decisions,
        metrics=m,
        benchmark_metrics=curve_metrics(underlying),
        equal_weight_metrics=curve_metrics(index),
        notes=_notes(acct, market) + llm_notes(sink.decisions),
        seconds=time.perf_counter() - t0,
    )
    result.reserved = reserved
    result.benchmark_labels = (
        f"Underlying buy&hold ({', '.join(cfg.universe)})",
        f"Index buy&hold ({cfg.benchmark})",
    )
    result.benchmark_keys = ("underlying_buy_and_hold", "index_buy_and_hold")
    result.option_trades = option_trade_rows(acct, positions, sink)
    result.counts = option_counts(acct, positions, sink)
    return result


def _positions(acct: OptionsAccount, sink: MemorySink) -> list[OptionPosition]:
    """Every position the replay opened, in the order first stored (opening order)."""
    seen = dict(sink.option_positions_seen)
    for p in acct.book.open_positions():
        seen.setdefault(p.id, p)
    return sorted(seen.values(), key=lambda p: (p.opened, p.id))


def option_counts(
    acct: OptionsAccount, positions: list[OptionPosition], sink: MemorySink
) -> dict[str, Any]:
    """Opens per kind, assignments, calls away, rolls, exits per rule, earnings-unknown opens."""
    opens = Counter(p.structure.kind.value for p in positions)
    ended = Counter(outcome_rule(acct, p) for p in positions if not p.is_open)
    exits = {
        rule: ended.get(rule, 0)
        for rule in ("take_profit", "stop_loss", "auto_close", "strategy", "roll", "expiry")
    }
    ordered = Counter(
        o.structure.kind.value for o in sink.option_orders.values() if o.action == "open"
    )
    return {
        "opens": dict(sorted(opens.items())),
        "open_orders": dict(sorted(ordered.items())),
        "assignments": ended.get("assignment", 0),
        "calls_away": ended.get("called away", 0),
        "rolls": sum(
            1 for o in sink.option_orders.values() if o.rule == "roll" and o.action == "close"
        ),
        "rolls_filled": ended.get("roll", 0),
        "exits": exits,
        "earnings_unknown_opens": sum(
            1 for p in positions if "earnings_unknown" in acct.open_clamps.get(p.id, ())
        ),
        "still_open": sum(1 for p in positions if p.is_open),
        "cancelled_orders": len(sink.cancelled),
    }


def option_trade_rows(
    acct: OptionsAccount, positions: list[OptionPosition], sink: MemorySink
) -> list[dict[str, Any]]:
    """The rows of trades.csv (columns: :data:`report.TRADE_COLUMNS`), by date."""
    rows: list[dict[str, Any]] = []
    for f in sink.fills:
        rows.append(
            {
                "date": f.day.isoformat(),
                "type": "stock",
                "symbol": f.symbol,
                "side": f.side.value,
                "quantity": str(f.quantity),
                "price": str(f.price),
                "fees": str(f.fees),
                "reason": f.reason,
            }
        )
    for p in positions:
        pnl = p.pnl()
        last = p.fills[-1] if p.fills else None
        rows.append(
            {
                "date": (p.closed or p.opened).isoformat(),
                "type": "option",
                "symbol": p.structure.underlying,
                "fees": str(pnl.fees),
                "reason": last.reason if last is not None and not p.is_open else "",
                "opened": p.opened.isoformat(),
                "closed": p.closed.isoformat() if p.closed else "",
                "kind": p.structure.kind.value,
                "legs": legs_text(p),
                "contracts": p.contracts,
                "premium_in": str(pnl.premium_in),
                "premium_out": str(pnl.premium_out),
                "settlement": str(pnl.settlement),
                "realised_pnl": "" if pnl.realised is None else str(pnl.realised),
                "outcome": p.outcome.value if p.outcome is not None else "open",
                "exit_rule": outcome_rule(acct, p),
            }
        )
    rows.sort(key=lambda r: (r["date"], r["type"] != "option"))
    return rows


def llm_notes(decisions: list[dict[str, Any]]) -> list[str]:
    """What an LLM variant's reviews came to, from the records' ``context["llm"]``.

    Empty for a rules account (or ``--oracle off``). The statuses are the review's:
    ``decided`` (the model chose the opens), ``abstained`` (down, over budget, a cache
    miss in replay, an unusable answer: the opens followed ``on_unavailable``) and
    ``nothing_to_review``.
    """
    reviews = [llm for d in decisions if isinstance(llm := d.get("context", {}).get("llm"), dict)]
    if not reviews:
        return []
    statuses = Counter(str(r.get("status")) for r in reviews)
    policies = sorted({str(r["policy"]) for r in reviews if "policy" in r})
    dropped = sum(len(r.get("dropped", ())) for r in reviews)
    text = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
    line = f"LLM variant: {len(reviews)} plans reviewed ({text}); {dropped} actions dropped"
    if policies:
        line += f"; without an answer the opens followed on_unavailable={'/'.join(policies)}"
    return [line + "."]


def _notes(acct: OptionsAccount, market: Market) -> list[str]:
    cfg = acct.config
    assert cfg.options is not None
    ch = cfg.options.chain
    notes = [
        "Option prices are MODELLED, not observed quotes: Black-Scholes-Merton on the "
        f"underlying's closes, ATM IV = {ch.realised_vol_window}-session realised vol x "
        + ("VIX/index realised vol where VIX has a close (else " if ch.vix == "premium" else "(")
        + f"1 + {ch.vol_risk_premium}), skew {ch.put_skew}/{ch.call_skew}, rate {ch.rate}, "
        f"bid/ask max({ch.spread_fraction} x mid, {ch.min_spread}); fills at mid +- "
        f"{cfg.options.risk.fill_spread_fraction} of the half-spread, "
        f"{cfg.options.risk.fee_per_contract} per contract. Real chains have their own "
        "skew, term structure and spreads: read the figures as a model's.",
    ]
    if market.frame.source.startswith("sample"):
        notes.append(SURVIVORSHIP_NOTE)
    if market.frame.adjusted:
        notes.append(
            "Prices are back-adjusted closes: strikes and assignments are on adjusted prices, "
            "and the dividends are in the price (the chain's dividend yield is 0)."
        )
    if acct.earnings is None:
        notes.append(
            "No earnings calendar: the earnings blackout was not checked "
            "(the report counts those opens as earnings_unknown)."
        )
    return notes
