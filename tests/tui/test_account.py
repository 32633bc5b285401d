"""The account screen and the explanation of a decision."""

from __future__ import annotations

import pytest
from rich.console import Console
from textual.widgets import DataTable, Static

from invest.tui.screens.account import AccountScreen
from invest.tui.screens.explain import ExplainScreen, explanation

from .conftest import settle

pytestmark = pytest.mark.anyio


async def _open(app, pilot, account: str) -> AccountScreen:
    await settle(pilot)
    app.open_account(account)
    await settle(pilot)
    assert isinstance(app.screen, AccountScreen)
    return app.screen


async def test_positions_show_marks_unrealised_pnl_stops_and_holding_days(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await _open(app, pilot, "defensive-weekly")
        table = screen.query_one("#positions", DataTable)
        assert [k.value for k in table.rows] == ["JNJ", "KO", "PEP", "PG", "WMT"]
        jnj = [str(c) for c in table.get_row("JNJ")]
        # 5.392215 JNJ at 164.17 avg cost, marked at the sample's 2022-12-28 close;
        # the conservative profile's 10% stop; opened 2022-08-22.
        assert jnj == [
            *["JNJ", "5.392", "164.17", "174.09", "938.70", "+53.46", "+6.0%"],
            *["147.75", "128d"],
        ]
        head = str(screen.query_one("#acct-head", Static).content)
        assert "equity 9,151.94" in head
        assert "SP500 -21.1%" in head
        assert "next 2022-12-30 16:30" in head


async def test_open_orders_and_the_decision_log_newest_first(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await _open(app, pilot, "trend-daily")
        orders = screen.query_one("#orders", DataTable)
        assert orders.row_count == 1
        assert [str(c) for c in orders.get_row_at(0)][:6] == [
            "2022-12-28",
            "BUY",
            "MSFT",
            "2.5",
            "236.96",
            "submitted",
        ]
        assert screen.query_one("#positions", DataTable).row_count == 0
        log = screen.query_one("#decisions", DataTable)
        days = [str(log.get_row_at(i)[0]) for i in range(log.row_count)]
        assert days == sorted(days, reverse=True)
        assert days[0] == "2022-12-28"


async def test_selecting_a_decision_shows_its_full_explanation(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await _open(app, pilot, "trend-daily")
        log = screen.query_one("#decisions", DataTable)
        row = next(i for i in range(log.row_count) if str(log.get_row_at(i)[0]) == "2022-01-03")
        log.focus()
        log.move_cursor(row=row)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ExplainScreen)
        assert app.screen.record["cycle_id"] == "trend-daily:2022-01-03"
        body = str(app.screen.query_one("#explain-body", Static).render())
        await pilot.press("escape")
        assert isinstance(app.screen, AccountScreen)
    assert body  # rendered without error


def _text(record: dict) -> str:
    console = Console(width=140, record=True, color_system=None)
    console.print(explanation(record))
    return console.export_text()


def test_the_explanation_holds_regime_scores_rl_votes_llm_verdict_and_clamps() -> None:
    record = {
        "account": "hybrid-daily",
        "cycle_id": "hybrid-daily:2022-12-28",
        "day": "2022-12-28",
        "strategy": "hybrid",
        "regime": "ATTACK",
        "notes": ["SP500 4100.00 vs SMA200 4000.00"],
        "scores": {"MSFT": 3.2, "KO": 1.1},
        "proposed": {"MSFT": 0.3},
        "targets": {"MSFT": 0.2},
        "weights": {"KO": 0.1},
        "rl": {"MSFT": {"action": "BUY", "confidence": 0.6667, "votes": ["BUY", "BUY", "HOLD"]}},
        "llm": [
            {
                "symbol": "MSFT",
                "verdict": "SHRINK",
                "fraction": 0.5,
                "reason": "antitrust probe",
                "headlines": ["Regulator opens probe into cloud deals"],
                "source": "llm",
            }
        ],
        "clamps": [
            {"rule": "max_position", "symbol": "MSFT", "reason": "weight 30% capped at 20%"}
        ],
        "orders": [
            {
                "symbol": "MSFT",
                "side": "buy",
                "qty": "4",
                "ref_price": "250",
                "reason": "target 20.0%",
            }
        ],
        "skipped": [{"symbol": "XOM", "reason": "stale data"}],
        "equity": 25000.0,
        "cash": 20000.0,
        "drawdown": -0.01,
    }
    text = _text(record)
    for expected in (
        "ATTACK",
        "SP500 4100.00 vs SMA200 4000.00",
        "Rule scores",
        "30.0%",
        "RL ensemble votes",
        "67%",
        "BUY BUY HOLD",
        "LLM oracle",
        "SHRINK",
        "antitrust probe",
        "Regulator opens probe into cloud deals",
        "Risk clamps",
        "weight 30% capped at 20%",
        "target 20.0%",
        "stale data",
    ):
        assert expected in text, expected


def test_an_explanation_without_rl_or_llm_says_so() -> None:
    text = _text({"account": "a", "cycle_id": "a:d", "day": "d", "regime": None, "equity": 1})
    assert "monitor" in text
    assert "RL: not used by this strategy." in text
    assert "LLM oracle: not consulted in this cycle." in text
