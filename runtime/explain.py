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
        lines.append(f"  RL: {rec['rl']}")
    if rec.get("llm"):
        lines.append(f"  LLM: {rec['llm']}")
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
