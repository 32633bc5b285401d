"""The overview screen and navigation, driven with Pilot on the fixed demo ledger."""

from __future__ import annotations

import sqlite3

import pytest
from textual.widgets import DataTable, Static

from invest.tui.screens.account import AccountScreen
from invest.tui.screens.overview import OverviewScreen

from .conftest import FakeEngine, settle

pytestmark = pytest.mark.anyio


def _cells(table: DataTable, key: str) -> list[str]:
    return [str(c) for c in table.get_row(key)]


async def test_the_overview_shows_one_row_per_account_with_ledger_values(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#accounts", DataTable)
        assert [k.value for k in table.rows] == ["defensive-weekly", "hybrid-daily", "trend-daily"]
        row = _cells(table, "trend-daily")
        assert row[:2] == ["trend-daily", "9,925.61"]
        assert row[3] == "-0.7%"  # 9,925.61 over 10,000 of starting cash
        assert row[4] == "-21.1%"  # SP500 over the same sessions, from the bundled sample
        assert row[6:10] == ["DEFENSE", "ACTIVE", "trend_king", "-"]
        assert row[10] == "2022-12-28"
        assert row[11] == "2022-12-29 16:30"  # cron 30 16 * * mon-fri, New York
        hybrid = _cells(table, "hybrid-daily")
        assert hybrid[8:10] == ["hybrid", "default"]  # the RL pack's name


async def test_the_next_cycle_skips_days_the_exchange_is_closed(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        row = _cells(app.screen.query_one("#accounts", DataTable), "defensive-weekly")
        assert row[11] == "2022-12-30 16:30"  # Fridays only


async def test_the_header_says_the_engine_is_not_running_and_names_the_ledger(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        engine = str(app.screen.query_one("#eb-engine", Static).content)
        ledger = str(app.screen.query_one("#eb-ledger", Static).content)
        assert "engine not running: read-only" in engine
        assert str(app.ledger_path) in ledger or ledger.endswith("ledger.sqlite")


async def test_the_header_marks_a_ledger_written_by_the_demo(make_app, paths) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        assert "demo" not in str(app.screen.query_one("#eb-ledger", Static).content)
    conn = sqlite3.connect(paths.ledger)
    with conn:
        conn.execute(
            "INSERT INTO events (ts, account, kind, detail_json) VALUES ('t', NULL, 'demo', '{}')"
        )
    conn.close()
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        ledger = str(app.screen.query_one("#eb-ledger", Static).content)
        assert ledger.endswith("(demo: replayed history)")


async def test_the_header_shows_the_heartbeat_age_when_the_engine_runs(make_app) -> None:
    app = make_app(FakeEngine())
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        assert "engine running, heartbeat 4s ago" in str(
            app.screen.query_one("#eb-engine", Static).content
        )
        row = _cells(app.screen.query_one("#accounts", DataTable), "trend-daily")
        assert row[7] == "ACTIVE paused"  # from the engine's status reply


async def test_enter_opens_the_account_and_escape_comes_back(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("down", "enter")
        await settle(pilot)
        assert isinstance(app.screen, AccountScreen)
        assert app.screen.account == "hybrid-daily"
        await pilot.press("escape")
        assert isinstance(app.screen, OverviewScreen)


async def test_the_keys_switch_between_the_screens(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        for key, mode, screen in (
            ("b", "backtest", "BacktestScreen"),
            ("m", "models", "ModelsScreen"),
            ("l", "logs", "LogsScreen"),
            ("o", "overview", "OverviewScreen"),
        ):
            await pilot.press(key)
            await settle(pilot)
            assert app.current_mode == mode
            assert type(app.screen).__name__ == screen


async def test_the_command_palette_offers_screens_accounts_and_controls(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for expected in (
            "Go to backtest",
            "Halt all",
            "Open trend-daily",
            "Pause trend-daily",
            "Flatten hybrid-daily",
        ):
            assert expected in titles
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert type(app.screen).__name__ == "CommandPalette"


async def test_a_palette_command_opens_an_account_from_another_screen(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("m")
        await settle(pilot)
        command = next(
            c for c in app.get_system_commands(app.screen) if c.title == "Open defensive-weekly"
        )
        command.callback()
        await settle(pilot)
        assert app.current_mode == "overview"
        assert isinstance(app.screen, AccountScreen)


async def test_a_missing_ledger_is_explained(make_app, tmp_path) -> None:
    from invest.runtime.paths import Paths, example_config

    empty = Paths(example_config(), "test", tmp_path / "nothing", "test")
    app = make_app(paths=empty)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        text = str(app.screen.query_one("#detail", Static).content)
        assert "no ledger at" in text
        assert "invest demo" in text


async def test_the_latest_decisions_with_orders_open_their_explanation(make_app) -> None:
    from invest.tui.screens.explain import ExplainScreen

    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        recent = app.screen.query_one("#recent", DataTable)
        first = [str(c) for c in recent.get_row_at(0)]
        assert first == ["2022-10-28", "defensive-weekly", "DEFENSE", "8,983.74", "SELL KO"]
        recent.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ExplainScreen)
        assert app.screen.record["cycle_id"] == "defensive-weekly:2022-10-28"


def _engine_was_here(paths) -> None:
    """Migrate the copy to the engine's schema and leave what a stopped engine leaves."""
    import sqlite3

    from invest.runtime.ledger import Ledger

    Ledger(paths.ledger).close()  # the writable open applies the engine's migrations
    conn = sqlite3.connect(paths.ledger)
    with conn:
        conn.execute(
            "INSERT INTO engine_heartbeat VALUES (1, 4242, '0.1.0', ?, ?, ?, ?)",
            ["2022-12-29T14:00:00+00:00"] * 3 + ["2022-12-29T16:00:00+00:00"],
        )
        conn.execute(
            "INSERT INTO engine_state VALUES (1, 'HALTED', 'daily loss', '2022-12-29T15:00:00')"
        )
        conn.execute(
            "INSERT INTO engine_accounts (account, paused, updated_at) "
            "VALUES ('trend-daily', 1, '2022-12-29T15:00:00')"
        )
    conn.close()


async def test_a_stopped_engine_s_halt_and_pauses_are_read_from_the_ledger(make_app, paths) -> None:
    _engine_was_here(paths)
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        label = str(app.screen.query_one("#eb-engine", Static).content)
        assert "engine not running (stopped 2022-12-29 16:00)" in label
        assert "HALTED (daily loss)" in label
        table = app.screen.query_one("#accounts", DataTable)
        assert _cells(table, "trend-daily")[7] == "HALTED paused"
        assert _cells(table, "hybrid-daily")[7] == "HALTED"


async def test_at_80x24_the_columns_that_matter_come_first(make_app) -> None:
    """Issue 14 #6: at 80x24 State was clipped and Next hidden."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#accounts", DataTable)
        keys = [str(c.key.value) for c in table.ordered_columns]
        assert keys[:6] == ["account", "equity", "return", "drawdown", "state", "next"]
        assert sum(c.get_render_width(table) for c in table.ordered_columns[:6]) <= 80
        assert _cells(table, "trend-daily")[:6] == [
            "trend-daily",
            "9,925.61",
            "-0.7%",
            "-0.7%",
            "ACTIVE",
            "2022-12-29 16:30",
        ]
        footer = {k.key for k in app.screen.query("FooterKey") if k.region.right <= 80}
        assert {"p", "r", "n", "f", "H", "U", "q"} <= footer


async def test_a_ledger_without_sessions_does_not_blame_an_online_source(make_app, paths) -> None:
    """Issue 14 #6: a fresh ledger on the sample said "bench n/a (online data source)"."""
    with sqlite3.connect(paths.ledger) as conn:
        conn.execute("DELETE FROM equity")
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        detail = str(app.screen.query_one("#detail", Static).content)
    assert "online data source" not in detail
    assert "bench n/a (no session marked yet)" in detail
