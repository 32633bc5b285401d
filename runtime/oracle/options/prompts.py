"""The options prompts: spreads in two passes (the type, then the actions), the wheel in one.

Pass 1 (spreads) shows the regime, each underlying's spot, IV percentile and skew,
the rules' own figures (``plan.context``: trend and the like), the open positions
and the allowed spread types (only the kinds among the rules' candidates), and asks
for one type or SKIP. Pass 2 shows the candidates of that type (strikes, DTE,
premium, max loss, the rules' contracts) and asks OPEN_SPREAD / CLOSE / SKIP. The
wheel's one pass shows all its candidates and asks SELL_PUT / SELL_CALL / ROLL /
CLOSE / SKIP: its choice is already narrow (a put where no shares are held, a call
on free shares, a roll of an expiring short), so a separate type pass would only
double the cost.

Rendered with :func:`~invest.runtime.oracle.prompts.dumps`: the same inputs give
byte-identical messages, so the cache (and ``--oracle replay``) finds them again.
With ``anonymise`` the model sees ``day 0``, DTEs and relative ages, never a date.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from invest.runtime.config.oracle import OracleConfig
from invest.runtime.errors import ConfigError
from invest.runtime.options.book import OptionPosition
from invest.runtime.options.plan import OptionsContext, OptionsPlan
from invest.runtime.options.structures import Structure, StructureKind
from invest.runtime.oracle.anonymise import mask_dates
from invest.runtime.oracle.client.protocol import ChatMessage
from invest.runtime.oracle.options.menu import Menu
from invest.runtime.oracle.prompts import dumps, num, usd

TYPE_SYSTEM = """You are the options desk of an automated portfolio.
The rules engine found defined-risk spreads it may open today. Read the market
regime, each underlying's implied-volatility percentile and skew, the rules'
figures and the open positions, and choose the ONE spread type worth opening
today, or SKIP. Only a type listed in allowed_types may be chosen.
A high IV percentile favours selling premium (credit spreads, iron condors);
a low one favours buying it (debit spreads, butterflies). When in doubt, SKIP.
Answer with one JSON object and nothing else:
{"spread_type": "bull_put", "reason": "one sentence"}
or {"spread_type": "SKIP", "reason": "one sentence"}"""

SPREADS_SYSTEM = """You are the options desk of an automated portfolio.
You chose the spread type shown as chosen_type. Decide today's actions:
- OPEN_SPREAD: open a listed candidate by its id, with at most its
  max_contracts (fewer is allowed);
- CLOSE: close an open position by its id (only those in open_positions);
- SKIP: open nothing.
You cannot invent a candidate, change its strikes or exceed max_contracts.
Positions in closing_anyway are closed by the rules whatever you answer.
Hard risk rules check every order afterwards. When in doubt, SKIP.
Answer with one JSON object and nothing else:
{"actions": [{"action": "OPEN_SPREAD", "candidate_id": "c1", "contracts": 1,
  "reason": "one sentence"},
 {"action": "CLOSE", "position_id": "p1", "reason": "one sentence"}]}
or {"actions": [{"action": "SKIP", "reason": "one sentence"}]}"""

WHEEL_SYSTEM = """You run the wheel on an automated portfolio: sell cash-secured
puts; once assigned, sell covered calls on the shares. The rules engine lists the
candidates it allows today. Decide today's actions:
- SELL_PUT: sell a cash-secured put candidate by its id;
- SELL_CALL: sell a covered call candidate by its id;
- ROLL: open a roll candidate by its id (it replaces the position in roll_of,
  which is closed whatever you answer);
- CLOSE: close an open position by its id (only those in open_positions);
- SKIP: open nothing.
Use the verb listed with each candidate and at most its max_contracts (fewer is
allowed). You cannot invent a candidate or change its strike. Hard risk rules
check every order afterwards. When in doubt, SKIP.
Answer with one JSON object and nothing else:
{"actions": [{"action": "SELL_PUT", "candidate_id": "c1", "contracts": 1,
  "reason": "one sentence"},
 {"action": "CLOSE", "position_id": "p1", "reason": "one sentence"}]}
or {"actions": [{"action": "SKIP", "reason": "one sentence"}]}"""


def type_messages(
    ctx: OptionsContext, plan: OptionsPlan, menu: Menu, config: OracleConfig
) -> tuple[ChatMessage, ...]:
    """Pass 1 of spreads: one allowed spread type, or SKIP."""
    body = _common(ctx, plan, menu, config)
    body["allowed_types"] = [
        {
            "type": kind.value,
            "candidates": sum(1 for c in menu.candidates.values() if c.kind is kind),
            "underlyings": sorted(
                {c.structure.underlying for c in menu.candidates.values() if c.kind is kind}
            ),
        }
        for kind in menu.kinds()
    ]
    return _messages(TYPE_SYSTEM, body)


def spreads_messages(
    ctx: OptionsContext,
    plan: OptionsPlan,
    menu: Menu,
    config: OracleConfig,
    chosen: StructureKind | None,
    why: str,
) -> tuple[ChatMessage, ...]:
    """Pass 2 of spreads: the candidates of the ``chosen`` type (``menu`` holds only those)."""
    body = _common(ctx, plan, menu, config)
    body["chosen_type"] = chosen.value if chosen is not None else "SKIP"
    body["chosen_because"] = _text(why, config)
    body["candidates"] = _candidates(ctx, menu, config)
    return _messages(SPREADS_SYSTEM, body)


def wheel_messages(
    ctx: OptionsContext, plan: OptionsPlan, menu: Menu, config: OracleConfig
) -> tuple[ChatMessage, ...]:
    """The wheel's one pass: its candidates, each with the verb that opens it."""
    body = _common(ctx, plan, menu, config)
    body["shares_free"] = {s: str(q) for s, q in sorted(ctx.free_shares.items()) if q and q > 0}
    body["candidates"] = _candidates(ctx, menu, config)
    return _messages(WHEEL_SYSTEM, body)


def _messages(system: str, body: dict[str, Any]) -> tuple[ChatMessage, ...]:
    return ({"role": "system", "content": system}, {"role": "user", "content": dumps(body)})


def _text(value: str, config: OracleConfig) -> str:
    short = value.strip()[:300]
    return mask_dates(short) if config.anonymise else short


def _common(
    ctx: OptionsContext, plan: OptionsPlan, menu: Menu, config: OracleConfig
) -> dict[str, Any]:
    """The part both passes show: the day, regime, account, underlyings and positions."""
    symbols = {c.structure.underlying for c in menu.candidates.values()}
    symbols |= {p.structure.underlying for p in ctx.book.open_positions()}
    underlyings: dict[str, Any] = {}
    for sym in sorted(symbols):
        chain = ctx.chains.get(sym)
        iv_pct, skew = ctx.iv_percentile.get(sym), ctx.skew.get(sym)
        underlyings[sym] = {
            "spot": num(chain.spot, 2) if chain is not None else None,
            "iv_percentile": num(iv_pct, 1) if iv_pct is not None else None,
            "skew": num(skew, 4) if skew is not None else None,
            "shares_held": str(ctx.shares.get(sym, 0)),
        }
    by_alias = {menu.aliases[p.id]: p for p in ctx.book.open_positions() if p.id in menu.aliases}
    return {
        "today": "day 0" if config.anonymise else ctx.day.isoformat(),
        "regime": ctx.regime.value,
        "account": {
            "equity_usd": usd(_decimal(ctx.equity)),
            "cash_usd": usd(ctx.cash),
            "free_cash_usd": usd(ctx.free_cash),
        },
        "underlyings": underlyings,
        "rules_figures": figures(plan.context),
        "open_positions": [
            _position(alias, pos, ctx) for alias, pos in sorted(menu.positions.items(), key=_order)
        ],
        "closing_anyway": [
            {**_position(alias, by_alias[alias], ctx), "rule": rule}
            for alias, rule in sorted(menu.closing.items(), key=_order)
        ],
    }


def _order(item: tuple[str, Any]) -> tuple[int, str]:
    """``p2`` before ``p10``."""
    key = item[0]
    return (int(key[1:]) if key[1:].isdigit() else 0, key)


def _decimal(value: float) -> Decimal:
    return Decimal(repr(value)) if math.isfinite(value) else Decimal(0)


def figures(value: Any, depth: int = 0) -> Any:
    """The numbers in ``value`` (nested dicts and lists of them); text and dates left out.

    The rules' ``plan.context`` may hold anything; only its figures reach the prompt,
    so a date or a free-text note can never leak into an anonymised one.
    """
    if isinstance(value, bool) or depth > 3:
        return None
    if isinstance(value, int | float):
        return num(float(value), 4)
    if isinstance(value, Mapping):
        out = {str(k): figures(v, depth + 1) for k, v in sorted(value.items(), key=str)}
        return {k: v for k, v in out.items() if v is not None and v != {} and v != []} or None
    if isinstance(value, list | tuple):
        kept = [figures(v, depth + 1) for v in value[:50]]
        return [v for v in kept if v is not None] or None
    return None


def _strikes(structure: Structure) -> list[str]:
    return [
        f"{leg.quantity:+d} {leg.contract.right.value} {leg.contract.strike}"
        for leg in structure.legs
    ]


def _money(value: float, multiplier: int) -> float | None:
    return num(value * multiplier, 2) if math.isfinite(value) else None


def _candidates(ctx: OptionsContext, menu: Menu, config: OracleConfig) -> list[dict[str, Any]]:
    rows = []
    for cid, c in sorted(menu.candidates.items(), key=_order):
        s = c.structure
        try:
            loss: float | None = _money(s.max_loss(c.est_premium), s.multiplier)
            gain: float | None = _money(s.max_gain(c.est_premium), s.multiplier)
        except ConfigError:  # a covered call's bounds need its shares' cost
            loss = gain = None
        row: dict[str, Any] = {
            "id": cid,
            "action": menu.verb(cid).value,
            "type": c.kind.value,
            "underlying": s.underlying,
            "legs": _strikes(s),
            "dte": (s.legs[0].contract.expiry - ctx.day).days,
            "premium_per_share": num(c.est_premium, 4),
            "credit": c.est_premium > 0,
            "max_loss_usd_per_contract": loss,
            "max_gain_usd_per_contract": gain,
            "max_contracts": c.contracts,
            "figures": figures(c.score),
            "rules_reason": _text(c.reason, config),
        }
        if c.roll_of is not None:
            row["roll_of"] = menu.aliases.get(c.roll_of, "unknown")
        rows.append(row)
    return rows


def _position(alias: str, pos: OptionPosition, ctx: OptionsContext) -> dict[str, Any]:
    s = pos.structure
    chain = ctx.chains.get(s.underlying)
    now: float | None = None
    if chain is not None:
        mids: dict[str, float] = {}
        for leg in s.legs:
            q = chain.quote(leg.contract)
            if q is not None:
                mids[leg.contract.symbol] = q.mid
        if len(mids) == len(s.legs):
            now = num(s.net_premium(mids), 4)
    return {
        "id": alias,
        "type": s.kind.value,
        "underlying": s.underlying,
        "legs": _strikes(s),
        "contracts": pos.contracts,
        "dte": (pos.expiry - ctx.day).days,
        "days_open": (ctx.day - pos.opened).days,
        "open_premium_per_share": num(pos.open_premium, 4),
        "premium_now_per_share": now,
    }


__all__ = [
    "SPREADS_SYSTEM",
    "TYPE_SYSTEM",
    "WHEEL_SYSTEM",
    "figures",
    "spreads_messages",
    "type_messages",
    "wheel_messages",
]
