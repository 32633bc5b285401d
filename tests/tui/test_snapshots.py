"""SVG snapshots of the overview, account, backtest, trades, P&L, preview and options
screens at 80x24 and 160x48.

The app runs on the fixed demo ledger, in a fixed folder, with a fixed clock, no
timers and no engine, so every run draws the same frame. Update them with
``pytest tests/tui --snapshot-update`` and review the SVGs before committing.
"""

from __future__ import annotations

import pytest
from textual.widgets import Input, Select

from invest.tui.app import InvestApp

from .conftest import NOW, FakeEngine, settle

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]


def _app(paths) -> InvestApp:
    return InvestApp(paths, control=FakeEngine(running=False), now=lambda: NOW, live=False)


@pytest.mark.parametrize("size", SIZES)
def test_overview_snapshot(snap_compare, snapshot_paths, size) -> None:
    assert snap_compare(_app(snapshot_paths), terminal_size=size, run_before=settle)


@pytest.mark.parametrize("size", SIZES)
def test_account_snapshot(snap_compare, snapshot_paths, size) -> None:
    async def open_account(pilot) -> None:
        await settle(pilot)
        pilot.app.open_account("defensive-weekly")
        await settle(pilot)

    assert snap_compare(_app(snapshot_paths), terminal_size=size, run_before=open_account)


@pytest.mark.parametrize("size", SIZES)
def test_backtest_snapshot(snap_compare, snapshot_paths, size) -> None:
    async def run_backtest(pilot) -> None:
        await settle(pilot)
        await pilot.press("b")
        await settle(pilot)
        screen = pilot.app.screen
        screen.query_one("#bt-target", Select).value = "account:trend-daily"
        screen.query_one("#bt-data", Select).value = "sample"
        screen.query_one("#bt-start", Input).value = "2022-01-03"
        await pilot.press("ctrl+r")
        await settle(pilot)

    assert snap_compare(_app(snapshot_paths), terminal_size=size, run_before=run_backtest)


async def _press(pilot, *keys: str) -> None:
    await settle(pilot)
    for key in keys:
        await pilot.press(key)
        await settle(pilot)


@pytest.mark.parametrize("size", SIZES)
def test_trades_snapshot(snap_compare, snapshot_paths, size) -> None:
    """From the overview's first account (defensive-weekly), ``t``: every account's trades."""
    assert snap_compare(
        _app(snapshot_paths), terminal_size=size, run_before=lambda p: _press(p, "t")
    )


@pytest.mark.parametrize("size", SIZES)
def test_pnl_snapshot(snap_compare, snapshot_paths, size) -> None:
    """``P`` then ``w``: P&L per ISO week, each account and the portfolio total."""
    assert snap_compare(
        _app(snapshot_paths), terminal_size=size, run_before=lambda p: _press(p, "P", "w")
    )


@pytest.mark.parametrize("size", SIZES)
def test_preview_snapshot(snap_compare, snapshot_paths, size) -> None:
    """``v`` with no engine: the dry run computed in the TUI on the bundled sample."""
    assert snap_compare(
        _app(snapshot_paths), terminal_size=size, run_before=lambda p: _press(p, "v")
    )


@pytest.mark.parametrize("size", SIZES)
def test_options_snapshot(snap_compare, options_snapshot_paths, size) -> None:
    """Open and closed option positions of a short wheel and spreads backtest."""
    assert snap_compare(
        _app(options_snapshot_paths),
        terminal_size=size,
        run_before=lambda pilot: _press(pilot, "O"),
    )
