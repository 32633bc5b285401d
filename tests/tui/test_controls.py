"""Steering: every control asks first, then sends one request to the (fake) engine."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Label

from invest.runtime.control.api import TRADER, Reply, Request
from invest.tui.messages import ControlFinished
from invest.tui.screens.account import AccountScreen
from invest.tui.screens.confirm import ConfirmScreen, TypedConfirmScreen

from .conftest import FakeEngine, settle

pytestmark = pytest.mark.anyio


def _req(op: str, **args: object) -> Request:
    return Request(op, dict(args), "tui", TRADER)


async def test_without_an_engine_the_controls_are_disabled_and_nothing_is_sent(make_app) -> None:
    engine = FakeEngine(running=False)
    app = make_app(engine)
    async with app.run_test(size=(120, 30), notifications=True) as pilot:
        await settle(pilot)
        for key in ("p", "r", "n", "f", "H", "U"):
            assert app.screen.active_bindings[key].enabled is False, key
            await pilot.press(key)
            await pilot.pause()
            assert not isinstance(app.screen, ConfirmScreen | TypedConfirmScreen)
        app.request_control("pause", "trend-daily")  # as the command palette does
        await pilot.pause()
        assert any("read-only" in n.message for n in app._notifications)
    assert engine.requests == []


@pytest.mark.parametrize(
    ("key", "op"),
    [("p", "pause"), ("r", "resume"), ("n", "run")],
)
async def test_an_account_control_is_confirmed_then_sent(make_app, key: str, op: str) -> None:
    engine = FakeEngine()
    seen: list[ControlFinished] = []
    app = make_app(engine)

    def hook(message: object) -> None:
        if isinstance(message, ControlFinished):
            seen.append(message)

    async with app.run_test(size=(120, 30), message_hook=hook) as pilot:
        await settle(pilot)
        await pilot.press(key)
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "defensive-weekly" in app.screen.question
        assert engine.writes == []  # nothing before the answer
        await pilot.press("y")
        await settle(pilot)
    assert engine.writes == [_req(op, account="defensive-weekly")]
    assert [(m.op, m.ok) for m in seen] == [(op, True)]


@pytest.mark.parametrize(
    ("key", "answer", "dialog"),
    [("p", "n", ConfirmScreen), ("f", "escape", TypedConfirmScreen)],
    ids=["no", "escape-flatten"],
)
async def test_declining_a_control_sends_nothing(make_app, key, answer, dialog) -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await pilot.press(key)
        await pilot.pause()
        assert isinstance(app.screen, dialog)  # the question was asked
        await pilot.press(answer)
        await settle(pilot)
        assert not isinstance(app.screen, dialog)
    assert engine.writes == []


@pytest.mark.parametrize(("key", "op"), [("H", "halt"), ("U", "resume_all")])
async def test_halt_and_resume_everything_are_confirmed_then_sent(make_app, key, op) -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await pilot.press(key)
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot)
    assert engine.writes == [_req(op)]


async def test_flatten_needs_the_account_name_typed_then_confirms_with_the_token(
    make_app,
) -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await pilot.press("down", "f")
        await pilot.pause()
        assert isinstance(app.screen, TypedConfirmScreen)
        assert app.screen.account == "hybrid-daily"
        await pilot.press(*"hybrid", "enter")
        await pilot.pause()
        assert isinstance(app.screen, TypedConfirmScreen)  # a wrong name keeps the dialog
        assert "nothing was sent" in str(app.screen.query_one("#error", Label).content)
        assert engine.writes == []
        app.screen.query_one("#typed", Input).value = ""
        await pilot.press(*"hybrid-daily", "enter")
        await settle(pilot)
        assert not isinstance(app.screen, TypedConfirmScreen)
    assert engine.writes == [
        _req("flatten", account="hybrid-daily"),
        _req("flatten", account="hybrid-daily", confirm="tok-42"),
    ]


async def test_the_account_screen_steers_its_own_account(make_app) -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        app.open_account("trend-daily")
        await settle(pilot)
        assert isinstance(app.screen, AccountScreen)
        await pilot.press("p")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
    assert engine.writes == [_req("pause", account="trend-daily")]


class RefusingEngine(FakeEngine):
    """An engine that answers every write with an error."""

    def request(self, request: Request) -> Reply:
        """Refuse writes."""
        reply = super().request(request)
        if request.op in ("ping", "status"):
            return reply
        return Reply(False, error="account is halted")


async def test_an_engine_refusal_is_reported(make_app) -> None:
    engine = RefusingEngine()
    seen: list[ControlFinished] = []
    app = make_app(engine)

    def hook(message: object) -> None:
        if isinstance(message, ControlFinished):
            seen.append(message)

    async with app.run_test(size=(120, 30), message_hook=hook, notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert any("account is halted" in n.message for n in app._notifications)
    assert [(m.op, m.ok, m.text) for m in seen] == [("run", False, "account is halted")]


async def test_a_disabled_control_key_says_why_in_a_toast(make_app) -> None:
    """Issue 14 #6: disabled keys did nothing and said nothing."""
    app = make_app(FakeEngine(running=False))
    async with app.run_test(size=(120, 30), notifications=True) as pilot:
        await settle(pilot)
        for key in ("n", "H"):
            app.clear_notifications()
            await pilot.press(key)
            await pilot.pause()
            assert [n.message for n in app._notifications] == [
                "engine not running: the TUI is read-only."
            ], key


class HaltedEngine(FakeEngine):
    """The engine's status says trend-daily is HALTED; run answers as the real one does."""

    def request(self, request: Request) -> Reply:
        reply = super().request(request)
        if request.op == "status":
            for row in reply.data["accounts"]:
                if row["account"] == "trend-daily":
                    row.update(halt="HALTED", halt_reason="drawdown 21% > 20%", effective="HALTED")
        if request.op == "run":  # invest.runtime.engine.ops._run: no "message" key
            return Reply(
                True,
                {
                    "account": "hybrid-daily",
                    "day": "2022-12-28",
                    "equity": 25374.3,
                    "orders": 0,
                    "skipped": "",
                    "text": "no trade",
                },
            )
        return reply


async def test_run_now_on_a_halted_account_is_refused_with_the_reason(make_app) -> None:
    """Issue 14 #6: while HALTED, "run now" answered "done"."""
    engine = HaltedEngine()
    app = make_app(engine)
    async with app.run_test(size=(160, 48), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("down", "down", "n")  # trend-daily
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        messages = [n.message for n in app._notifications]
        assert messages == [
            "run trend-daily refused: it is HALTED (drawdown 21% > 20%); r resumes it first."
        ]
    assert engine.writes == []


async def test_run_now_says_what_the_cycle_did_not_done(make_app) -> None:
    engine = HaltedEngine()
    app = make_app(engine)
    async with app.run_test(size=(160, 48), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("down", "n", "y")  # hybrid-daily
        await settle(pilot)
        messages = [n.message for n in app._notifications]
    assert messages == ["run hybrid-daily: 2022-12-28: 0 orders, equity 25374.3"]
