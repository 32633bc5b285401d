"""One account: equity against its benchmark, positions, open orders, risk, decision log."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Label, Static
from textual.worker import get_current_worker

from invest.runtime.errors import InvestError
from invest.runtime.ledger.views import AccountDetail, PositionRow

from .. import format as fmt
from ..data.enrich import AccountExtras, account_extras
from ..data.schedule import engine_timezone
from ..messages import AccountEnriched, AccountLoaded, LedgerFailed
from ..widgets.chart import EquityChart
from ..widgets.footer import KeysFooter
from ..widgets.status import EngineBar
from ..widgets.tables import set_columns, sort_rows, sync_rows
from .controls import CONTROL_BINDINGS, AccountControls
from .explain import ExplainScreen
from .trades import BACK

if TYPE_CHECKING:
    from textual import getters

    from ..app import InvestApp

POSITION_COLUMNS = (
    ("symbol", "Symbol"),
    ("qty", "Qty"),
    ("cost", "Avg cost"),
    ("mark", "Mark"),
    ("value", "Value"),
    ("pnl", "P&L"),
    ("pnl_pct", "%"),
    ("stop", "Stop"),
    ("held", "Held"),
)
ORDER_COLUMNS = (
    ("day", "Day"),
    ("side", "Side"),
    ("symbol", "Symbol"),
    ("qty", "Qty"),
    ("ref", "Ref price"),
    ("status", "Status"),
    ("reason", "Reason"),
)
DECISION_COLUMNS = (
    ("day", "Day"),
    ("kind", "Cycle"),
    ("regime", "Regime"),
    ("equity", "Equity"),
    ("orders", "Orders"),
    ("clamps", "Clamps"),
)


def _held(opened: str, as_of: str | None) -> str:
    if not as_of:
        return "-"
    try:
        return f"{(date.fromisoformat(as_of) - date.fromisoformat(opened)).days}d"
    except ValueError:
        return "-"


class AccountScreen(AccountControls, Screen[None]):
    """The account's detail; Enter on a decision shows why it was taken."""

    if TYPE_CHECKING:
        app = getters.app(InvestApp)

    BINDINGS: ClassVar[list[BindingType]] = [
        BACK,
        *CONTROL_BINDINGS,
    ]
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]  # noqa: RUF012 - Textual reads it as declared on Screen

    def __init__(self, account: str) -> None:
        super().__init__()
        self.account = account
        self._detail: AccountDetail | None = None
        self._extras: AccountExtras | None = None
        self._tz: str | None = None
        self._records: dict[str, dict[str, Any]] = {}

    def compose(self) -> ComposeResult:
        """Bar, headline, then chart, positions, orders, risk and decisions."""
        yield EngineBar(f"Invest · {self.account}")
        yield Static(id="acct-head")
        with VerticalScroll(id="acct-body"):
            yield EquityChart(id="acct-chart")
            with Vertical(id="acct-side"):
                yield Label("Positions", classes="section")
                yield DataTable(id="positions", cursor_type="row")
                yield Label("Open orders", classes="section")
                yield DataTable(id="orders", cursor_type="row")
                yield Label("Risk, 1-day", classes="section")
                yield Static(id="acct-risk")
            with Vertical(id="acct-log"):
                yield Label("Decisions (Enter: why)", classes="section")
                yield DataTable(id="decisions", cursor_type="row", zebra_stripes=True)
        yield KeysFooter()

    def on_mount(self) -> None:
        """Columns, first load, live refresh."""
        set_columns(self.query_one("#positions", DataTable), POSITION_COLUMNS)
        set_columns(self.query_one("#orders", DataTable), ORDER_COLUMNS)
        set_columns(self.query_one("#decisions", DataTable), DECISION_COLUMNS)
        if self.app.size.width >= 120:  # narrow: the body scrolls first, Tab reaches the tables
            self.query_one("#decisions", DataTable).focus()
        self.reload()
        if self.app.live:
            self.set_interval(self.app.refresh_s, self.reload)
        self.watch(self.app, "engine", lambda _: self._refresh_view(), init=False)

    def selected_account(self) -> str | None:
        """This screen's account."""
        return self.account

    @work(thread=True, exclusive=True, group="account")
    def reload(self) -> None:
        """Read the ledger, post it, then the benchmark, marks and stops."""
        worker = get_current_worker()
        try:
            detail = self.app.reader.detail(self.account)
        except InvestError as e:
            self.post_message(LedgerFailed(str(e)))
            return
        self.post_message(AccountLoaded(detail))
        extras = account_extras(detail, self.app.paths, self.app.now())
        if not worker.is_cancelled:
            self.post_message(AccountEnriched(extras, engine_timezone(self.app.paths)))

    def on_ledger_failed(self, message: LedgerFailed) -> None:
        """Show why nothing can be read."""
        self.query_one("#acct-head", Static).update(Text(message.error, style="bold red"))

    def on_account_loaded(self, message: AccountLoaded) -> None:
        """Fill the tables and the chart from the ledger."""
        self._detail = message.detail
        self._records = {str(r.get("cycle_id")): r for r in message.detail.decisions}
        self._refresh_view()

    def on_account_enriched(self, message: AccountEnriched) -> None:
        """Add the benchmark, marks and stops."""
        self._extras, self._tz = message.extras, message.tz
        self._refresh_view()

    def _refresh_view(self) -> None:
        d = self._detail
        if d is None:
            return
        self._head(d)
        self._chart(d)
        sync_rows(self.query_one("#positions", DataTable), [self._position(p) for p in d.positions])
        sync_rows(
            self.query_one("#orders", DataTable),
            [
                (
                    o.client_order_id,
                    (
                        o.day,
                        o.side.upper(),
                        o.symbol,
                        f"{o.quantity:g}",
                        fmt.money(o.ref_price),
                        o.status,
                        o.reason,
                    ),
                )
                for o in d.orders
            ],
        )
        decisions = self.query_one("#decisions", DataTable)
        sync_rows(decisions, [self._decision(r) for r in d.decisions])
        sort_rows(decisions, "day", reverse=True)
        self._risk()

    def _risk(self) -> None:
        """The risk panel: realised and forward VaR/CVaR 99%, the book, the drawdown."""
        ex = self._extras
        if ex is None:
            text = "reading the closes…"
        elif ex.risk is None:
            text = "n/a (an equity row is zero or negative)"
        else:
            from invest.runtime.risk.snapshot import risk_lines  # lazy: numpy

            text = "\n".join(risk_lines(ex.risk))
        self.query_one("#acct-risk", Static).update(text)

    def _head(self, d: AccountDetail) -> None:
        s, ex = d.summary, self._extras
        text = Text()
        text.append(f"{s.name}  ", style="bold")
        text.append(f"equity {fmt.money(s.equity)}  return ")
        text.append_text(fmt.pct(s.total_return))
        if ex is not None:
            bench = ex.bench_return
            text.append(f"  {s.info.benchmark} ")
            text.append_text(fmt.pct(bench, colour=False) if bench is not None else Text("n/a"))
        text.append("  DD ")
        text.append_text(fmt.pct(s.drawdown, colour=False))
        text.append("  ")
        text.append_text(fmt.regime(s.regime))
        text.append("  ")
        engine = self.app.engine.accounts.get(s.name, {})
        state = str(engine.get("effective") or fmt.worst(s.info.halt, self.app.engine.halt))
        text.append_text(fmt.halt(state, bool(engine.get("paused"))))
        text.append(f"  {s.info.strategy}{' + ' + s.info.model if s.info.model else ''}")
        nxt = fmt.parse_when(engine.get("next_cycle")) or (ex.next_cycle if ex else None)
        if ex is not None or nxt is not None:
            text.append(f"  next {fmt.when(nxt, self._tz)}")
        self.query_one("#acct-head", Static).update(text)

    def _chart(self, d: AccountDetail) -> None:
        days = [day for day, _ in d.curve]
        series = {d.summary.name: [v for _, v in d.curve]}
        bench = self._extras.bench_curve if self._extras is not None else None
        if bench:
            series[d.summary.info.benchmark] = bench
        title = f"Equity vs {d.summary.info.benchmark}" if bench else "Equity"
        self.query_one(EquityChart).show(title, days, series)

    def _position(self, p: PositionRow) -> tuple[str, tuple[Any, ...]]:
        ex = self._extras
        mark = ex.marks.get(p.symbol) if ex is not None else None
        stop_pct = p.stop_loss_pct if p.stop_loss_pct is not None else (ex and ex.default_stop)
        pnl = (mark - p.avg_cost) * p.quantity if mark is not None else None
        pnl_pct = mark / p.avg_cost - 1 if mark is not None and p.avg_cost else None
        est = "≈" if ex is not None and p.symbol in ex.estimated else ""
        assert self._detail is not None
        return p.symbol, (
            p.symbol,
            f"{p.quantity:,.3f}",
            fmt.money(p.avg_cost),
            est + fmt.money(mark),
            fmt.money(mark * p.quantity if mark is not None else None),
            fmt.signed(pnl),
            fmt.pct(pnl_pct),
            fmt.money(p.avg_cost * (1 - stop_pct)) if stop_pct else "-",
            _held(p.opened, self._detail.summary.last_day),
        )

    def _decision(self, rec: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
        cycle = str(rec.get("cycle_id"))
        clamps = len(rec.get("clamps") or [])
        return cycle, (
            str(rec.get("day")),
            "monitor" if cycle.endswith(":monitor") else "cycle",
            fmt.regime(rec.get("regime")),
            fmt.money(rec.get("equity")),
            fmt.orders(rec),
            str(clamps) if clamps else "-",
        )

    @on(DataTable.RowSelected, "#decisions")
    def _explain(self, event: DataTable.RowSelected) -> None:
        record = self._records.get(str(event.row_key.value))
        if record is not None:
            self.app.push_screen(ExplainScreen(record))
