"""The Textual app behind ``invest`` (no arguments): watch and steer the engine.

Start-up stays under a second: this module imports Textual, the overview screen
and the light readers only. The other screens, pandas, onnxruntime, the
backtester and textual-plotext are imported when a screen first needs them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from textual import work
from textual.actions import ActionParseResult
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.dom import DOMNode
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Input, Select, TextArea

from invest.runtime.ledger.views import LedgerReader
from invest.runtime.paths import Paths

from .data.engine import (
    UNKNOWN,
    ControlPort,
    EngineDownError,
    EngineLink,
    EngineStatus,
    stale_status,
)
from .messages import ControlFinished, DemoChecked, EngineStatusChanged
from .screens.overview import OverviewScreen
from .widgets.footer import SCREENS

__all__ = ["InvestApp", "main"]

#: Control ops that act on one account, and their confirmation questions.
ACCOUNT_OPS = {
    "pause": "Pause {account}? Its scheduled cycles stop until you resume it.",
    "resume": "Resume {account}? Its scheduled cycles run again.",
    "run": "Run one cycle of {account} now?",
}
GLOBAL_OPS = {
    "halt": "Halt EVERY account? No new orders until you resume all.",
    "resume_all": "Resume every account (clear the global halt)?",
}
#: The daily views: (view, palette name, what it shows).
VIEWS = (
    ("trades", "Closed trades", "Realised P&L, holding time and exit reason of each trade"),
    ("pnl", "P&L per period", "Day, week and month P&L per account and the portfolio total"),
    ("preview", "Next cycle preview", "The dry run of each account on its latest bar"),
    ("options", "Option positions", "Legs, DTE, P&L, greeks and the nearest exit of each"),
)
CONTROL_ACTIONS = frozenset({"pause", "resume", "flatten", "run_now", "halt_all", "resume_all"})
#: Widgets that take typed keys: while one has focus, Esc gives the keys back to the screen.
FIELDS = (Input, Select, TextArea)


def _system_now() -> datetime:
    from invest.runtime.clock import SystemClock  # numpy comes with it: not at start-up

    return SystemClock().now()


def _backtest() -> Screen[Any]:
    from .screens.backtest import BacktestScreen

    return BacktestScreen()


def _models() -> Screen[Any]:
    from .screens.models import ModelsScreen

    return ModelsScreen()


def _logs() -> Screen[Any]:
    from .screens.logs import LogsScreen

    return LogsScreen()


class InvestApp(App[int]):
    """Overview, account, backtest, models and logs screens over one ledger.

    Args:
        paths: resolved locations (ledger, home, config, packs).
        control: the control-channel client; None uses the engine's Unix socket.
        now: the clock; inject a fixed one for tests and snapshots.
        live: refresh on timers (False: load once, for deterministic snapshots).
        refresh_s: seconds between refreshes of ledger and engine status.
        log_path: the engine log to tail (default: found from INVEST_LOG_DIR or home).
        on_first_frame: called with the seconds from construction to the first frame.
    """

    TITLE = "Invest"
    CSS_PATH = "styles.tcss"
    ENABLE_COMMAND_PALETTE = True
    MODES: ClassVar[dict[str, str | Callable[[], Screen[Any]]]] = {
        "overview": OverviewScreen,
        "backtest": _backtest,
        "models": _models,
        "logs": _logs,
    }
    DEFAULT_MODE = "overview"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("o,1", "switch_mode('overview')", "Overview", group=SCREENS, tooltip="Overview"),
        Binding("b,2", "switch_mode('backtest')", "Backtest", group=SCREENS, tooltip="Backtest"),
        Binding("m,3", "switch_mode('models')", "Models", group=SCREENS, tooltip="Models"),
        Binding("l,4", "switch_mode('logs')", "Logs", group=SCREENS, tooltip="Logs"),
        Binding("H", "halt_all", "Halt all"),
        Binding("U", "resume_all", "Resume all"),
        Binding("q", "quit", "Quit"),
        Binding("escape", "leave_field", "Leave field"),
    ]

    engine: reactive[EngineStatus] = reactive(UNKNOWN)
    demo: reactive[str] = reactive("")
    """The header's demo-data warning ("" when every account has a live source)."""

    def __init__(
        self,
        paths: Paths,
        *,
        control: ControlPort | None = None,
        now: Callable[[], datetime] | None = None,
        live: bool = True,
        refresh_s: float = 5.0,
        log_path: Path | None = None,
        on_first_frame: Callable[[float], None] | None = None,
    ) -> None:
        self._t0 = time.perf_counter()
        super().__init__()
        self.paths = paths
        self.ledger_path = paths.ledger
        self.reader = LedgerReader(paths.ledger)
        self.now = now or _system_now
        self.live = live
        self.refresh_s = refresh_s
        self.log_path = log_path
        self.accounts: list[str] = []
        self.first_frame_s: float | None = None
        self._on_first_frame = on_first_frame
        self._control = control
        self._link: EngineLink | None = None

    # -- engine ------------------------------------------------------------------------
    @property
    def link(self) -> EngineLink:
        """The control channel (created on first use, inside a worker)."""
        if self._link is None:
            client = self._control
            if client is None:
                from .data.engine import default_client

                client = default_client(self.paths)
            self._link = EngineLink(client, self.now)
        return self._link

    def on_mount(self) -> None:
        """Ask the engine for its status now, and periodically when live."""
        self.poll_engine()
        if self.live:
            self.set_interval(self.refresh_s, self.poll_engine)

    def first_frame(self) -> None:
        """Record the first frame (screens call this after their first refresh), then read
        whether the config's accounts run on demo data (pydantic: after the frame)."""
        if self.first_frame_s is None:
            self.first_frame_s = time.perf_counter() - self._t0
            if self._on_first_frame is not None:
                self._on_first_frame(self.first_frame_s)
            self.check_demo()

    @work(thread=True, exclusive=True, group="engine")
    def poll_engine(self) -> None:
        """Ping the engine (thread: the socket blocks); when it is down, say what the
        ledger remembers of it (last heartbeat, global halt, paused accounts)."""
        status = self.link.status()
        if not status.running:
            status = stale_status(status, self.reader, self.now())
        self.post_message(EngineStatusChanged(status))

    @work(thread=True, exclusive=True, group="demo")
    def check_demo(self) -> None:
        """Read the config (thread: pydantic loads on first use) for accounts on the sample."""
        from .data.settings import demo_notice

        self.post_message(DemoChecked(demo_notice(self.paths)))

    def on_demo_checked(self, message: DemoChecked) -> None:
        """Publish the warning; every screen's bar follows it."""
        self.demo = message.notice

    def on_engine_status_changed(self, message: EngineStatusChanged) -> None:
        """Publish the status; controls follow it."""
        self.engine = message.status

    def watch_engine(self, status: EngineStatus) -> None:
        """Enable or disable the control bindings."""
        for screen in self.screen_stack:
            screen.refresh_bindings()
        self.refresh_bindings()

    # -- controls ----------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Controls are shown disabled while no engine runs (the TUI is read-only); Esc
        is offered only while a field has focus."""
        if action == "leave_field":
            return isinstance(self.focused, FIELDS)
        if action in CONTROL_ACTIONS and not self.engine.running:
            return None
        return True

    def disabled_reason(self, action: str) -> str | None:
        """Why ``action`` is disabled (the toast a disabled key shows), or None."""
        if action in CONTROL_ACTIONS and not self.engine.running:
            return f"{self.engine.label}: the TUI is read-only."
        return None

    async def run_action(
        self,
        action: str | ActionParseResult,
        default_namespace: DOMNode | None = None,
        namespaces: Mapping[str, DOMNode] | None = None,
    ) -> bool:
        """Run ``action``; a disabled one says why in a toast instead of doing nothing."""
        target, name, params = self._parse_action(
            action, self if default_namespace is None else default_namespace, namespaces
        )
        if target.check_action(name, params) is None:  # disabled (False: hidden, not bound)
            reason = getattr(target, "disabled_reason", None)
            why = reason(name) if callable(reason) else None
            if why:
                self.notify(why, severity="warning")
                return True
        return await super().run_action(action, default_namespace, namespaces)

    def action_leave_field(self) -> None:
        """Take the focus from a field, so that the screen's keys work again."""
        self.set_focus(None)

    def request_control(self, op: str, account: str | None = None) -> None:
        """Confirm, then send ``op`` to the engine (flatten: type the account's name)."""
        from .screens.confirm import ConfirmScreen, TypedConfirmScreen

        if not self.engine.running:
            self.notify(f"{self.engine.label}: the TUI is read-only.", severity="warning")
            return
        if op in ACCOUNT_OPS and not account:
            self.notify("Select an account first.", severity="warning")
            return
        if op == "run" and account and (halted := self.halted(account)):
            self.notify(f"run {account} refused: {halted}", title="Engine", severity="warning")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.send_control(op, account)

        if op == "flatten":
            if not account:
                self.notify("Select an account first.", severity="warning")
                return
            self.push_screen(TypedConfirmScreen(account), answered)
            return
        question = (ACCOUNT_OPS.get(op) or GLOBAL_OPS[op]).format(account=account)
        self.push_screen(ConfirmScreen(question, op.replace("_", " ").capitalize()), answered)

    @work(thread=True, group="control")
    def send_control(self, op: str, account: str | None) -> None:
        """Send one control request (thread: the socket blocks)."""
        try:
            if op == "flatten" and account:
                reply = self.link.flatten(account)
            else:
                args: dict[str, Any] = {"account": account} if account else {}
                reply = self.link.send(op, **args)
        except EngineDownError as e:
            self.post_message(ControlFinished(op, account, False, str(e)))
            return
        except Exception as e:  # report any channel failure instead of crashing the TUI
            self.post_message(ControlFinished(op, account, False, f"{type(e).__name__}: {e}"))
            return
        text = reply.error if not reply.ok else reply_text(reply.data)
        self.post_message(ControlFinished(op, account, reply.ok, text))

    def halted(self, account: str) -> str:
        """Why the engine will not trade ``account`` ("" when it would): its effective
        halt state as the engine's status reports it, with the reason."""
        row = self.engine.accounts.get(account, {})
        if row.get("effective") != "HALTED":
            return ""
        own = row.get("halt") == "HALTED"
        why = str(row.get("halt_reason") if own else self.engine.reason) or "no reason given"
        fix = "r resumes it" if own else "U resumes all"
        whose = "it is HALTED" if own else "the engine is HALTED"
        return f"{whose} ({why}); {fix} first."

    def on_control_finished(self, message: ControlFinished) -> None:
        """Say what happened, then refresh status and the screen."""
        what = f"{message.op} {message.account or 'all'}"
        if message.ok:
            self.notify(f"{what}: {message.text}", title="Engine")
        else:
            self.notify(f"{what} failed: {message.text}", title="Engine", severity="error")
        self.poll_engine()
        reload = getattr(self.screen, "reload", None)
        if callable(reload):
            reload()

    def action_halt_all(self) -> None:
        """Halt every account (after confirmation)."""
        self.request_control("halt")

    def action_resume_all(self) -> None:
        """Resume every account (after confirmation)."""
        self.request_control("resume_all")

    # -- navigation and palette ----------------------------------------------------------
    def open_account(self, account: str) -> None:
        """Show the account screen of ``account`` (over the overview)."""
        from .screens.account import AccountScreen

        if self.current_mode != "overview":
            self.switch_mode("overview")
        self.push_screen(AccountScreen(account))

    def open_view(self, view: str, account: str | None = None) -> None:
        """Show a daily view (``trades``, ``pnl``, ``preview``, ``options``) over the overview;
        ``account``: the one the view starts from (the overview's selection)."""
        from .screens.options import OptionsScreen
        from .screens.pnl import PnlScreen
        from .screens.preview import PreviewScreen
        from .screens.trades import TradesScreen

        screens: dict[str, Callable[[], Screen[Any]]] = {
            "trades": lambda: TradesScreen(account),
            "pnl": PnlScreen,
            "preview": lambda: PreviewScreen(account),
            "options": lambda: OptionsScreen(account),
        }
        if self.current_mode != "overview":
            self.switch_mode("overview")
        self.push_screen(screens[view]())

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Textual's commands, the screens, and the controls of every account."""
        yield from super().get_system_commands(screen)
        for mode in ("overview", "backtest", "models", "logs"):
            yield SystemCommand(
                f"Go to {mode}", f"Show the {mode} screen", lambda m=mode: self.switch_mode(m)
            )
        for view, label, help_text in VIEWS:
            yield SystemCommand(label, help_text, lambda v=view: self.open_view(v))
        yield SystemCommand("Halt all", "Halt every account", self.action_halt_all)
        yield SystemCommand("Resume all", "Resume every account", self.action_resume_all)
        for name in self.accounts:
            yield SystemCommand(
                f"Open {name}", "Equity, positions, decisions", lambda n=name: self.open_account(n)
            )
            for op, label in (
                ("pause", "Pause"),
                ("resume", "Resume"),
                ("run", "Run a cycle now:"),
                ("flatten", "Flatten"),
            ):
                yield SystemCommand(
                    f"{label} {name}",
                    f"Send {op} to the engine (asks first)",
                    lambda o=op, n=name: self.request_control(o, n),
                )


def reply_text(data: dict[str, Any]) -> str:
    """What a control reply says: its message, why a cycle was skipped, or what it did."""
    if message := data.get("message"):
        return str(message)
    if skipped := data.get("skipped"):
        return f"skipped: {skipped}"
    if "day" in data:  # a cycle's reply (op run)
        orders = int(data.get("orders") or 0)
        return f"{data['day']}: {orders} order{'s' * (orders != 1)}, equity {data.get('equity')}"
    return "done"


def main(paths: Paths) -> int:
    """Run the TUI until the user quits; the exit code of ``invest``."""
    app = InvestApp(paths)
    app.run()
    return int(app.return_code or 0)
