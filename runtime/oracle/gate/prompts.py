"""The gate's prompt: one verdict (approve, shrink, veto) asked for each proposed buy."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from invest.runtime.config.oracle import OracleConfig
from invest.runtime.oracle.client.protocol import ChatMessage
from invest.runtime.oracle.context import OracleContext, context_block
from invest.runtime.oracle.news.items import NewsItem
from invest.runtime.oracle.prompts import common_body, dumps, num, usd

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


def gate_messages(
    proposed: Mapping[str, Decimal], context: OracleContext, config: OracleConfig
) -> tuple[tuple[ChatMessage, ...], tuple[NewsItem, ...]]:
    """Messages asking for a verdict on each proposed buy, and the headlines shown."""
    symbols = sorted(proposed)
    body, headlines = common_body(context, symbols, config)
    body.update(context_block(context, config.anonymise))
    equity = context.portfolio.equity if context.portfolio else None
    body["proposed_buys"] = [
        {
            "symbol": s,
            "amount_usd": usd(proposed[s]),
            "share_of_equity": num(float(proposed[s] / equity), 4) if equity else None,
        }
        for s in symbols
    ]
    messages: tuple[ChatMessage, ...] = (
        {"role": "system", "content": GATE_SYSTEM},
        {"role": "user", "content": dumps(body)},
    )
    return messages, headlines
