"""Human-readable explanation records: for the CLI, Telegram ``/why`` and the TUI."""

from __future__ import annotations

from typing import Any


def headline(rec: dict[str, Any]) -> str:
    """One line: day, account, regime and the orders of a cycle."""
    orders = rec.get("orders", [])
    what = (
        ", ".join(f"{o['side'].upper()} {float(o['qty']):g} {o['symbol']}" for o in orders)
        or "no trade"
    )
    regime = rec.get("regime") or "monitor"
    return f"{rec['day']} {rec['account']:<16} {regime:<7} equity {rec['equity']:>12,.2f}  {what}"


def explain(rec: dict[str, Any], symbol: str | None = None) -> str:
    """The whole explanation record as indented text (optionally one symbol's part)."""
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
