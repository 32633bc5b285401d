"""The daily views (closed trades, P&L per period, the next-cycle preview), the footers at
80 columns, and the demo-data line of the header."""

from __future__ import annotations

import io
from contextlib import closing
from pathlib import Path

import pytest
from rich.console import Console
from textual.widgets import DataTable, Label, Static

from invest.runtime.control.api import Reply, Request
from invest.runtime.freshness import SAMPLE_LAST_BAR, advice
from invest.runtime.ledger import reads
from invest.runtime.paths import Paths, example_config
from invest.tui.screens.account import AccountScreen
from invest.tui.screens.pnl import PnlScreen
from invest.tui.screens.preview import PreviewScreen
from invest.tui.screens.trades import TradesScreen

from .conftest import FakeEngine, settle

pytestmark = pytest.mark.anyio


def _text(static: Static) -> str:
    console = Console(width=160, record=True, file=io.StringIO())
    console.print(static.content)
    return console.export_text()


def _column(table: DataTable, key: str) -> list[str]:
    return [str(table.get_cell(row, key)) for row in table.rows]


async def _view(pilot, key: str) -> None:
    await settle(pilot)
    await pilot.press(key)
    await settle(pilot)


# -- trades ------------------------------------------------------------------------------------


async def test_trades_view_lists_every_closed_trade_and_a_filters_to_the_selected_account(
    make_app, paths
) -> None:
    with closing(reads.connect_readonly(paths.ledger)) as conn:
        every = reads.closed_trade_rows(conn)
        own = reads.closed_trade_rows(conn, "trend-daily")
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("down", "down")  # overview: defensive-weekly, hybrid-daily, trend-daily
        await _view(pilot, "t")
        screen = app.screen
        assert isinstance(screen, TradesScreen)
        table = screen.query_one("#trades", DataTable)
        assert table.row_count == len(every) == 57
        assert set(_column(table, "account")) == {t.account for t in every}
        await pilot.press("a")
        await settle(pilot)
        assert table.row_count == len(own) > 0
        assert set(_column(table, "account")) == {"trend-daily"}
        assert "of trend-daily" in str(screen.query_one("#trades-head", Static).content)
        await pilot.press("a")
        await settle(pilot)
        assert table.row_count == len(every)


async def test_trades_row_and_detail_line_carry_pnl_holding_days_and_the_whole_reason(
    make_app,
) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await _view(pilot, "t")
        screen = app.screen
        table = screen.query_one("#trades", DataTable)
        # newest exit first: defensive-weekly's PG stop on 2022-09-30 is the sixth row
        row = next(r for r in table.rows if str(table.get_cell(r, "exit")) == "2022-09-30")
        assert str(table.get_cell(row, "symbol")) == "PG"
        assert str(table.get_cell(row, "pnl")) == "-169.72"
        assert str(table.get_cell(row, "days")) == "130"
        table.move_cursor(row=table.get_row_index(row), animate=False)
        await settle(pilot)
        detail = str(screen.query_one("#trade-detail", Static).content)
        assert "Exit reason: stop_loss: 125.42 <= 126.46 (avg 140.51 -10%)" in detail
        assert "(130 days)" in detail
        # 80 columns: exit, account, symbol, P&L, %, days come first and are whole
        keys = [str(c.key.value) for c in table.ordered_columns]
        assert keys[:7] == ["exit", "account", "symbol", "pnl", "pct", "days", "reason"]
        assert sum(c.get_render_width(table) for c in table.ordered_columns[:6]) <= 80


# -- P&L ---------------------------------------------------------------------------------------


async def test_pnl_view_switches_day_week_month_with_the_portfolio_total(make_app, paths) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await _view(pilot, "P")
        screen = app.screen
        assert isinstance(screen, PnlScreen)
        table = screen.query_one("#pnl", DataTable)
        assert _column(table, "period")[0] == "2022-12-28"
        for key, period, first in (("w", "week", "2022-W52"), ("m", "month", "2022-12")):
            await pilot.press(key)
            await settle(pilot)
            with closing(reads.connect_readonly(paths.ledger)) as conn:
                want = reads.period_rows(conn, period, None, None)
            periods = _column(table, "period")
            accounts = _column(table, "account")
            assert periods[0] == first
            assert table.row_count == len([r for r in want if r.period in set(periods)])
            total = next(i for i, a in enumerate(accounts) if a == "portfolio total")
            latest = [r for r in want if r.period == first]
            summed = sum(r.pnl for r in latest if r.account != "total")
            assert str(table.get_row_at(total)[2]) == f"{summed:+,.2f}"
        assert "P&L per month" in str(screen.query_one("#pnl-head", Static).content)


# -- preview -----------------------------------------------------------------------------------

ENGINE_PREVIEW = {
    "account": "trend-daily",
    "day": "2022-12-28",
    "oracle": None,
    "halt": "ACTIVE",
    "equity": 9925.61,
    "cash": 1200.0,
    "regime": "ATTACK",
    "orders": [{"symbol": "PG", "side": "buy", "qty": "3", "ref_price": "149.13"}],
    "clamps": [{"rule": "max_position", "symbol": "PG", "reason": "capped at 20%"}],
    "not_traded": [{"symbol": "KO", "reason": "held 10.0%, target 10.0%: within the band"}],
    "notes": [],
    "record": {
        "orders": [
            {
                "symbol": "PG",
                "side": "buy",
                "qty": "3",
                "ref_price": "149.13",
                "reason": "rank 1, target 20%",
            }
        ],
        "clamps": [{"rule": "max_position", "symbol": "PG", "reason": "capped at 20%"}],
    },
}


class PreviewEngine(FakeEngine):
    """A running engine that answers ``preview`` (or fails it)."""

    def __init__(self, ok: bool = True) -> None:
        super().__init__()
        self.ok = ok
        self.timeouts: list[float | None] = []

    def request(self, request: Request, timeout: float | None = None) -> Reply:
        if request.op != "preview":
            return super().request(request, timeout)
        self.requests.append(request)
        self.timeouts.append(timeout)
        if not self.ok:
            return Reply(False, error="data source unreachable")
        return Reply(True, {"previews": [ENGINE_PREVIEW], "text": "..."})


async def test_preview_asks_a_running_engine_and_shows_orders_reasons_and_clamps(
    make_app,
) -> None:
    engine = PreviewEngine()
    app = make_app(control=engine)
    async with app.run_test(size=(160, 48)) as pilot:
        await _view(pilot, "v")
        screen = app.screen
        assert isinstance(screen, PreviewScreen)
        asked = [r for r in engine.requests if r.op == "preview"]
        assert [r.args for r in asked] == [{"oracle": "replay"}]
        assert engine.timeouts == [120.0]
        table = screen.query_one("#pv-accounts", DataTable)
        assert [k.value for k in table.rows] == ["trend-daily"]
        assert str(table.get_cell("trend-daily", "orders")) == "BUY PG"
        body = _text(screen.query_one("#pv-detail", Static))
        assert "rank 1, target 20%" in body
        assert "capped at 20%" in body
        assert "within the band" in body
        assert "asked of the engine" in str(screen.query_one("#pv-status", Static).content)


async def test_preview_says_why_when_the_engine_refuses(make_app) -> None:
    app = make_app(control=PreviewEngine(ok=False))
    async with app.run_test(size=(80, 24)) as pilot:
        await _view(pilot, "v")
        status = str(app.screen.query_one("#pv-status", Static).content)
        assert "No preview: the engine's preview failed: data source unreachable" in status


async def test_preview_runs_here_when_no_engine_answers(make_app) -> None:
    app = make_app()  # FakeEngine(running=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("down")  # hybrid-daily
        await _view(pilot, "v")
        screen = app.screen
        table = screen.query_one("#pv-accounts", DataTable)
        assert sorted(k.value for k in table.rows) == [
            "defensive-weekly",
            "hybrid-daily",
            "spreads-weekly",
            "trend-daily",
            "wheel-weekly",
        ]
        assert set(_column(table, "day")) == {str(SAMPLE_LAST_BAR)}
        assert "computed here" in str(screen.query_one("#pv-status", Static).content)
        body = _text(screen.query_one("#pv-detail", Static))
        assert body.startswith("hybrid-daily  next cycle on the bar of 2022-12-28")


# -- footers at 80 columns ---------------------------------------------------------------------


def _footer_keys(app) -> set[str]:
    return {k.key for k in app.screen.query("FooterKey") if k.region.right <= 80}


async def test_overview_footer_shows_the_view_keys_at_80_columns(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert {"p", "r", "n", "f", "t", "P", "v", "O", "o", "b", "m", "l", "H", "U", "q"} <= (
            _footer_keys(app)
        )


async def test_account_footer_shows_every_key_action_at_80_columns(make_app) -> None:
    """Issue 14: the account screen's footer clipped at 80 columns (``q Quit`` was cut)."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_account("trend-daily")
        await settle(pilot)
        assert isinstance(app.screen, AccountScreen)
        shown = {k.key for k in app.screen.query("FooterKey")}
        assert _footer_keys(app) == shown  # nothing past the 80th column
        assert {"escape", "p", "r", "n", "f", "o", "b", "m", "l", "H", "U"} <= shown
        await pilot.press("q")  # q goes back, as on every pushed view
        await settle(pilot)
        assert not isinstance(app.screen, AccountScreen)
        assert app.is_running


@pytest.mark.parametrize("key", ["t", "P", "v", "O"])
async def test_every_view_goes_back_with_q_and_escape(make_app, key) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        for back in ("q", "escape"):
            await _view(pilot, key)
            assert len(app.screen_stack) == 2
            await pilot.press(back)
            await settle(pilot)
            assert len(app.screen_stack) == 1
        assert app.is_running


# -- demo data -----------------------------------------------------------------------------------


async def test_header_says_demo_data_and_what_to_do_while_the_engine_is_down(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        assert not app.engine.running
        line = app.screen.query_one("#eb-demo", Label)
        assert line.display
        text = str(line.content)
        assert "demo data: run `invest setup`" in text
        assert advice("sample", SAMPLE_LAST_BAR) in text  # the words of status and doctor


async def test_no_demo_line_when_the_accounts_have_a_live_source(tmp_path: Path, paths) -> None:
    from invest.tui.app import InvestApp

    from .conftest import NOW

    config = tmp_path / "config.toml"
    config.write_text(example_config().read_text().replace('data = "sample"', 'data = "yfinance"'))
    live = Paths(config, "test", paths.home, "test")
    app = InvestApp(live, control=FakeEngine(running=False), now=lambda: NOW, live=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        assert app.demo == ""
        assert not app.screen.query_one("#eb-demo", Label).display
