"""Human-readable explanation records: for the CLI, Telegram ``/why`` and the TUI.

Two shapes of record: a stock cycle's (``orders`` with side, qty, symbol) and an
options session's (``options_cycle._record``: ``exits``, ``closes``, ``opens`` of
structures with legs, the IV readings, the open positions marked). Both go through
:func:`headline` and :func:`explain`, which tell them apart by the ``exits`` key.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

#: An OCC option symbol: root, YYMMDD expiry, C/P, strike x 1000 on eight digits.
_OCC = re.compile(r"^(?P<root>[A-Z0-9. ]{1,6}?)(?P<ymd>\d{6})(?P<right>[CP])(?P<strike>\d{8})$")


def is_options(rec: dict[str, Any]) -> bool:
    """True for an options session's record (``options_cycle._record``)."""
    return "exits" in rec


def headline(rec: dict[str, Any]) -> str:
    """One line: day, account, regime and the orders of a cycle."""
    if is_options(rec):
        return _options_headline(rec)
    orders = rec.get("orders", [])
    what = (
        ", ".join(f"{o['side'].upper()} {float(o['qty']):g} {o['symbol']}" for o in orders)
        or "no trade"
    )
    regime = rec.get("regime") or "monitor"
    return f"{rec['day']} {rec['account']:<16} {regime:<7} equity {rec['equity']:>12,.2f}  {what}"


def explain(rec: dict[str, Any], symbol: str | None = None) -> str:
    """The whole explanation record as indented text (optionally one symbol's part)."""
    if is_options(rec):
        return "\n".join(options_lines(rec, symbol))
    lines = [headline(rec)]
    lines += [f"  {n}" for n in rec.get("notes", [])]
    scores = rec.get("scores", {})
    if scores:
        top = (
            list(scores.items())[:8]
            if symbol is None
            else [(symbol, scores.get(symbol, "unranked"))]
        )
        lines.append("  scores: " + ", ".join(f"{s} {v}" for s, v in top))
    if rec.get("targets"):
        lines.append("  targets: " + ", ".join(f"{s} {w:.1%}" for s, w in rec["targets"].items()))
    if rec.get("rl"):
        lines.append("  " + _rl(rec, symbol))
    if rec.get("llm"):
        lines += ["  " + x for x in _llm(rec["llm"], symbol)]
    for o in rec.get("orders", []):
        if symbol is None or o["symbol"] == symbol:
            lines.append(
                f"  order {o['side']} {o['qty']} {o['symbol']} @~{o['ref_price']}: {o['reason']}"
            )
    for c in rec.get("clamps", []):
        if symbol is None or c["symbol"] in (symbol, "*"):
            lines.append(f"  risk {c['rule']} [{c['symbol']}]: {c['reason']}")
    for s in rec.get("skipped", []):
        if symbol is None or s["symbol"] == symbol:
            lines.append(f"  skipped {s['symbol']}: {s['reason']}")
    return "\n".join(lines)


def _rl(rec: dict[str, Any], symbol: str | None) -> str:
    """RL votes: the symbols in play in full, the rest as a count per action."""
    votes: dict[str, Any] = rec["rl"]
    if not all(isinstance(v, dict) for v in votes.values()):
        return f"RL: {votes}"
    focus = (
        {symbol}
        if symbol
        else set(rec.get("targets", {})) | {o["symbol"] for o in rec.get("orders", [])}
    )
    shown = [
        f"{s} {v.get('action')} {float(v.get('confidence', 0)):.0%} ({'/'.join(v.get('votes', []))})"
        for s, v in votes.items()
        if s in focus
    ]
    counts: dict[str, int] = {}
    for v in votes.values():
        counts[str(v.get("action"))] = counts.get(str(v.get("action")), 0) + 1
    tally = ", ".join(f"{n} {a}" for a, n in sorted(counts.items()))
    return "RL votes: " + "; ".join(shown) + (f" [all: {tally}]" if shown else tally)


def _llm(llm: dict[str, Any], symbol: str | None) -> list[str]:
    """The LLM verdicts with their reasons and cited headlines."""
    out = [f"LLM {llm.get('status', '')}: {llm.get('note') or ''} {llm.get('news') or ''}".rstrip()]
    for v in llm.get("verdicts", []):
        if symbol is not None and v.get("symbol") != symbol:
            continue
        cited = "; ".join(v.get("headlines") or v.get("headline_ids") or [])
        out.append(
            f"  {v.get('symbol')} {v.get('verdict')} ({v.get('source', 'llm')}): {v.get('reason', '')}"
            + (f" [cites: {cited}]" if cited else "")
        )
    return out


# -- options sessions ----------------------------------------------------------------------


def _options_headline(rec: dict[str, Any]) -> str:
    orders = rec.get("orders", [])
    what = (
        ", ".join(
            f"{o['action'].upper()} {o['kind']} {o['underlying']} x{o['contracts']}"
            + (f" ({o['rule']})" if o.get("rule") else "")
            for o in orders
        )
        or "no trade"
    )
    regime = rec.get("regime") or "monitor"
    equity = rec.get("equity")
    money = f"{equity:>12,.2f}" if isinstance(equity, (int, float)) else f"{'?':>12}"
    return f"{rec['day']} {rec['account']:<16} {regime:<7} equity {money}  {what}"


def leg_words(legs: str, day: str | None = None) -> str:
    """``"-1 KO160617P00035000"`` as ``"-1 35P 2016-06-17 (3 DTE)"`` (DTE when ``day`` is given).

    The underlying is left out (the line around it names it); legs of one expiry say
    it once. A leg that is not an OCC symbol is kept as it is.
    """
    rows: list[tuple[str, str, str]] = []
    parts = legs.split()
    for qty, symbol in zip(parts[::2], parts[1::2], strict=False):
        m = _OCC.match(symbol)
        if m is None:
            rows.append((qty, symbol, ""))
            continue
        ymd = m["ymd"]
        expiry = date(2000 + int(ymd[:2]), int(ymd[2:4]), int(ymd[4:]))
        dte = f" ({(expiry - date.fromisoformat(day)).days} DTE)" if day else ""
        rows.append((qty, f"{int(m['strike']) / 1000:g}{m['right']}", expiry.isoformat() + dte))
    whens = {w for _q, _s, w in rows}
    if len(whens) == 1:
        (when,) = whens
        return (" / ".join(f"{q} {s}" for q, s, _w in rows) + f" {when}").rstrip()
    return " / ".join(f"{q} {s} {w}".rstrip() for q, s, w in rows)


def _premium(o: dict[str, Any]) -> str:
    """The order's net premium per share: the strategy's estimate and the limit sent."""
    est = (o.get("score") or {}).get("premium")
    limit = o.get("limit")
    ref = est if isinstance(est, (int, float)) else limit
    if not isinstance(ref, (int, float)):
        return "at the market"
    side = "credit" if ref > 0 else "debit"
    text = f"{side} {abs(ref):.2f}/sh"
    if isinstance(limit, (int, float)) and limit != ref:
        text += f" (limit {abs(limit):.2f})"
    return text


def options_lines(rec: dict[str, Any], symbol: str | None = None) -> list[str]:
    """An options session's record as lines: readings, LLM, orders, risk, positions."""
    lines = [_options_headline(rec), *_readings(rec, symbol)]
    lines += [f"  {n}" for n in _notes(rec, symbol)]
    llm = rec.get("llm") or (rec.get("context") or {}).get("llm")
    if isinstance(llm, dict):
        lines += ["  " + x for x in _options_llm(llm)]
    lines += _option_orders(rec, symbol)
    for c in rec.get("clamps", []):
        if symbol is None or c["symbol"] in (symbol, "*"):
            lines.append(f"  risk {c['rule']} [{c['symbol']}]: {c['reason']}")
    for s in rec.get("skipped", []):
        if symbol in (None, s["symbol"]):
            lines.append(f"  skipped {s['symbol']}: {s['reason']}")
    lines += [
        "  " + position_line(p)
        for p in rec.get("positions", [])
        if symbol in (None, p["underlying"])
    ]
    return lines


def _notes(rec: dict[str, Any], symbol: str | None) -> list[str]:
    """The notes; for one symbol, those naming it or naming none of the session's underlyings."""
    notes = [str(n) for n in rec.get("notes", [])]
    if symbol is None:
        return notes
    names = {*(rec.get("chains") or {}), *(o["underlying"] for o in rec.get("orders", []))}
    return [n for n in notes if symbol in n or not any(u in n for u in names)]


def _readings(rec: dict[str, Any], symbol: str | None) -> list[str]:
    """Per underlying: IV percentile, skew, spot, and whether the chain is modelled."""
    chains = rec.get("chains") or {}
    pct = rec.get("iv_percentile") or {}
    skews = rec.get("skew") or {}
    out = []
    for u in sorted({*chains, *pct, *skews}):
        if symbol not in (None, u):
            continue
        c = chains.get(u, {})
        p, sk = pct.get(u), skews.get(u)
        bits = [
            f"IV pct {p:.0%}" if isinstance(p, (int, float)) else "IV pct n/a (short history)",
            f"skew {sk:+.3f}" if isinstance(sk, (int, float)) else "skew n/a",
        ]
        if isinstance(c.get("spot"), (int, float)):
            bits.append(f"spot {c['spot']:,.2f}")
        if c.get("modelled"):
            bits.append("modelled chain")
        out.append(f"  {u}: " + ", ".join(bits))
    return out


def _option_orders(rec: dict[str, Any], symbol: str | None) -> list[str]:
    """The exits (with their rule), the strategy's closes and the opens, with legs in words."""
    day = str(rec["day"])
    out = []
    for o in rec.get("exits", []):
        if symbol in (None, o["underlying"]):
            out.append(
                f"  exit [{o['rule']}] {o['kind']} {o['underlying']} x{o['contracts']} "
                f"{leg_words(o['legs'], day)} at the market: {o['reason']}"
            )
    for o in rec.get("closes", []):
        if symbol in (None, o["underlying"]):
            out.append(
                f"  close [{o.get('rule') or 'strategy'}] {o['kind']} {o['underlying']} "
                f"x{o['contracts']} {leg_words(o['legs'], day)}, {_premium(o)}: {o['reason']}"
            )
    for o in rec.get("opens", []):
        if symbol in (None, o["underlying"]):
            asked = o.get("proposed_contracts")
            shrunk = f" (of {asked} proposed)" if asked not in (None, o["contracts"]) else ""
            out.append(
                f"  open {o['kind']} {o['underlying']} x{o['contracts']}{shrunk} "
                f"{leg_words(o['legs'], day)}, {_premium(o)}: {o['reason']}"
            )
    return out


def position_line(p: dict[str, Any]) -> str:
    """One marked position of a record's ``positions`` block, with its nearest trigger."""

    def num(key: str, fmt: str) -> str:
        v = p.get(key)
        return format(v, fmt) if isinstance(v, (int, float)) else "n/a"

    text = (
        f"held {p['kind']} {p['underlying']} x{p['contracts']}, {p['dte']} DTE: "
        f"value {num('value', ',.2f')}, P&L {num('unrealised', '+,.2f')}, "
        f"delta {num('delta', '+,.1f')}, theta {num('theta', '+,.2f')}/day"
    )
    triggers = p.get("triggers") or []
    if triggers:
        t = min(triggers, key=lambda t: t["remaining"])
        text += "; nearest: " + trigger_words(t)
    if not p.get("priced", True):
        text += " (not quoted today: last value)"
    return text


def trigger_words(t: dict[str, Any]) -> str:
    """A trigger of the ``positions`` block in words (see options.marks.Trigger.text)."""
    name = str(t["rule"]).replace("_", " ")
    if t["unit"] == "days":
        return (
            "auto-close due"
            if t["distance"] <= 0
            else f"auto-close in {t['distance']:.0f} day{'s' if t['distance'] != 1 else ''}"
        )
    if t["distance"] <= 0:
        return f"{name} due (at {t['at']:,.2f})"
    return f"{name} at {t['at']:,.2f}, {t['distance']:,.2f} away"


def _options_llm(llm: dict[str, Any]) -> list[str]:
    """The options LLM's verdict (oracle.options.review): status, spread type, actions, drops."""
    head = f"LLM {llm.get('status', '')}"
    if llm.get("note"):
        head += f": {llm['note']}"
    if llm.get("policy"):
        head += f" (fail policy {llm['policy']})"
    out = [head]
    if llm.get("chosen_type"):
        out.append(f"  type {llm['chosen_type']}: {llm.get('type_reason', '')}".rstrip(": "))
    for d in llm.get("decisions", []):
        n = f" x{d['contracts']}" if d.get("contracts") else ""
        out.append(f"  {d.get('action')} {d.get('ref', '')}{n}: {d.get('reason', '')}")
    out += [f"  dropped: {x}" for x in llm.get("dropped", [])]
    return out
