"""The backtest screen: run to the end, cancel, save, and report bad input."""

from __future__ import annotations

import asyncio
import json

import pytest
from textual.widgets import DataTable, Input, Label, ProgressBar, Select

from .conftest import settle

pytestmark = pytest.mark.anyio


async def _screen(app, pilot, target: str, start: str):
    await settle(pilot)
    await pilot.press("b")
    await settle(pilot)
    screen = app.screen
    screen.query_one("#bt-target", Select).value = target
    screen.query_one("#bt-data", Select).value = "sample"
    screen.query_one("#bt-start", Input).value = start
    return screen


def _status(screen) -> str:
    return str(screen.query_one("#bt-status", Label).content)


async def test_a_short_backtest_runs_to_the_end_and_saves_its_folder(make_app, tmp_path) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await _screen(app, pilot, "account:trend-daily", "2022-06-01")
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert _status(screen).startswith("done: trend-daily")
        assert screen.query_one("#bt-progress", ProgressBar).percentage == 1.0
        metrics = screen.query_one("#bt-metrics", DataTable)
        assert [str(c.label) for c in metrics.columns.values()] == [
            "Metric",
            "trend-daily",
            "Index buy&hold",
            "Equal-weight buy&hold",
        ]
        assert metrics.row_count == 11
        proposed = screen.query_one("#bt-out", Input).value
        assert proposed == str(app.paths.reports / "backtests" / "trend-daily-20221229-170000")
        screen.query_one("#bt-out", Input).value = str(tmp_path / "out")
        await pilot.press("ctrl+o")
        await settle(pilot)
        assert _status(screen).startswith("saved 5 files")  # the four, and report.html
        assert screen.last_saved == tmp_path / "out" / "report.html"
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["account"] == "trend-daily"
    assert report["start"] == "2022-06-01"
    assert report["params"]["source"] == "tui"
    for name in ("equity.csv", "trades.csv", "decisions.jsonl", "report.html"):
        assert (tmp_path / "out" / name).is_file()


async def test_a_strategy_runs_on_every_symbol_of_the_source(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await _screen(app, pilot, "strategy:trend_king", "2022-10-03")
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert _status(screen).startswith("done: trend-king")


async def test_a_long_backtest_can_be_cancelled_and_keeps_its_partial_result(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await _screen(app, pilot, "account:trend-daily", "1991-01-02")
        screen.action_run()  # pilot.press would wait for the whole replay
        bar = screen.query_one("#bt-progress", ProgressBar)
        for _ in range(3000):
            if (bar.progress or 0) > 0:
                break
            await asyncio.sleep(0.01)
        assert screen.active_bindings["escape"].enabled
        await pilot.press("escape")
        await settle(pilot)
        assert _status(screen).startswith("CANCELLED, partial result: trend-daily")
        assert 0 < len(screen.result.days) < 8000
        # Esc no longer cancels (it leaves the focused field, if any)
        assert screen.active_bindings["escape"].binding.action != "cancel"


async def test_a_bad_date_is_reported_without_running(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await _screen(app, pilot, "account:trend-daily", "2022-13-45")
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert _status(screen).startswith("failed:")
        assert "start" in _status(screen)
        assert screen.result is None


async def test_esc_leaves_a_field_so_the_screen_keys_work_again(make_app) -> None:
    """Issue 14 #6: once a field had focus, o b m l q were typed into it and Esc was a
    disabled Cancel."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _screen(app, pilot, "account:trend-daily", "2022-06-01")
        out = screen.query_one("#bt-out", Input)
        out.focus()
        await pilot.press("q")
        assert out.value == "q"  # a field takes the letters typed into it
        assert app.screen.active_bindings["escape"].binding.description == "Leave field"
        await pilot.press("escape")
        await pilot.pause()
        assert app.focused is None
        await pilot.press("o")
        await settle(pilot)
        assert app.current_mode == "overview"
        assert out.value == "q"


async def test_a_disabled_backtest_key_says_why(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48), notifications=True) as pilot:
        await _screen(app, pilot, "account:trend-daily", "2022-06-01")
        app.set_focus(None)
        await pilot.press("ctrl+o")
        await pilot.pause()
        assert any("Nothing to save yet" in n.message for n in app._notifications)


async def test_r_opens_the_last_saved_report_on_a_desktop(
    make_app, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", lambda url: opened.append(url) or True)
    monkeypatch.delenv("SSH_CONNECTION", raising=False)
    monkeypatch.delenv("INVEST_ACTOR", raising=False)
    monkeypatch.setenv("DISPLAY", ":0")
    app = make_app()
    async with app.run_test(size=(160, 48), notifications=True) as pilot:
        screen = await _screen(app, pilot, "account:trend-daily", "2022-10-03")
        app.set_focus(None)
        await pilot.press("r")
        await pilot.pause()
        assert any("No report yet" in n.message for n in app._notifications)
        assert opened == []
        await pilot.press("ctrl+r")
        await settle(pilot)
        await pilot.press("ctrl+o")  # into the proposed INVEST_HOME/reports/backtests/...
        await settle(pilot)
        app.set_focus(None)
        await pilot.press("r")
        await pilot.pause()
        status = _status(screen)
    report = app.paths.reports / "backtests" / "trend-daily-20221229-170000" / "report.html"
    assert report.is_file()
    assert opened == [report.as_uri()]
    assert status == f"opened {report}"


async def test_r_over_ssh_gives_the_invest_web_address_and_opens_nothing(
    make_app, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", lambda url: opened.append(url) or True)
    monkeypatch.setenv("SSH_CONNECTION", "10.0.0.2 50000 10.0.0.1 22")
    monkeypatch.setenv("DISPLAY", ":0")
    app = make_app()
    folder = app.paths.reports / "backtests" / "trend-daily-20240101-000000"
    folder.mkdir(parents=True)
    (folder / "report.html").write_text("<html></html>")  # written by `invest backtest`
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await _screen(app, pilot, "account:trend-daily", "2022-10-03")
        app.set_focus(None)
        await pilot.press("r")
        await pilot.pause()
        status = _status(screen)
    assert opened == []
    assert status.startswith(f"{folder / 'report.html'}: in this SSH session, open ")
    assert (
        "http://127.0.0.1:8000/reports/backtests/trend-daily-20240101-000000/report.html" in status
    )
