"""Plain-text messages for chats: engine events, control replies, and splitting long text.

Messages are plain text (no Markdown or HTML parse mode), so that a symbol, a
reason or an LLM headline never needs escaping and can never break a message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from invest.runtime.config.notify import Level
from invest.runtime.control.api import Reply
from invest.runtime.events import CycleSummary, DailyReport, Event, WeeklySummary
from invest.runtime.explain import explain, leg_words
from invest.runtime.notify.chart import (
    BenchmarkSeries,
    EquitySeries,
    TradeMark,
    report_png,
    sparkline,
)

__all__ = [
    "CurveSource",
    "Outgoing",
    "ReportData",
    "event_message",
    "format_periods",
    "format_reply",
    "format_risk",
    "format_trades",
    "passes",
    "split_text",
]

logger = logging.getLogger(__name__)

#: Said under a report whose chart could not be drawn (the text still goes out).
NO_MATPLOTLIB = "(no chart: matplotlib is not installed; add the appliance's reports extra)"


@dataclass(frozen=True, slots=True)
class ReportData:
    """What a report's chart shows: each account's equity, the benchmark, the period's fills."""

    curves: tuple[EquitySeries, ...] = ()
    benchmark: BenchmarkSeries | None = None
    trades: tuple[TradeMark, ...] = ()


#: The chart data of a daily report or weekly summary.
CurveSource = Callable[[Event], ReportData]

_RANK = {"info": 0, "warning": 1, "critical": 2}
_ICON = {"info": "", "warning": "⚠️ ", "critical": "🛑 "}


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message: text, optionally with a PNG image (the text is then its caption)."""

    text: str
    image: bytes | None = None


def passes(event: Event, level: Level) -> bool:
    """True when ``event`` is at least as severe as ``level``."""
    return _RANK.get(event.severity, 0) >= _RANK[level]


def _body(event: Event) -> str:
    if isinstance(event, CycleSummary) and event.record:
        try:
            return explain(event.record)
        except (KeyError, TypeError, ValueError):
            pass  # an unusual record: the one-line summary is still right
    return event.text()


def event_message(event: Event, curves: CurveSource | None = None) -> Outgoing:
    """The message for ``event``: its text with a severity mark; reports get a chart.

    Args:
        event: any engine event.
        curves: the chart data of reports (daily report, weekly summary); they add
            a sparkline per account and a PNG chart (:func:`report_png`). Without
            matplotlib the report goes out as text with a one-line note.
    """
    text = _ICON.get(event.severity, "") + _body(event)
    if not isinstance(event, DailyReport | WeeklySummary) or curves is None:
        return Outgoing(text)
    data = curves(event)
    lines = [f"{c.account} {sparkline(c.equity)}" for c in data.curves if c.equity]
    if lines:
        text += "\n" + "\n".join(lines)
    title = event.text().split("\n", 1)[0]
    try:
        image = report_png(data.curves, data.benchmark, data.trades, title=title)
    except ImportError:  # the reports extra is not installed: the text still goes out
        return Outgoing(f"{text}\n{NO_MATPLOTLIB}")
    except Exception as e:  # a chart must never stop an alert
        logger.exception("report chart not drawn")
        return Outgoing(f"{text}\n(no chart: {type(e).__name__})")
    return Outgoing(text, image)


def split_text(text: str, limit: int) -> list[str]:
    """Cut ``text`` into pieces of at most ``limit`` characters, at line ends when possible."""
    if limit < 1:
        raise ValueError("limit must be positive")
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:  # a single overlong line: hard cut
            if current:
                pieces.append(current)
                current = ""
            pieces.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            pieces.append(current)
            current = line
        else:
            current = candidate
    if current or not pieces:
        pieces.append(current)
    return pieces


def _scalar(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.4g}"
    return str(value)


def _render(data: Mapping[str, Any], depth: int = 0) -> list[str]:
    pad = "  " * depth
    lines: list[str] = []
    for key, value in data.items():
        if isinstance(value, Mapping):
            lines.append(f"{pad}{key}:")
            lines += _render(value, depth + 1)
        elif isinstance(value, list | tuple):
            lines.append(f"{pad}{key}:" + ("" if value else " none"))
            for item in value:
                if isinstance(item, Mapping):
                    fields = ", ".join(f"{k} {_scalar(v)}" for k, v in item.items())
                    lines.append(f"{pad}  - {fields}")
                else:
                    lines.append(f"{pad}  - {_scalar(item)}")
        else:
            lines.append(f"{pad}{key}: {_scalar(value)}")
    return lines


def format_reply(reply: Reply, *, symbol: str | None = None) -> str:
    """A control reply as chat text.

    ``data["text"]`` (a string) is shown as is; ``data["record"]`` (an explanation
    record, or ``data["records"]``, a list) is shown with :func:`explain`, cut to
    ``symbol``; anything else is rendered key by key.
    """
    if not reply.ok:
        return f"✗ {reply.error or 'failed'}"
    data = reply.data
    if isinstance(data.get("text"), str):
        return str(data["text"])
    records = data.get("records") or ([data["record"]] if data.get("record") else [])
    if records:
        try:
            return "\n\n".join(explain(r, symbol) for r in records)
        except (KeyError, TypeError, ValueError):
            pass
    return "\n".join(_render(data)) or "✓ done"


def _signed(value: Any) -> str:
    return f"{float(value):+,.2f}"


def format_trades(reply: Reply) -> str:
    """The ``trades`` reply as chat text: each closed trade with its realised P&L, held days
    and exit reason, newest first (any other reply as :func:`format_reply` shows it)."""
    closed = reply.data.get("closed") if reply.ok else None
    if not isinstance(closed, list):
        return format_reply(reply)
    if not closed:
        return "No closed trades yet."
    total = sum(float(t["pnl"]) for t in closed)
    lines = [f"Closed trades, newest first (realised {_signed(total)}):"]
    for t in closed:
        part = "" if t.get("closed", True) else " (part)"
        lines.append(
            f"{t['exit_day']} {t['account']} {t['symbol']}{part}: {t['quantity']} @ "
            f"{float(t['entry_price']):,.2f} -> {float(t['exit_price']):,.2f}, "
            f"{_signed(t['pnl'])} ({float(t['pnl_pct']):+.2%}), {t['holding_days']} d, "
            f"{t['reason'] or 'no reason recorded'}"
        )
    return "\n".join(lines)


def format_periods(reply: Reply) -> str:
    """The ``pnl`` reply with a period as chat text: per period, each account and the total."""
    rows = reply.data.get("periods") if reply.ok else None
    if not isinstance(rows, list):
        return format_reply(reply)
    if not rows:
        return "No session marked yet."
    lines = [f"P&L per {reply.data.get('period', 'period')}, newest first:"]
    current = None
    for r in rows:
        if r["period"] != current:
            current = r["period"]
            lines.append(f"{current}:")
        pct = "" if r["pct"] is None else f" ({float(r['pct']):+.2%})"
        name = "portfolio total" if r["account"] == "total" else r["account"]
        lines.append(f"  {name} {_signed(r['pnl'])}{pct}, equity {float(r['end']):,.2f}")
    return "\n".join(lines)


def format_options(reply: Reply) -> str:
    """The ``options`` reply as chat text: each open position with its legs, DTE, P&L and
    nearest trigger, then the positions closed in the last days with their outcome."""
    opened, closed = (reply.data.get("open"), reply.data.get("closed")) if reply.ok else (0, 0)
    if not isinstance(opened, list) or not isinstance(closed, list):
        return format_reply(reply)
    if not opened and not closed:
        return "No option positions open or closed lately."
    lines = [f"Open option positions ({len(opened)}), marked {reply.data.get('day') or 'never'}:"]
    for p in opened:
        pnl = "P&L n/a" if p["unrealised"] is None else f"P&L {_signed(p['unrealised'])}"
        dte = "" if p["dte"] is None else f", {p['dte']} DTE"
        near = p.get("nearest")
        lines.append(
            f"{p['account']} {p['underlying']} {p['kind']} x{p['contracts']}{dte}, {pnl}"
            + (f"; {near['text']}" if near else "")
        )
        lines.append(f"  legs {leg_words(p['legs'])}")
    lines.append(f"Closed since {reply.data.get('since')} ({len(closed)}):")
    lines += [
        f"{c['closed']} {c['account']} {c['underlying']} {c['kind']} x{c['contracts']}: "
        f"{_signed(c['realised'])}, {c['outcome']}"
        for c in closed
    ]
    return "\n".join(lines)


def format_risk(reply: Reply) -> str:
    """The ``risk`` reply as chat text: per account, its realised VaR/CVaR 99% 1-day (the
    normal figures beside them) and its book: largest name, top 3, HHI, drawdown."""
    risk = reply.data.get("risk") if reply.ok else None
    if not isinstance(risk, dict):
        return format_reply(reply)
    if not risk:
        return "No accounts in the ledger yet."
    # Lazy: numpy comes with the snapshot, and only /risk needs it.
    from invest.runtime.risk.snapshot import RiskSnapshot, risk_lines

    lines = [f"Risk, 1-day, as of {reply.data.get('day') or 'no session'}:"]
    for name, snap in risk.items():
        var, book = risk_lines(RiskSnapshot.from_dict(snap), forward=False)
        lines += [f"{name}:", f"  {var}", f"  {book}"]
    return "\n".join(lines)
