"""Closed trades: realised P&L, holding time and exit reason, of one account or all."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Static

from invest.runtime.errors import InvestError
from invest.runtime.ledger.trades import ClosedTrade

from .. import format as fmt
from ..data.daily import closed_trades
from ..messages import TradesLoaded, ViewFailed
from ..widgets.footer import KeysFooter
from ..widgets.status import EngineBar
from ..widgets.tables import current_key, set_columns, sync_rows

if TYPE_CHECKING:
    from textual import getters

    from ..app import InvestApp

COLUMNS = (
    ("exit", "Exit"),
    ("account", "Account"),
    ("symbol", "Symbol"),
    ("qty", "Qty"),
    ("entry", "Entry"),
    ("in", "Price in"),
    ("out", "Price out"),
    ("pnl", "P&L"),
    ("pct", "%"),
    ("days", "Days"),
    ("reason", "Exit reason"),
)
#: Below this width the columns that say what a trade made, and why it ended, come
#: first; prices and quantity follow a horizontal scroll away (and on the detail line).
WIDE = 120
FIRST_WHEN_NARROW = ("exit", "account", "symbol", "pnl", "pct", "days", "reason")
#: Back to the screen below: Esc, or q as on every pushed view.
BACK = Binding("escape,q", "app.pop_screen", "Back", key_display="q")


class AccountFilter(Screen[None]):
    """A view of every account that ``a`` narrows to one account and back.

    Args:
        account: the account that ``a`` filters to (the one selected on the overview);
            None leaves ``a`` off.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        BACK,
        Binding("a", "toggle_account", "Account/all"),
    ]

    def __init__(self, account: str | None = None) -> None:
        super().__init__()
        self.account = account
        #: The account shown alone, or None for every account.
        self.only: str | None = None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """``a`` needs an account to filter to."""
        if action == "toggle_account":
            return self.account is not None
        return True

    def action_toggle_account(self) -> None:
        """Show only the selected account, or every account."""
        self.only = None if self.only else self.account
        self.reload()

    def reload(self) -> object:
        """Read the view again (each screen's own worker)."""
        raise NotImplementedError


def _columns(width: int) -> tuple[tuple[str, str], ...]:
    if width >= WIDE:
        return COLUMNS
    first = tuple(c for k in FIRST_WHEN_NARROW for c in COLUMNS if c[0] == k)
    return first + tuple(c for c in COLUMNS if c[0] not in FIRST_WHEN_NARROW)


def _key(i: int, t: ClosedTrade) -> str:
    return f"{i}:{t.account}:{t.symbol}:{t.exit_day}"


def _cells(t: ClosedTrade) -> dict[str, Any]:
    return {
        "exit": t.exit_day.isoformat(),
        "account": t.account,
        "symbol": t.symbol + ("" if t.closed else "*"),
        "qty": f"{t.quantity.normalize():f}",
        "entry": t.entry_day.isoformat(),
        "in": f"{t.entry_price:,.2f}",
        "out": f"{t.exit_price:,.2f}",
        "pnl": fmt.signed(float(t.pnl)),
        "pct": fmt.pct(t.pnl_pct),
        "days": str(t.holding_days),
        "reason": t.reason or "-",
    }


def describe(t: ClosedTrade) -> Text:
    """One trade in full, for the detail line (nothing clipped)."""
    text = Text()
    text.append(f"{t.symbol} ", style="bold")
    text.append(f"{t.account}: {'sold' if t.closed else 'trimmed'} {t.quantity.normalize():f} ")
    text.append(f"on {t.exit_day} at {t.exit_price:,.2f}, held since {t.entry_day} ")
    text.append(f"({t.holding_days} days) at an average cost of {t.entry_price:,.2f}: ")
    text.append_text(fmt.signed(float(t.pnl)))
    text.append(" (")
    text.append_text(fmt.pct(t.pnl_pct))
    text.append(f"). Exit reason: {t.reason or 'none recorded'}")
    return text


class TradesScreen(AccountFilter):
    """Closed trades, newest exit first; ``a`` switches between one account and all.

    Args:
        account: the account that ``a`` filters to (the one selected on the overview).
    """

    if TYPE_CHECKING:
        app = getters.app(InvestApp)

    def __init__(self, account: str | None = None) -> None:
        super().__init__(account)
        self._trades: dict[str, ClosedTrade] = {}

    def compose(self) -> ComposeResult:
        """Bar, headline, trades table, detail line, footer."""
        yield EngineBar("Invest · Trades")
        yield Static(id="trades-head")
        yield DataTable(id="trades", cursor_type="row", zebra_stripes=True)
        yield Static(id="trade-detail")
        yield KeysFooter()

    def on_mount(self) -> None:
        """Columns for the width, then the first load."""
        set_columns(self.query_one("#trades", DataTable), _columns(self.app.size.width))
        self.query_one("#trades-head", Static).update(Text("Reading the ledger…", style="dim"))
        self.reload()

    @work(thread=True, exclusive=True, group="trades")
    def reload(self) -> None:
        """Pair the fills into closed trades (thread: it reads the ledger)."""
        try:
            trades = closed_trades(self.app.paths, self.only)
        except InvestError as e:
            self.post_message(ViewFailed(str(e)))
            return
        self.post_message(TradesLoaded(trades, self.only))

    def on_view_failed(self, message: ViewFailed) -> None:
        """Say why there is nothing to show."""
        self.query_one("#trades-head", Static).update(Text(message.error, style="bold red"))

    def on_trades_loaded(self, message: TradesLoaded) -> None:
        """Fill the table and the headline."""
        table = self.query_one("#trades", DataTable)
        keys = [str(c.key.value) for c in table.ordered_columns]
        self._trades = {_key(i, t): t for i, t in enumerate(message.trades)}
        table.clear()
        sync_rows(table, [(k, [_cells(t)[c] for c in keys]) for k, t in self._trades.items()])
        self._head(message.trades, message.account)
        self._show_detail()

    def _head(self, trades: list[ClosedTrade], account: str | None) -> None:
        total = sum((t.pnl for t in trades), Decimal(0))
        won = sum(1 for t in trades if t.pnl > 0)
        text = Text()
        text.append(f"{len(trades)} closed trade{'s' * (len(trades) != 1)}", style="bold")
        text.append(f" of {account or 'every account'}, newest first · realised ")
        text.append_text(fmt.signed(float(total)))
        if trades:
            text.append(f" · {won} won, {len(trades) - won} lost or even")
        text.append(" · * partly closed", style="dim")
        self.query_one("#trades-head", Static).update(text)

    def _show_detail(self) -> None:
        detail = self.query_one("#trade-detail", Static)
        key = current_key(self.query_one("#trades", DataTable))
        trade = self._trades.get(key) if key else None
        if trade is None:
            where = f" in {self.only}" if self.only else ""
            detail.update(Text(f"No closed trade{where} yet.", style="dim"))
            return
        detail.update(describe(trade))

    @on(DataTable.RowHighlighted, "#trades")
    def _highlighted(self) -> None:
        self._show_detail()
