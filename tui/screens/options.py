"""Option positions: the open ones with legs, DTE, value, P&L, greeks and the nearest exit
trigger, and the closed ones with realised P&L and outcome, of one account or all.

The figures are the latest marks the options session wrote (``ledger.reads.option_marks``):
the screen computes nothing, so it shows what the monitors saw.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from invest.runtime.errors import InvestError
from invest.runtime.explain import leg_words
from invest.runtime.ledger.reads import OptionPositionRow, TriggerRow

from .. import format as fmt
from ..data.options import OpenOption, OptionsData, option_positions
from ..messages import OptionsLoaded, ViewFailed
from ..widgets.footer import KeysFooter
from ..widgets.status import EngineBar
from ..widgets.tables import current_key, set_columns, sync_rows
from .trades import AccountFilter

if TYPE_CHECKING:
    from textual import getters

    from ..app import InvestApp

OPEN_COLUMNS = (
    ("account", "Account"),
    ("under", "Under"),
    ("kind", "Kind"),
    ("legs", "Legs"),
    ("n", "N"),
    ("dte", "DTE"),
    ("value", "Value"),
    ("pnl", "P&L"),
    ("delta", "Delta"),
    ("theta", "Theta/d"),
    ("trigger", "Nearest exit"),
)
CLOSED_COLUMNS = (
    ("closed", "Closed"),
    ("account", "Account"),
    ("under", "Under"),
    ("kind", "Kind"),
    ("legs", "Legs"),
    ("n", "N"),
    ("pnl", "P&L"),
    ("outcome", "Outcome"),
)
#: Below this width what a position is, how long it has, what it made and how near its
#: exit is come first; the rest is a horizontal scroll away (and on the detail line).
WIDE = 120
OPEN_FIRST = ("under", "kind", "dte", "pnl", "trigger", "delta", "theta")
CLOSED_FIRST = ("closed", "under", "kind", "pnl", "outcome")
#: Short names of the structures for the tables (the detail line says them in full).
KIND = {
    "cash_secured_put": "CSP",
    "covered_call": "cov call",
    "bull_call": "bull call",
    "bear_put": "bear put",
    "bull_put": "bull put",
    "bear_call": "bear call",
    "iron_condor": "condor",
    "butterfly": "butterfly",
}
#: A trigger with less than this share of its way left is shown in yellow.
NEAR = 0.25


def columns(
    cols: tuple[tuple[str, str], ...], first: tuple[str, ...], width: int
) -> tuple[tuple[str, str], ...]:
    """``cols`` as they are when wide, else the ``first`` ones first."""
    if width >= WIDE:
        return cols
    head = tuple(c for k in first for c in cols if c[0] == k)
    return head + tuple(c for c in cols if c[0] not in first)


def _num(x: float | None, spec: str) -> str:
    return fmt.DASH if x is None else format(x, spec)


def trigger_cell(t: TriggerRow | None) -> Text:
    """The nearest trigger in short words, red when due, yellow when near."""
    if t is None:
        return Text(fmt.DASH)
    style = "bold red" if t.distance <= 0 else "yellow" if t.remaining < NEAR else ""
    return Text(t.text(), style=style)


def open_cells(o: OpenOption) -> dict[str, Any]:
    p, m = o.position, o.mark
    return {
        "account": p.account,
        "under": p.underlying,
        "kind": KIND.get(p.kind, p.kind),
        "legs": leg_words(p.legs_text()),
        "n": str(p.contracts),
        "dte": fmt.DASH if m is None else str(m.dte),
        "value": fmt.money(None if m is None else m.value),
        "pnl": fmt.signed(None if m is None else m.unrealised),
        "delta": _num(None if m is None else m.delta, "+,.1f"),
        "theta": _num(None if m is None else m.theta, "+,.2f"),
        "trigger": trigger_cell(None if m is None else m.nearest),
    }


def closed_cells(p: OptionPositionRow, outcome: str) -> dict[str, Any]:
    return {
        "closed": p.closed or fmt.DASH,
        "account": p.account,
        "under": p.underlying,
        "kind": KIND.get(p.kind, p.kind),
        "legs": leg_words(p.legs_text()),
        "n": str(p.contracts),
        "pnl": fmt.signed(None if p.realised is None else float(p.realised)),
        "outcome": outcome or fmt.DASH,
    }


def describe_open(o: OpenOption) -> Text:
    """An open position in full, every trigger with its level and distance."""
    p, m = o.position, o.mark
    text = Text()
    text.append(f"{p.underlying} {p.kind.replace('_', ' ')} x{p.contracts} ", style="bold")
    text.append(f"({p.account}), opened {p.opened}: {leg_words(p.legs_text())}. ")
    if m is None:
        text.append("Not marked yet.", style="dim")
        return text
    spot = "" if m.spot is None else f" at spot {m.spot:,.2f}"
    text.append(f"{m.dte} DTE, marked {m.day}{spot}: value {fmt.money(m.value)}, P&L ")
    text.append_text(fmt.signed(m.unrealised))
    text.append(
        f"; delta {_num(m.delta, '+,.1f')}, gamma {_num(m.gamma, '+,.3f')}, "
        f"theta {_num(m.theta, '+,.2f')}/day, vega {_num(m.vega, '+,.2f')}/pt. "
    )
    if not m.priced:
        text.append("Not quoted on the last session: value is the last known. ", style="yellow")
    for i, t in enumerate(m.triggers):
        text.append("; " if i else "Exits: ")
        text.append_text(trigger_cell(t))
        if t.at is not None:
            text.append(f" (at value {t.at:,.2f})")
    return text


def describe_closed(p: OptionPositionRow, outcome: str) -> Text:
    """A closed position's money: premiums in and out, settlement, fees, realised P&L."""
    text = Text()
    text.append(f"{p.underlying} {p.kind.replace('_', ' ')} x{p.contracts} ", style="bold")
    text.append(
        f"({p.account}) {p.opened} -> {p.closed}: {leg_words(p.legs_text())}. "
        f"Premium in {p.premium_in:,.2f}, out {p.premium_out:,.2f}, settled "
        f"{p.settlement:+,.2f}, fees {p.fees:,.2f}: realised "
    )
    text.append_text(fmt.signed(None if p.realised is None else float(p.realised)))
    text.append(f". Outcome: {outcome or 'unknown'}")
    return text


class OptionsScreen(AccountFilter):
    """Open and closed option positions; ``a`` switches between one account and all.

    Args:
        account: the account that ``a`` filters to (the one selected on the overview).
    """

    if TYPE_CHECKING:
        app = getters.app(InvestApp)

    def __init__(self, account: str | None = None) -> None:
        super().__init__(account)
        self._view = OptionsData(None)
        self._open_rows: dict[str, OpenOption] = {}
        self._closed_rows: dict[str, OptionPositionRow] = {}

    def compose(self) -> ComposeResult:
        """Bar, headline, open table, closed headline, closed table, detail line, footer."""
        yield EngineBar("Invest · Options")
        yield Static(id="opt-head")
        yield DataTable(id="opt-open", cursor_type="row", zebra_stripes=True)
        yield Static(id="opt-closed-head")
        yield DataTable(id="opt-closed", cursor_type="row", zebra_stripes=True)
        yield Static(id="opt-detail")
        yield KeysFooter()

    def on_mount(self) -> None:
        """Columns for the width, then the first load."""
        width = self.app.size.width
        set_columns(
            self.query_one("#opt-open", DataTable), columns(OPEN_COLUMNS, OPEN_FIRST, width)
        )
        set_columns(
            self.query_one("#opt-closed", DataTable),
            columns(CLOSED_COLUMNS, CLOSED_FIRST, width),
        )
        self.query_one("#opt-head", Static).update(Text("Reading the ledger…", style="dim"))
        self.reload()

    @work(thread=True, exclusive=True, group="options")
    def reload(self) -> None:
        """Read the positions and their marks (thread: it reads the ledger)."""
        try:
            data = option_positions(self.app.paths, self.only)
        except InvestError as e:
            self.post_message(ViewFailed(str(e)))
            return
        self.post_message(OptionsLoaded(data))

    def on_view_failed(self, message: ViewFailed) -> None:
        """Say why there is nothing to show."""
        self.query_one("#opt-head", Static).update(Text(message.error, style="bold red"))

    def on_options_loaded(self, message: OptionsLoaded) -> None:
        """Fill both tables and the headlines."""
        data = self._view = message.data
        self._open_rows = {o.position.id: o for o in data.open}
        self._closed_rows = {p.id: p for p in data.closed}
        table = self.query_one("#opt-open", DataTable)
        keys = [str(c.key.value) for c in table.ordered_columns]
        table.clear()
        sync_rows(
            table, [(k, [open_cells(o)[c] for c in keys]) for k, o in self._open_rows.items()]
        )
        table = self.query_one("#opt-closed", DataTable)
        keys = [str(c.key.value) for c in table.ordered_columns]
        table.clear()
        sync_rows(
            table,
            [
                (k, [closed_cells(p, data.outcomes.get(k, ""))[c] for c in keys])
                for k, p in self._closed_rows.items()
            ],
        )
        self._heads(data)
        self._show_detail(open_first=True)

    def _heads(self, data: OptionsData) -> None:
        marks = [o.mark for o in data.open if o.mark is not None]
        text = Text()
        n = len(data.open)
        text.append(f"{n} open option position{'s' * (n != 1)}", style="bold")
        text.append(f" of {data.account or 'every account'}")
        if marks:
            text.append(f", marked {max(m.day for m in marks)} · unrealised ")
            text.append_text(fmt.signed(sum(m.unrealised or 0.0 for m in marks)))
            theta = sum(m.theta or 0.0 for m in marks)
            text.append(f" · theta {theta:+,.2f}/day")
        due = sum(1 for m in marks if (t := m.nearest) is not None and t.distance <= 0)
        if due:
            text.append(f" · {due} exit{'s' * (due != 1)} due", style="bold red")
        self.query_one("#opt-head", Static).update(text)
        total = sum((p.realised or Decimal(0) for p in data.closed), Decimal(0))
        closed = Text()
        closed.append(f"{len(data.closed)} closed", style="bold")
        closed.append(", newest first · realised ")
        closed.append_text(fmt.signed(float(total)))
        won = sum(1 for p in data.closed if (p.realised or 0) > 0)
        if data.closed:
            closed.append(f" · {won} won, {len(data.closed) - won} lost or even")
        self.query_one("#opt-closed-head", Static).update(closed)

    def _show_detail(self, open_first: bool = False) -> None:
        detail = self.query_one("#opt-detail", Static)
        closed_table = self.query_one("#opt-closed", DataTable)
        use_closed = closed_table.has_focus and not open_first
        if not use_closed:
            key = current_key(self.query_one("#opt-open", DataTable))
            o = self._open_rows.get(key) if key else None
            if o is not None:
                detail.update(describe_open(o))
                return
        key = current_key(closed_table)
        p = self._closed_rows.get(key) if key else None
        if p is not None:
            detail.update(describe_closed(p, self._view.outcomes.get(p.id, "")))
            return
        where = f" in {self.only}" if self.only else ""
        detail.update(Text(f"No option position{where} yet.", style="dim"))

    @on(DataTable.RowHighlighted, "#opt-open")
    def _open_highlighted(self) -> None:
        self._show_detail(open_first=True)

    @on(DataTable.RowHighlighted, "#opt-closed")
    def _closed_highlighted(self) -> None:
        self._show_detail()

    def on_descendant_focus(self) -> None:
        """Tab between the tables: the detail follows the focused one."""
        self._show_detail()
