"""What every oracle prompt shows, rendered deterministically.

The same context always gives byte-identical messages (sorted keys, fixed
rounding), so the prompt hash, and with it the cache, is stable. With
``anonymise`` the model sees ``day -N`` labels, prices rebased to 100 and
headlines with dates masked, never a calendar date. The gate's and the
manager's own prompts (``gate/prompts.py``, ``manager/prompts.py``) add their
question to :func:`common_body`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from invest.runtime.config.oracle import OracleConfig
from invest.runtime.oracle.anonymise import days_before, mask_dates, rebase, series_labels
from invest.runtime.oracle.context import OracleContext
from invest.runtime.oracle.news.items import NewsItem


def dumps(value: Any) -> str:
    """Compact JSON with sorted keys: the same value always gives the same text."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def num(value: float, digits: int = 4) -> float | None:
    """``value`` rounded to ``digits``, or None when it is not finite."""
    return round(value, digits) if math.isfinite(value) else None


def usd(value: Decimal) -> str:
    """Dollars as text with two decimals."""
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
            "closes": [num(c, 2) for c in shown],
            "indicators": {k: num(v) for k, v in sorted(snap.indicators.items())},
        }
        if snap.sector:
            block[sym]["sector"] = snap.sector
    return block


def common_body(
    context: OracleContext, symbols: Sequence[str], config: OracleConfig
) -> tuple[dict[str, Any], tuple[NewsItem, ...]]:
    """The part every prompt shows: the day, regime, prices, indicators and headlines."""
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
