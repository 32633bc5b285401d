"""P&L per day, week or month: each account and the portfolio total, newest first."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Static

from invest.runtime.errors import InvestError
from invest.runtime.ledger.trades import TOTAL, PeriodPnl

from .. import format as fmt
from ..data.daily import PERIOD_LIMIT, period_pnl
from ..messages import PnlLoaded, ViewFailed
from ..widgets.footer import KeysFooter
from ..widgets.status import EngineBar
from ..widgets.tables import set_columns, sync_rows
from .trades import BACK

if TYPE_CHECKING:
    from textual import getters

    from ..app import InvestApp

COLUMNS = (
    ("period", "Period"),
    ("account", "Account"),
    ("pnl", "P&L"),
    ("pct", "P&L %"),
    ("start", "Start"),
    ("end", "End"),
)
TOTAL_LABEL = "portfolio total"


def _row(r: PeriodPnl) -> tuple[str, tuple[Any, ...]]:
    total = r.account == TOTAL
    style = "bold" if total else ""
    return f"{r.period}/{r.account}", (
        Text(r.period, style=style),
        Text(TOTAL_LABEL if total else r.account, style=style),
        fmt.signed(r.pnl),
        fmt.pct(r.pct),
        Text(fmt.money(r.start), style=style),
        Text(fmt.money(r.end), style=style),
    )


class PnlScreen(Screen[None]):
    """Realised and unrealised P&L per period from the equity marks; d, w, m pick the period."""

    if TYPE_CHECKING:
        app = getters.app(InvestApp)

    BINDINGS: ClassVar[list[BindingType]] = [
        BACK,
        Binding("d", "period('day')", "Day"),
        Binding("w", "period('week')", "Week"),
        Binding("m", "period('month')", "Month"),
    ]

    def __init__(self, period: str = "day") -> None:
        super().__init__()
        self.period = period

    def compose(self) -> ComposeResult:
        """Bar, headline, the table, footer."""
        yield EngineBar("Invest · P&L")
        yield Static(id="pnl-head")
        yield DataTable(id="pnl", cursor_type="row")
        yield KeysFooter()

    def on_mount(self) -> None:
        """Columns, then the first load."""
        set_columns(self.query_one("#pnl", DataTable), COLUMNS)
        self.reload()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The key of the period shown is dimmed."""
        if action == "period":
            return parameters[0] != self.period or None
        return True

    def action_period(self, period: str) -> None:
        """Show P&L per ``period``."""
        self.period = period
        self.refresh_bindings()
        self.reload()

    @work(thread=True, exclusive=True, group="pnl")
    def reload(self) -> None:
        """Read the equity marks and sum them per period (thread: it reads the ledger)."""
        period = self.period
        try:
            rows = period_pnl(self.app.paths, period)
        except (InvestError, ValueError) as e:
            self.post_message(ViewFailed(str(e)))
            return
        self.post_message(PnlLoaded(rows, period))

    def on_view_failed(self, message: ViewFailed) -> None:
        """Say why there is nothing to show."""
        self.query_one("#pnl-head", Static).update(Text(message.error, style="bold red"))

    def on_pnl_loaded(self, message: PnlLoaded) -> None:
        """Fill the table (newest period first, the total under its accounts)."""
        table = self.query_one("#pnl", DataTable)
        table.clear()
        sync_rows(table, [_row(r) for r in message.rows])
        table.move_cursor(row=0, animate=False)
        periods = len({r.period for r in message.rows})
        text = Text()
        text.append(f"P&L per {message.period}", style="bold")
        if not message.rows:
            text.append(": no session marked yet (run `invest demo` or start the engine)")
        else:
            most = PERIOD_LIMIT[message.period]
            latest = f"the latest {periods}" if periods == most else f"all {periods}"
            text.append(
                f", {latest} {message.period}s, newest first; the portfolio total sums every account"
            )
        text.append(" · d day, w week, m month", style="dim")
        self.query_one("#pnl-head", Static).update(text)
