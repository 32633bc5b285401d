"""The manager's prompts: pass 1 asks for a market analysis, pass 2 for trade actions.

An account with a mandate shows it in both: each bucket's target and current weight, and
the class of each symbol shown, so the manager can fill an under-weight bucket.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from invest.runtime.config.oracle import OracleConfig
from invest.runtime.oracle.anonymise import mask_dates
from invest.runtime.oracle.client.protocol import ChatMessage
from invest.runtime.oracle.context import OracleContext, context_block
from invest.runtime.oracle.news.items import NewsItem
from invest.runtime.oracle.prompts import common_body, dumps, num, usd

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


def _portfolio(context: OracleContext) -> dict[str, Any] | None:
    pf = context.portfolio
    if pf is None:
        return None
    return {
        "equity_usd": usd(pf.equity),
        "cash_usd": usd(pf.cash),
        "drawdown_pct": num(pf.drawdown_pct),
        "positions": [
            {
                "symbol": p.symbol,
                "value_usd": usd(p.value),
                "weight": num(p.weight),
                "pnl_pct": num(p.pnl_pct),
                "days_held": p.days_held,
            }
            for p in sorted(pf.positions, key=lambda p: p.symbol)
        ],
    }


MANDATE_RULE = (
    "Target share of equity per asset class (cash included); each may drift within "
    "target +- band. The risk engine scales an over-weight class down to its target and "
    "keeps cash at its target at least, but never buys to fill an under-weight class: "
    "your BUYs of that class's symbols fill it."
)


def _mandate(context: OracleContext) -> dict[str, Any] | None:
    m = context.mandate
    if m is None:
        return None
    return {
        "rule": MANDATE_RULE,
        "band": num(m.band),
        "buckets": {
            c: {"target": num(w), "weight": num(m.weights.get(c, 0.0))}
            for c, w in sorted(m.targets.items())
        },
        "asset_classes": dict(sorted(m.classes.items())),
    }


def _manager_body(context: OracleContext, config: OracleConfig) -> tuple[dict[str, Any], Any]:
    symbols = sorted(set(context.symbols) | context.held)
    body, headlines = common_body(context, symbols, config)
    body["portfolio"] = _portfolio(context)
    if context.mandate is not None:  # absent, the prompt (and its cache key) is unchanged
        body["mandate"] = _mandate(context)
    body["previous_decisions"] = [
        {
            "symbol": d.symbol,
            "action": d.action,
            "day": -d.days_ago,
            "pnl_pct": None if d.pnl_pct is None else num(d.pnl_pct),
            "thesis": mask_dates(d.thesis) if config.anonymise else d.thesis,
        }
        for d in context.previous
    ]
    return body, headlines


def analysis_messages(
    context: OracleContext, config: OracleConfig
) -> tuple[tuple[ChatMessage, ...], tuple[NewsItem, ...]]:
    """Pass 1 of manager mode: describe the market (with the VIX, yield, dollar, earnings)."""
    body, headlines = _manager_body(context, config)
    body.update(context_block(context, config.anonymise))
    messages: tuple[ChatMessage, ...] = (
        {"role": "system", "content": ANALYST_SYSTEM},
        {"role": "user", "content": dumps(body)},
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
        {"role": "user", "content": dumps(body)},
    )
    return messages, headlines
