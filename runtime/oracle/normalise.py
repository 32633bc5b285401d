"""Normalise the common drift in model answers before strict validation.

Keys: ``ticker`` becomes ``symbol``, ``decision`` becomes ``verdict``, and so on.
Values: lowercase verdicts, numbers written as strings (``'0.5'``, ``'50%'``,
``'$1,200'``). Shapes: :func:`find_items` finds the list of per-symbol items
under whatever key the model chose. Every function here returns None instead of
raising.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from invest.runtime.oracle.schemas import Action, MarketRegime, Verdict

_KEY_ALIASES = {
    "symbol": ("ticker", "stock", "asset", "instrument", "name", "sym", "security"),
    "verdict": ("decision", "recommendation", "vote", "gate", "ruling", "answer"),
    "fraction": (
        "shrink_fraction",
        "shrink_to",
        "shrink",
        "scale",
        "factor",
        "multiplier",
        "ratio",
        "size_fraction",
        "fraction_allowed",
        "allowed_fraction",
    ),
    "fraction_pct": ("percent", "pct", "percentage", "shrink_pct", "size_pct"),
    "amount": (
        "notional",
        "amount_usd",
        "usd",
        "dollars",
        "value",
        "size_usd",
        "quantity_usd",
        "notional_usd",
        "new_amount",
        "allowed_amount",
    ),
    "action": ("type", "side", "decision", "trade", "recommendation", "order", "verdict"),
    "reason": ("reasoning", "rationale", "explanation", "why", "comment", "justification"),
    "headline_ids": (
        "headlines",
        "headline_id",
        "news_ids",
        "sources",
        "citations",
        "evidence",
        "news",
        "cited",
        "ids",
    ),
    "thesis": ("reason", "reasoning", "rationale", "explanation", "why"),
    "stop_loss_pct": ("stop_loss", "stop", "sl", "stop_loss_percent", "stoploss"),
    "take_profit_pct": ("take_profit", "tp", "target", "take_profit_percent", "takeprofit"),
    "time_stop_days": ("time_stop", "holding_days", "max_hold_days", "hold_days", "horizon_days"),
}
_VERDICTS = {
    Verdict.APPROVE: (
        "approve",
        "approved",
        "accept",
        "accepted",
        "allow",
        "yes",
        "ok",
        "go",
        "pass",
        "buy",
        "keep",
    ),
    Verdict.SHRINK: (
        "shrink",
        "reduce",
        "reduced",
        "trim",
        "scale",
        "scale_down",
        "partial",
        "downsize",
        "resize",
    ),
    Verdict.VETO: (
        "veto",
        "vetoed",
        "reject",
        "rejected",
        "block",
        "deny",
        "denied",
        "no",
        "avoid",
        "skip",
        "cancel",
        "sell",
        "stop",
    ),
}
_ACTIONS = {
    Action.BUY: ("buy", "add", "open", "long", "increase", "accumulate"),
    Action.SELL: ("sell", "close", "exit", "reduce", "trim", "decrease"),
    Action.HOLD: ("hold", "keep", "wait", "none", "nothing", "no_action", "maintain"),
}
_REGIMES = {
    MarketRegime.BULL: ("bull", "bullish", "bull_market", "uptrend", "risk_on"),
    MarketRegime.BEAR: ("bear", "bearish", "bear_market", "downtrend", "risk_off"),
    MarketRegime.SIDEWAYS: (
        "sideways",
        "neutral",
        "range",
        "range_bound",
        "rangebound",
        "flat",
        "choppy",
        "mixed",
    ),
    MarketRegime.HIGH_VOLATILITY: (
        "high_volatility",
        "high_vol",
        "volatile",
        "volatility",
        "high_volatility_regime",
        "crisis",
    ),
}
_LIST_KEYS = (
    "verdicts",
    "decisions",
    "reviews",
    "results",
    "orders",
    "items",
    "trades",
    "buys",
    "answers",
    "gate",
    "recommendations",
    "actions",
    "positions",
)
_ITEM_HINTS = ("symbol", "ticker", "verdict", "decision", "action")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
CENT = Decimal("0.01")


def norm_key(key: object) -> str:
    """``'Stop-Loss %'`` -> ``'stop_loss'``."""
    text = re.sub(r"[^a-z0-9]+", "_", str(key).strip().lower())
    return text.strip("_")


def normalise_keys(item: dict[Any, Any], wanted: tuple[str, ...]) -> dict[str, Any]:
    """Lowercase keys and map aliases onto the ``wanted`` names (first key wins)."""
    plain = {norm_key(k): v for k, v in item.items()}
    out: dict[str, Any] = {}
    for name in wanted:
        for key in (name, *_KEY_ALIASES.get(name, ())):
            if key in plain and plain[key] is not None:
                out[name] = plain[key]
                break
    return out


def _word(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return norm_key(value)


def _lookup(value: object, table: dict[Any, tuple[str, ...]]) -> Any | None:
    word = _word(value)
    if word is None:
        return None
    for canon, aliases in table.items():
        if word == norm_key(canon) or word in aliases:
            return canon
    first = word.split("_", 1)[0]  # "veto_due_to_news" -> veto
    for canon, aliases in table.items():
        if first == norm_key(canon) or first in aliases:
            return canon
    return None


def verdict(value: object) -> Verdict | None:
    """``'approve'``, ``'Approved'``, ``'reject'`` ... as a :class:`Verdict`."""
    found = _lookup(value, _VERDICTS)
    return found if isinstance(found, Verdict) else None


def action(value: object) -> Action | None:
    """``'buy'``, ``'exit'``, ``'hold'`` ... as an :class:`Action`."""
    found = _lookup(value, _ACTIONS)
    return found if isinstance(found, Action) else None


def regime(value: object) -> MarketRegime | None:
    """``'bullish'``, ``'High Volatility'`` ... as a :class:`MarketRegime`."""
    found = _lookup(value, _REGIMES)
    return found if isinstance(found, MarketRegime) else None


def number(value: object) -> float | None:
    """A finite float from a number or a string: ``'0.5'``, ``'50%'``, ``'$1,200'``, ``'+1'``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        result = float(value) if abs(value) < 1e300 else math.inf
        return result if math.isfinite(result) else None
    if not isinstance(value, str):
        return None
    text = value.strip().replace(",", "").replace("$", "").replace(" ", "").lower()
    scale = 1.0
    if text.endswith("%"):
        text, scale = text[:-1], 0.01
    elif text[-1:] in ("k", "m") and len(text) > 1:
        text, scale = text[:-1], 1_000.0 if text[-1] == "k" else 1_000_000.0
    if not _NUMBER.match(text) or len(text) > 40:
        return None
    result = float(text) * scale
    return result if math.isfinite(result) else None


def fraction(value: object) -> float | None:
    """A share of an order: ``0.5``, ``'0.5'``, ``'50%'``; None when not in 0..1."""
    result = number(value)
    return result if result is not None and 0.0 <= result <= 1.0 else None


def percent_as_fraction(value: object) -> float | None:
    """A percentage (``8``, ``'8%'``, ``0.08``) as a fraction: values above 1 are percents."""
    result = number(value)
    if result is None:
        return None
    if isinstance(value, str) and value.strip().endswith("%"):
        return result
    return result / 100.0 if result > 1.0 else result


def amount(value: object) -> Decimal | None:
    """A USD amount rounded down to cents, or None."""
    result = number(value)
    if result is None or result < 0 or result >= 1e12:
        return None
    try:
        return Decimal(repr(result)).quantize(CENT, rounding=ROUND_DOWN)
    except InvalidOperation:
        return None


def symbol(value: object) -> str | None:
    """A ticker as the model wrote it, uppercased without ``$`` (``' $aapl'`` -> ``'AAPL'``)."""
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip().upper().lstrip("$")[:20]


def whole_number(value: object) -> int | None:
    """An integer from ``5``, ``5.0`` or ``'5 days'``."""
    if isinstance(value, str):
        value = value.strip().split(" ", 1)[0]
    result = number(value)
    if result is None or result != int(result) or abs(result) > 1e9:
        return None
    return int(result)


def text(value: object, limit: int = 1000) -> str:
    """Any value as a short string."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return "; ".join(text(v, limit) for v in value)[:limit]
    return str(value).strip()[:limit]


def string_list(value: object, limit: int = 20) -> tuple[str, ...]:
    """A list of short strings from a list, a single string or anything else."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value.strip()[:1000],) if value.strip() else ()
    if isinstance(value, list | tuple):
        return tuple(t for t in (text(v) for v in value[:limit]) if t)
    return (text(value),)


def find_items(doc: Any, depth: int = 0) -> list[Any] | None:
    """The list of per-symbol items in a decoded answer, whatever its shape."""
    if isinstance(doc, list):
        return doc
    if not isinstance(doc, dict) or depth > 3:
        return None
    plain = {norm_key(k): v for k, v in doc.items()}
    for key in _LIST_KEYS:
        value = plain.get(key)
        if isinstance(value, list):
            return value
        if isinstance(value, dict):
            return find_items(value, depth + 1)
    if any(k in plain for k in _ITEM_HINTS):
        return [doc]
    keyed: list[Any] = []
    for key, value in doc.items():  # {"AAPL": {"verdict": ...}} or {"AAPL": "VETO"}
        if isinstance(value, dict):
            keyed.append({"symbol": key, **value})
        elif isinstance(value, str):
            keyed.append({"symbol": key, "verdict": value})
    return keyed or None


def cited_ids(
    value: Any, known: Collection[str] | None, sym: str, problems: list[str]
) -> tuple[str, ...]:
    """Cited headline ids as strings; ids that were never shown are dropped."""
    ids = tuple(dict.fromkeys(string_list(value, limit=20)))
    if known is None:
        return ids
    kept = tuple(i for i in ids if i in known)
    if len(kept) < len(ids):
        problems.append(f"{sym}: {len(ids) - len(kept)} cited headline id(s) were never shown")
    return kept
