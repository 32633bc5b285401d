"""Build the prompts of gate and manager modes, deterministically.

The same context always gives byte-identical messages (sorted keys, fixed
rounding), so the prompt hash, and with it the cache, is stable. With
``anonymise`` the model sees ``day -N`` labels, prices rebased to 100 and
headlines with dates masked, never a calendar date.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from invest.runtime.config.oracle import OracleConfig
from invest.runtime.oracle.anonymise import days_before, mask_dates, rebase, series_labels
from invest.runtime.oracle.client import ChatMessage
from invest.runtime.oracle.context import OracleContext
from invest.runtime.oracle.news import NewsItem

GATE_SYSTEM = """You are the risk gate of an automated stock portfolio.
A rules engine proposes BUY orders. Review each one against its headlines and
recent prices, and answer for every proposed symbol:
- APPROVE: keep the order as proposed;
- SHRINK: keep only a fraction of it (fraction between 0 and 1);
- VETO: drop it.
You cannot add symbols, raise an amount or sell. When in doubt, SHRINK or VETO.
Cite the ids of the headlines you rely on.
Answer with one JSON object and nothing else:
{"verdicts": [{"symbol": "XYZ", "verdict": "APPROVE", "fraction": 1.0,
  "reason": "one sentence", "headline_ids": ["abc123"]}]}"""

ANALYST_SYSTEM = """You are the market analyst of an automated stock portfolio.
Read the prices, indicators, portfolio and headlines, and describe the market.
Answer with one JSON object and nothing else:
{"regime": "BULL|BEAR|SIDEWAYS|HIGH_VOLATILITY",
 "sector_scores": {"Technology": 1, "Energy": -1},
 "portfolio_health": "one or two sentences",
 "opportunities": ["..."], "threats": ["..."], "summary": "one paragraph"}
Sector scores are integers from -2 (avoid) to +2 (favour)."""

MANAGER_SYSTEM = """You are the portfolio manager of an automated stock portfolio.
Given the market analysis, the portfolio, prices, headlines and your previous
decisions with their results, decide trades. Only BUY symbols listed as
buyable, only SELL symbols that are held. Amounts are USD notionals; never
spend more than the cash available. Hard risk rules will clamp your orders.
Answer with one JSON object and nothing else:
{"actions": [{"action": "BUY|SELL|HOLD", "symbol": "XYZ", "amount": 1000.0,
  "thesis": "why", "stop_loss_pct": 0.08, "take_profit_pct": 0.2,
  "time_stop_days": 30, "headline_ids": ["abc123"]}]}
Percentages are fractions (0.08 = 8%). For a SELL, omit amount to sell it all."""

REPAIR_PROMPT = """Your answer could not be used:
{problems}
Reply again with only the JSON object in the format asked for, with no other text."""


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _num(value: float, digits: int = 4) -> float | None:
    return round(value, digits) if math.isfinite(value) else None


def _usd(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def select_headlines(
    context: OracleContext, symbols: Iterable[str], limit: int
) -> tuple[NewsItem, ...]:
    """Headlines about ``symbols`` published by the cycle time, newest first."""
    wanted = set(symbols)
    seen = context.news.as_of(context.cycle_time).items
    chosen = [i for i in seen if wanted.intersection(i.symbols)]
    chosen.sort(key=lambda i: (i.published, i.id), reverse=True)
    return tuple(chosen[:limit])


def _headline(item: NewsItem, context: OracleContext, anonymise: bool) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": item.id,
        "symbols": sorted(item.symbols),
        "source": item.source[:60],
        "title": mask_dates(item.title) if anonymise else item.title,
    }
    if anonymise:
        row["day"] = -days_before(item.published, context.cycle_time)
    else:
        row["published"] = item.published.isoformat()
    return row


def _symbol_block(context: OracleContext, symbols: Sequence[str], config: OracleConfig) -> Any:
    block: dict[str, Any] = {}
    for sym in sorted(symbols):
        snap = context.symbols.get(sym)
        if snap is None:
            continue
        closes = snap.closes[-config.price_days :]
        shown = rebase(closes) if config.anonymise else closes
        block[sym] = {
            "closes": [_num(c, 2) for c in shown],
            "indicators": {k: _num(v) for k, v in sorted(snap.indicators.items())},
        }
        if snap.sector:
            block[sym]["sector"] = snap.sector
    return block


def _common(
    context: OracleContext, symbols: Sequence[str], config: OracleConfig
) -> tuple[dict[str, Any], tuple[NewsItem, ...]]:
    headlines = select_headlines(context, symbols, config.max_headlines)
    when = "day 0" if config.anonymise else context.cycle_time.isoformat()
    closes_note = "closes rebased to 100, oldest first" if config.anonymise else "closes"
    if config.anonymise and config.price_days:
        labels = series_labels(config.price_days)
        closes_note += f", {labels[0]} .. {labels[-1]} (last available)"
    body: dict[str, Any] = {
        "today": when,
        "regime": context.regime,
        "prices": closes_note,
        "symbols": _symbol_block(context, symbols, config),
        "headlines": [_headline(i, context, config.anonymise) for i in headlines],
        "news_note": context.news.note if not headlines else f"{len(headlines)} headlines",
    }
    return body, headlines


def gate_messages(
    proposed: Mapping[str, Decimal], context: OracleContext, config: OracleConfig
) -> tuple[tuple[ChatMessage, ...], tuple[NewsItem, ...]]:
    """Messages asking for a verdict on each proposed buy, and the headlines shown."""
    symbols = sorted(proposed)
    body, headlines = _common(context, symbols, config)
    equity = context.portfolio.equity if context.portfolio else None
    body["proposed_buys"] = [
        {
            "symbol": s,
            "amount_usd": _usd(proposed[s]),
            "share_of_equity": _num(float(proposed[s] / equity), 4) if equity else None,
        }
        for s in symbols
    ]
    messages: tuple[ChatMessage, ...] = (
        {"role": "system", "content": GATE_SYSTEM},
        {"role": "user", "content": _dumps(body)},
    )
    return messages, headlines


def _portfolio(context: OracleContext) -> dict[str, Any] | None:
    pf = context.portfolio
    if pf is None:
        return None
    return {
        "equity_usd": _usd(pf.equity),
        "cash_usd": _usd(pf.cash),
        "drawdown_pct": _num(pf.drawdown_pct),
        "positions": [
            {
                "symbol": p.symbol,
                "value_usd": _usd(p.value),
                "weight": _num(p.weight),
                "pnl_pct": _num(p.pnl_pct),
                "days_held": p.days_held,
            }
            for p in sorted(pf.positions, key=lambda p: p.symbol)
        ],
    }


def _manager_body(context: OracleContext, config: OracleConfig) -> tuple[dict[str, Any], Any]:
    symbols = sorted(set(context.symbols) | context.held)
    body, headlines = _common(context, symbols, config)
    body["portfolio"] = _portfolio(context)
    body["previous_decisions"] = [
        {
            "symbol": d.symbol,
            "action": d.action,
            "day": -d.days_ago,
            "pnl_pct": None if d.pnl_pct is None else _num(d.pnl_pct),
            "thesis": mask_dates(d.thesis) if config.anonymise else d.thesis,
        }
        for d in context.previous
    ]
    return body, headlines


def analysis_messages(
    context: OracleContext, config: OracleConfig
) -> tuple[tuple[ChatMessage, ...], tuple[NewsItem, ...]]:
    """Pass 1 of manager mode: describe the market."""
    body, headlines = _manager_body(context, config)
    messages: tuple[ChatMessage, ...] = (
        {"role": "system", "content": ANALYST_SYSTEM},
        {"role": "user", "content": _dumps(body)},
    )
    return messages, headlines


def decision_messages(
    context: OracleContext, analysis: Mapping[str, Any], config: OracleConfig
) -> tuple[tuple[ChatMessage, ...], tuple[NewsItem, ...]]:
    """Pass 2 of manager mode: decide trades, given the pass-1 analysis."""
    body, headlines = _manager_body(context, config)
    body["analysis"] = dict(analysis)
    body["buyable"] = sorted(context.symbols)
    body["held"] = sorted(context.held)
    messages: tuple[ChatMessage, ...] = (
        {"role": "system", "content": MANAGER_SYSTEM},
        {"role": "user", "content": _dumps(body)},
    )
    return messages, headlines


def repair_messages(
    messages: Sequence[ChatMessage], answer: str, problems: Sequence[str]
) -> tuple[ChatMessage, ...]:
    """The conversation again, with the unusable answer and what was wrong with it."""
    listed = "\n".join(f"- {p}" for p in problems[:20]) or "- no JSON object found"
    return (
        *messages,
        {"role": "assistant", "content": answer[:4000]},
        {"role": "user", "content": REPAIR_PROMPT.format(problems=listed)},
    )
