"""The next cycle's preview: each account's dry run on its latest bar, with its reasons."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.console import Group, RenderableType
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Static

from invest.runtime.errors import InvestError

from .. import format as fmt
from ..messages import PreviewReady, ViewFailed
from ..widgets.footer import KeysFooter
from ..widgets.status import EngineBar
from ..widgets.tables import current_key, set_columns, sync_rows
from .explain import _clamps, _llm, _orders, _table
from .trades import BACK

if TYPE_CHECKING:
    from textual import getters

    from ..app import InvestApp
    from ..data.daily import Preview

COLUMNS = (
    ("account", "Account"),
    ("orders", "Orders"),
    ("clamps", "Clamps"),
    ("regime", "Regime"),
    ("halt", "State"),
    ("day", "Bar"),
    ("equity", "Equity"),
)


def _not_traded(p: dict[str, Any]) -> RenderableType | None:
    rows = p.get("not_traded") or []
    if not rows:
        return None
    t = _table("Not traded", "symbol", "why")
    for r in rows:
        t.add_row(str(r.get("symbol")), str(r.get("reason")))
    return t


def details(p: dict[str, Any]) -> Group:
    """One account's preview: its bar, notes, orders, clamps, LLM verdicts, what stays."""
    head = Text()
    head.append(f"{p.get('account')}", style="bold")
    head.append(f"  next cycle on the bar of {p.get('day')}  ")
    head.append_text(fmt.regime(p.get("regime")))
    head.append(f"  equity {fmt.money(p.get('equity'))}  cash {fmt.money(p.get('cash'))}  ")
    head.append_text(fmt.halt(str(p.get("halt") or "ACTIVE")))
    if p.get("oracle"):
        head.append(f"  LLM gate: {p['oracle']}")
    for note in p.get("notes") or []:
        head.append(f"\nnote: {note}", style="yellow")
    parts: list[RenderableType] = [head]
    record = p.get("record") or {}
    for section in (_orders, _clamps, _llm):
        part = section(record)
        if part is not None:
            parts += [Text(""), part]
    if (stays := _not_traded(p)) is not None:
        parts += [Text(""), stays]
    return Group(*parts)


class PreviewScreen(Screen[None]):
    """What the next cycle of each account would do, asked of the engine or run here.

    Args:
        account: the account to highlight first (the one selected on the overview).
    """

    if TYPE_CHECKING:
        app = getters.app(InvestApp)

    BINDINGS: ClassVar[list[BindingType]] = [
        BACK,
        Binding("r", "rerun", "Run again"),
    ]

    def __init__(self, account: str | None = None) -> None:
        super().__init__()
        self.account = account
        self._previews: dict[str, dict[str, Any]] = {}
        self._busy = False

    def compose(self) -> ComposeResult:
        """Bar, status line, accounts table, the highlighted account's plan, footer."""
        yield EngineBar("Invest · Next cycle")
        yield Static(id="pv-status")
        yield DataTable(id="pv-accounts", cursor_type="row")
        with VerticalScroll(id="pv-body"):
            yield Static(id="pv-detail")
        yield KeysFooter()

    def on_mount(self) -> None:
        """Columns, then the dry run."""
        set_columns(self.query_one("#pv-accounts", DataTable), COLUMNS)
        self.action_rerun()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """``r`` waits for the run in progress."""
        if action == "rerun":
            return not self._busy or None
        return True

    def action_rerun(self) -> None:
        """Compute the preview (again)."""
        self._busy = True
        self.refresh_bindings()
        status = self.query_one("#pv-status", Static)
        status.update(Text("Computing the next cycle of each account (dry run)…", style="dim"))
        self.query_one("#pv-accounts", DataTable).loading = True
        self.compute()

    @work(thread=True, exclusive=True, group="preview")
    def compute(self) -> None:
        """Ask the engine, else run the dry run here (thread: it loads data and models)."""
        from ..data.daily import preview

        try:
            found = preview(self.app.link, self.app.paths)
        except InvestError as e:
            self.post_message(ViewFailed(str(e)))
            return
        except Exception as e:  # a failing dry run must not take the TUI down
            self.post_message(ViewFailed(f"{type(e).__name__}: {e}"))
            return
        self.post_message(PreviewReady(found))

    def _done(self) -> None:
        self._busy = False
        self.refresh_bindings()
        self.query_one("#pv-accounts", DataTable).loading = False

    def on_view_failed(self, message: ViewFailed) -> None:
        """Say why there is no preview."""
        self._done()
        self.query_one("#pv-status", Static).update(
            Text(f"No preview: {message.error}", style="bold red")
        )

    def on_preview_ready(self, message: PreviewReady) -> None:
        """Fill the table, highlight the overview's account, show its plan."""
        self._done()
        found: Preview = message.preview
        self._previews = {str(p.get("account")): p for p in found.previews}
        table = self.query_one("#pv-accounts", DataTable)
        table.clear()
        sync_rows(table, [(name, self._row(p)) for name, p in self._previews.items()])
        if self.account in self._previews:
            table.move_cursor(row=table.get_row_index(self.account), animate=False)
        status = Text()
        where = "asked of the engine" if found.source == "engine" else found.note
        status.append("Dry run: nothing is sent or written", style="bold")
        status.append(f" · {where} · LLM gates replay cached verdicts · ↑↓: account")
        if not found.previews:
            status.append(" · no account in the config", style="yellow")
        self.query_one("#pv-status", Static).update(status)
        self._show()

    @staticmethod
    def _row(p: dict[str, Any]) -> tuple[Any, ...]:
        orders = p.get("orders") or []
        clamps = p.get("clamps") or []
        return (
            str(p.get("account")),
            fmt.orders(p) if orders else "none",
            str(len(clamps)) if clamps else "-",
            fmt.regime(p.get("regime")),
            fmt.halt(str(p.get("halt") or "ACTIVE")),
            str(p.get("day")),
            fmt.money(p.get("equity")),
        )

    def _show(self) -> None:
        key = current_key(self.query_one("#pv-accounts", DataTable))
        found = self._previews.get(key) if key else None
        body = self.query_one("#pv-detail", Static)
        body.update(details(found) if found is not None else Text(""))

    @on(DataTable.RowHighlighted, "#pv-accounts")
    def _highlighted(self) -> None:
        self._show()
