"""The explanation record of one decision, in full: a modal over the account screen."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from invest.runtime.explain import is_options, options_lines

from ..format import money, regime
from ..widgets.footer import KeysFooter

TOP_SCORES = 20


def _table(title: str, *columns: str) -> Table:
    t = Table(title=title, title_justify="left", title_style="bold", expand=False, box=None)
    t.add_column(columns[0], no_wrap=True)
    for c in columns[1:]:
        t.add_column(c)
    return t


def _head(rec: dict[str, Any]) -> RenderableType:
    lines = Text()
    lines.append(f"{rec.get('day', '?')}  {rec.get('account', '?')}  ", style="bold")
    lines.append_text(regime(rec.get("regime") or "monitor"))
    lines.append(
        f"  strategy {rec.get('strategy', '-')}  equity {money(rec.get('equity'))}"
        f"  cash {money(rec.get('cash'))}  drawdown {float(rec.get('drawdown') or 0):.1%}\n"
    )
    lines.append(f"cycle {rec.get('cycle_id', '-')}", style="dim")
    for note in rec.get("notes") or []:
        lines.append(f"\n{note}")
    return lines


def _scores(rec: dict[str, Any]) -> RenderableType | None:
    scores = rec.get("scores") or {}
    if not scores:
        return None
    t = _table("Rule scores", "symbol", "score", "proposed", "target", "weight")
    proposed, targets, weights = (rec.get(k) or {} for k in ("proposed", "targets", "weights"))
    for sym, score in list(scores.items())[:TOP_SCORES]:
        t.add_row(
            sym,
            f"{score}",
            *(f"{d[sym]:.1%}" if sym in d else "-" for d in (proposed, targets, weights)),
        )
    return t


def _rl(rec: dict[str, Any]) -> RenderableType | None:
    rl = rec.get("rl")
    if not rl:
        return None
    if not isinstance(rl, dict):
        return Text(f"RL: {rl}")
    t = _table("RL ensemble votes", "symbol", "action", "confidence", "votes")
    for sym, v in rl.items():
        if isinstance(v, dict):
            votes = " ".join(str(x) for x in v.get("votes", []))
            t.add_row(sym, str(v.get("action", "-")), f"{float(v.get('confidence', 0)):.0%}", votes)
        else:
            t.add_row(sym, str(v), "", "")
    return t


def _llm_rows(llm: Any) -> list[dict[str, Any]] | None:
    if isinstance(llm, list) and all(isinstance(x, dict) for x in llm):
        return llm
    if isinstance(llm, dict):
        for key in ("records", "verdicts"):
            if isinstance(llm.get(key), list):
                return [x for x in llm[key] if isinstance(x, dict)]
    return None


def _llm(rec: dict[str, Any]) -> RenderableType | None:
    llm = rec.get("llm")
    if not llm:
        return None
    rows = _llm_rows(llm)
    if rows is None:
        return Group(Text("LLM oracle", style="bold"), Text(str(llm)))
    t = _table("LLM oracle", "symbol", "verdict", "allowed", "reason and cited headlines")
    for r in rows:
        why = Text(str(r.get("reason", "")))
        for h in r.get("headlines") or []:
            why.append(f"\n  • {h}", style="italic")
        frac = r.get("fraction")
        allowed = f"{float(frac):.0%}" if isinstance(frac, int | float) else "-"
        source = " (policy)" if r.get("source") == "policy" else ""
        t.add_row(str(r.get("symbol", "-")), f"{r.get('verdict', '-')}{source}", allowed, why)
    return t


def _clamps(rec: dict[str, Any]) -> RenderableType | None:
    clamps = rec.get("clamps") or []
    if not clamps:
        return None
    t = _table("Risk clamps", "rule", "symbol", "reason")
    for c in clamps:
        t.add_row(str(c.get("rule")), str(c.get("symbol")), str(c.get("reason")))
    return t


def _orders(rec: dict[str, Any]) -> RenderableType | None:
    orders = rec.get("orders") or []
    skipped = rec.get("skipped") or []
    if not orders and not skipped:
        return Text("No orders.", style="dim")
    t = _table("Orders", "symbol", "side", "qty", "ref price", "reason")
    for o in orders:
        t.add_row(o["symbol"], o["side"], o["qty"], o["ref_price"], o["reason"])
    for s in skipped:
        t.add_row(s["symbol"], "skipped", "", "", s["reason"])
    return t


def explanation(rec: dict[str, Any]) -> Group:
    """The whole record as rich renderables: head, scores, RL, LLM, clamps, orders.

    An options session's record is told as ``invest why`` and Telegram tell it: its
    readings, the LLM's verdict, exits, opens with their legs, clamps, marked positions.
    """
    if is_options(rec):
        body = "\n".join(line.removeprefix("  ") for line in options_lines(rec)[1:])
        return Group(_head(rec), Text(""), Text(body or "No orders.", style="" if body else "dim"))
    parts = [_head(rec)]
    for section in (_scores, _rl, _llm, _clamps, _orders):
        part = section(rec)
        if part is not None:
            parts += [Text(""), part]
    if not rec.get("rl"):
        parts.append(Text("\nRL: not used by this strategy.", style="dim"))
    if not rec.get("llm"):
        parts.append(Text("LLM oracle: not consulted in this cycle.", style="dim"))
    return Group(*parts)


class ExplainScreen(ModalScreen[None]):
    """Why a decision was taken: the explanation record, scrollable."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "dismiss", "Close")]
    DEFAULT_CSS = """
    ExplainScreen { align: center middle; }
    ExplainScreen > VerticalScroll {
        width: 90%;
        max-width: 130;
        height: 90%;
        border: thick $primary;
        background: $surface;
        padding: 0 1;
    }
    """

    def __init__(self, record: dict[str, Any]) -> None:
        super().__init__()
        self.record = record

    def compose(self) -> ComposeResult:
        """The record in a scrollable box, and the footer."""
        with VerticalScroll(id="explain") as box:
            box.border_title = f"Why: {self.record.get('cycle_id', '')}"
            yield Static(explanation(self.record), id="explain-body")
        yield KeysFooter()

    def on_mount(self) -> None:
        """Focus the scroll box so the arrow keys scroll it."""
        self.query_one("#explain", VerticalScroll).focus()
