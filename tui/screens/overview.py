"""The first screen: one row per account, refreshed live without flicker."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Label, Static
from textual.worker import get_current_worker

from invest.runtime.errors import InvestError
from invest.runtime.ledger.views import AccountSummary

from .. import format as fmt
from ..data.enrich import Extras, overview_extras
from ..data.schedule import engine_timezone
from ..messages import LedgerFailed, OverviewEnriched, OverviewLoaded
from ..widgets.footer import SCREENS, KeysFooter
from ..widgets.status import EngineBar
from ..widgets.tables import current_key, set_columns, sort_rows, sync_rows
from .controls import CONTROL_BINDINGS, AccountControls

if TYPE_CHECKING:
    from textual import getters

    from ..app import InvestApp

COLUMNS = (
    ("account", "Account"),
    ("equity", "Equity"),
    ("day", "Day P&L"),
    ("return", "Return"),
    ("bench", "Bench"),
    ("drawdown", "DD"),
    ("regime", "Regime"),
    ("state", "State"),
    ("strategy", "Strategy"),
    ("model", "Model"),
    ("last", "Last cycle"),
    ("next", "Next cycle"),
)
#: Below this width the columns that say whether an account is alright come first
#: (the rest follow, a horizontal scroll away; strategy and model are on the detail line).
WIDE = 140
FIRST_WHEN_NARROW = ("account", "equity", "return", "drawdown", "state", "next")
RECENT_COLUMNS = (
    ("day", "Day"),
    ("account", "Account"),
    ("regime", "Regime"),
    ("equity", "Equity"),
    ("orders", "Orders"),
)
PENDING = Text("…", style="dim")


class OverviewScreen(AccountControls, Screen[None]):
    """Accounts at a glance; Enter opens one."""

    if TYPE_CHECKING:
        app = getters.app(InvestApp)

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open_account", "Open"),
        *CONTROL_BINDINGS,
        # last, so that the footer joins them to the app's screen keys (``tPvOobml views``)
        Binding("t", "view('trades')", "Trades", group=SCREENS, tooltip="Closed trades"),
        Binding("P", "view('pnl')", "P&L", group=SCREENS, tooltip="P&L per day, week, month"),
        Binding("v", "view('preview')", "Preview", group=SCREENS, tooltip="Next cycle preview"),
        Binding("O", "view('options')", "Options", group=SCREENS, tooltip="Option positions"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._summaries: list[AccountSummary] = []
        self._extras: dict[str, Extras] | None = None
        self._tz: str | None = None
        self._error: str | None = None
        self._recent: dict[str, dict[str, Any]] = {}
        self._restore: str | None = None

    def compose(self) -> ComposeResult:
        """Bar, accounts table, detail line, footer."""
        yield EngineBar("Invest · Overview")
        yield DataTable(id="accounts", cursor_type="row", zebra_stripes=True)
        yield Static(id="detail")
        yield Label("Latest decisions with orders (Enter: why)", classes="section")
        yield DataTable(id="recent", cursor_type="row")
        yield KeysFooter()

    def on_mount(self) -> None:
        """Load now, then refresh on a timer when live."""
        set_columns(self.query_one("#accounts", DataTable), self.columns())
        set_columns(self.query_one("#recent", DataTable), RECENT_COLUMNS)
        self.call_after_refresh(self.app.first_frame)
        self.reload()
        if self.app.live:
            self.set_interval(self.app.refresh_s, self.reload)
        self.watch(self.app, "engine", lambda _: self._refresh_view(), init=False)

    @work(thread=True, exclusive=True, group="overview")
    def reload(self) -> None:
        """Read the ledger, post the rows, then compute the slow extras."""
        worker = get_current_worker()
        try:
            summaries = self.app.reader.summaries()
            recent = self.app.reader.recent_trades()
        except InvestError as e:
            self.post_message(LedgerFailed(str(e)))
            return
        self.post_message(OverviewLoaded(summaries, recent))
        extras = overview_extras(summaries, self.app.paths, self.app.now())
        if not worker.is_cancelled:
            self.post_message(OverviewEnriched(extras, engine_timezone(self.app.paths)))

    def on_overview_loaded(self, message: OverviewLoaded) -> None:
        """Show the ledger rows."""
        self._summaries, self._error = message.summaries, None
        self.app.accounts = [s.name for s in message.summaries]
        self._recent = {str(r.get("cycle_id")): r for r in message.recent}
        self._refresh_view()
        recent = self.query_one("#recent", DataTable)
        sync_rows(
            recent,
            [
                (
                    key,
                    (
                        str(r.get("day")),
                        str(r.get("account")),
                        fmt.regime(r.get("regime") or "monitor"),
                        fmt.money(r.get("equity")),
                        fmt.orders(r),
                    ),
                )
                for key, r in self._recent.items()
            ],
        )
        sort_rows(recent, "day", "account", reverse=True)

    def on_overview_enriched(self, message: OverviewEnriched) -> None:
        """Add benchmark returns and next cycles."""
        self._extras, self._tz = message.extras, message.tz
        self._refresh_view()

    def on_ledger_failed(self, message: LedgerFailed) -> None:
        """Say why there is nothing to show."""
        self._error = message.error
        self._show_detail()

    def columns(self) -> tuple[tuple[str, str], ...]:
        """The accounts table's columns for the terminal's width."""
        if self.app.size.width >= WIDE:
            return COLUMNS
        first = tuple(c for k in FIRST_WHEN_NARROW for c in COLUMNS if c[0] == k)
        return first + tuple(c for c in COLUMNS if c[0] not in FIRST_WHEN_NARROW)

    def on_resize(self) -> None:
        """Reorder the columns when the width crosses :data:`WIDE`."""
        self._refresh_view()

    def _arrange(self, table: DataTable[Any]) -> None:
        wanted = self.columns()
        if [c.key.value for c in table.ordered_columns] == [k for k, _ in wanted]:
            return
        keep = current_key(table)
        table.clear(columns=True)
        set_columns(table, wanted)
        self._restore = keep

    def _row(self, s: AccountSummary) -> tuple[Any, ...]:
        ex = self._extras.get(s.name) if self._extras is not None else None
        engine = self.app.engine.accounts.get(s.name, {})
        day = fmt.signed(s.day_pnl)
        if s.day_pnl_pct is not None:
            day.append(f" {s.day_pnl_pct:+.1%}")
        if ex is None:
            bench: Any = PENDING
            nxt: Any = PENDING
        else:
            bench = fmt.pct(ex.bench_return, colour=False) if ex.bench_return is not None else "n/a"
            nxt = fmt.when(ex.next_cycle, self._tz)
        if engine_next := fmt.parse_when(engine.get("next_cycle")):
            nxt = fmt.when(engine_next, self._tz)  # the running engine's own schedule wins
        state = str(engine.get("effective") or fmt.worst(s.info.halt, self.app.engine.halt))
        cells = {
            "account": s.name,
            "equity": fmt.money(s.equity),
            "day": day,
            "return": fmt.pct(s.total_return),
            "bench": bench,
            "drawdown": fmt.pct(s.drawdown, colour=False),
            "regime": fmt.regime(s.regime),
            "state": fmt.halt(state, bool(engine.get("paused"))),
            "strategy": s.info.strategy,
            "model": s.info.model or "-",
            "last": s.last_cycle or "-",
            "next": nxt,
        }
        table = self.query_one("#accounts", DataTable)
        return tuple(cells[str(c.key.value)] for c in table.ordered_columns)

    def _refresh_view(self) -> None:
        table = self.query_one("#accounts", DataTable)
        self._arrange(table)
        sync_rows(table, [(s.name, self._row(s)) for s in self._summaries])
        if self._restore is not None and self._restore in {k.value for k in table.rows}:
            table.move_cursor(row=table.get_row_index(self._restore), animate=False)
        self._restore = None
        self._show_detail()

    def _show_detail(self) -> None:
        detail = self.query_one("#detail", Static)
        if self._error is not None:
            detail.update(Text(self._error, style="bold red"))
            return
        if not self._summaries:
            detail.update(Text(f"No accounts in {self.app.ledger_path} yet.", style="dim"))
            return
        name = self.selected_account()
        s = next((x for x in self._summaries if x.name == name), None)
        if s is None:
            return
        i = s.info
        text = Text()
        text.append(f"{i.name}", style="bold")
        text.append(
            f"  {i.strategy}{' + ' + i.model if i.model else ''} · schedule '{i.schedule}'"
            f"{' (' + self._tz + ')' if self._tz else ''} · benchmark {i.benchmark}"
            f" · risk {i.risk} · start {fmt.money(i.start_cash)} · cash {fmt.money(i.cash)}"
            f" · marked {s.last_day or '-'}"
        )
        if self._extras is not None and (note := self._extras.get(i.name, Extras()).bench_note):
            text.append(f" · bench n/a ({note})", style="dim")
        text.append("   Enter: open", style="dim")
        detail.update(text)

    @on(DataTable.RowHighlighted, "#accounts")
    def _highlighted(self) -> None:
        self._show_detail()

    @on(DataTable.RowSelected, "#accounts")
    def _selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.app.open_account(event.row_key.value)

    @on(DataTable.RowSelected, "#recent")
    def _explain(self, event: DataTable.RowSelected) -> None:
        from .explain import ExplainScreen

        record = self._recent.get(str(event.row_key.value))
        if record is not None:
            self.app.push_screen(ExplainScreen(record))

    def selected_account(self) -> str | None:
        """The highlighted account."""
        return current_key(self.query_one("#accounts", DataTable))

    def action_view(self, view: str) -> None:
        """Open a daily view, starting from the highlighted account."""
        self.app.open_view(view, self.selected_account())

    def action_open_account(self) -> None:
        """Open the highlighted account."""
        if name := self.selected_account():
            self.app.open_account(name)
