"""The options screen on a ledger written by a short options backtest: rows from the ledger's
marks, the nearest trigger, the account filter, the detail line, and the options records on
the overview and in the explanation modal."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from invest.runtime.ledger import reads
from invest.runtime.ledger.reads import TriggerRow
from invest.runtime.paths import Paths, example_config
from invest.tui.app import InvestApp
from invest.tui.format import orders
from invest.tui.screens.explain import explanation
from invest.tui.screens.options import OptionsScreen, trigger_cell
from tests.runtime.options_ledger_support import VIEWS_END, build_options_ledger

from .conftest import NOW, FakeEngine, settle

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def options_home(tmp_path_factory: pytest.TempPathFactory) -> Paths:
    root = tmp_path_factory.mktemp("options-home")
    build_options_ledger(root / "ledger.sqlite", VIEWS_END)
    return Paths(example_config(), "test", root, "test")


@pytest.fixture
def options_paths(options_home: Paths, tmp_path: Path) -> Paths:
    """A copy per test (a test may edit it)."""
    (tmp_path / "ledger.sqlite").write_bytes(options_home.ledger.read_bytes())
    return Paths(example_config(), "test", tmp_path, "test")


def _app(paths: Paths) -> InvestApp:
    return InvestApp(paths, control=FakeEngine(running=False), now=lambda: NOW, live=False)


def _column(table: DataTable, key: str) -> list[str]:
    return [str(table.get_cell(r, key)) for r in table.rows]


async def test_open_rows_are_the_ledgers_marks_and_a_filters_to_one_account(
    options_paths: Paths,
) -> None:
    with closing(reads.connect_readonly(options_paths.ledger)) as conn:
        marks = reads.option_marks(conn)
        closed = reads.option_positions(conn, closed=True)
        spreads_closed = reads.option_positions(conn, "spreads-weekly", closed=True)
    app = _app(options_paths)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        app.push_screen(OptionsScreen("spreads-weekly"))
        await settle(pilot)
        screen = app.screen
        table = screen.query_one("#opt-open", DataTable)
        assert table.row_count == len(marks) == 2
        by_under = {m.underlying: m for m in marks}
        for row in table.rows:
            m = by_under[str(table.get_cell(row, "under"))]
            assert str(table.get_cell(row, "dte")) == str(m.dte)
            assert str(table.get_cell(row, "pnl")) == f"{m.unrealised:+,.2f}"
            assert str(table.get_cell(row, "theta")) == f"{m.theta:+,.2f}"
            assert m.nearest is not None
            assert str(table.get_cell(row, "trigger")) == m.nearest.text()
        closed_table = screen.query_one("#opt-closed", DataTable)
        assert closed_table.row_count == len(closed)
        assert "auto_close" in _column(closed_table, "outcome")
        head = str(screen.query_one("#opt-head", Static).content)
        assert f"marked {VIEWS_END.isoformat()}" in head
        assert "1 exit due" in head  # KO's take profit
        await pilot.press("a")
        await settle(pilot)
        assert table.row_count == 0  # the spreads account has nothing open
        assert closed_table.row_count == len(spreads_closed)
        assert set(_column(closed_table, "account")) == {"spreads-weekly"}
        assert "of spreads-weekly" in str(screen.query_one("#opt-head", Static).content)


async def test_the_detail_line_follows_the_table_and_tells_every_trigger(
    options_paths: Paths,
) -> None:
    app = _app(options_paths)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("O")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, OptionsScreen)
        detail = screen.query_one("#opt-detail", Static)
        text = str(detail.content)
        assert text.startswith("KO cash secured put x7 (wheel-weekly)")
        assert "Exits: TP due (at value -45.50); stop 24,465.00 away" in text
        # 80 columns: what it is, its DTE, P&L and nearest exit come first
        keys = [str(c.key.value) for c in screen.query_one("#opt-open", DataTable).ordered_columns]
        assert keys[:5] == ["under", "kind", "dte", "pnl", "trigger"]
        closed_table = screen.query_one("#opt-closed", DataTable)
        closed_table.focus()
        closed_table.move_cursor(row=0, animate=False)
        await settle(pilot)
        text = str(detail.content)
        assert text.startswith("SP500 bull call x4 (spreads-weekly) 2016-06-07 -> 2016-06-15")
        assert text.endswith("Outcome: auto_close")
        assert "Premium in 4,676.00, out 8,468.00" in text


async def test_a_position_not_marked_yet_shows_dashes_not_zeros(options_paths: Paths) -> None:
    with closing(sqlite3.connect(options_paths.ledger)) as conn, conn:
        conn.execute("DELETE FROM option_marks")
    app = _app(options_paths)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        app.push_screen(OptionsScreen())
        await settle(pilot)
        table = app.screen.query_one("#opt-open", DataTable)
        assert table.row_count == 2
        assert set(_column(table, "pnl")) == {"-"}
        assert set(_column(table, "trigger")) == {"-"}
        assert "Not marked yet." in str(app.screen.query_one("#opt-detail", Static).content)


def test_a_trigger_is_red_when_due_and_yellow_when_near() -> None:
    assert trigger_cell(TriggerRow("take_profit", -45.5, -10.5, "$", -0.4)).style == "bold red"
    assert trigger_cell(TriggerRow("stop_loss", -900.0, 50.0, "$", 0.1)).style == "yellow"
    assert trigger_cell(TriggerRow("auto_close", None, 4.0, "days", 0.8)).style == ""
    assert str(trigger_cell(TriggerRow("auto_close", None, 4.0, "days", 0.8))) == "DTE close in 4d"


async def test_options_records_read_on_the_overview_and_in_the_explanation(
    options_paths: Paths,
) -> None:
    with closing(reads.connect_readonly(options_paths.ledger)) as conn:
        recs = reads.decisions(conn, "wheel-weekly", 50)
    rec = next(r for r in recs if r["exits"])
    assert orders(rec) == f"CLOSE {rec['exits'][0]['underlying']} {rec['exits'][0]['kind']}"
    body = explanation(rec)
    text = "\n".join(str(part) for part in body.renderables)
    assert f"exit [{rec['exits'][0]['rule']}]" in text
    app = _app(options_paths)
    async with app.run_test(size=(160, 48)) as pilot:  # the overview lists them without failing
        await settle(pilot)
        recent = app.screen.query_one("#recent", DataTable)
        assert any(
            "CLOSE KO cash_secured_put" in str(c) for r in recent.rows for c in recent.get_row(r)
        )
