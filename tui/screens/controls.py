"""Steering keys shared by the overview and account screens."""

from __future__ import annotations

from typing import Any

from textual.binding import Binding

CONTROL_BINDINGS = [
    Binding("p", "pause", "Pause"),
    Binding("r", "resume", "Resume"),
    Binding("n", "run_now", "Run"),
    Binding("f", "flatten", "Flatten"),
]
_ACTIONS = frozenset({"pause", "resume", "run_now", "flatten"})


class AccountControls:
    """Mixin for a Screen with a current account: pause, resume, run now, flatten.

    The keys are shown disabled while no engine runs; every request is confirmed
    first and goes through the app's control channel.
    """

    app: Any

    def selected_account(self) -> str | None:
        """The account the keys act on."""
        raise NotImplementedError

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Disable the controls while the engine is down."""
        if action in _ACTIONS and not self.app.engine.running:
            return None
        return True

    def disabled_reason(self, action: str) -> str | None:
        """Why a control key does nothing (shown as a toast when it is pressed)."""
        if action in _ACTIONS and not self.app.engine.running:
            return f"{self.app.engine.label}: the TUI is read-only."
        return None

    def action_pause(self) -> None:
        """Pause the account's scheduled cycles."""
        self.app.request_control("pause", self.selected_account())

    def action_resume(self) -> None:
        """Resume the account."""
        self.app.request_control("resume", self.selected_account())

    def action_run_now(self) -> None:
        """Run one cycle of the account now."""
        self.app.request_control("run", self.selected_account())

    def action_flatten(self) -> None:
        """Sell everything the account holds (typed confirmation)."""
        self.app.request_control("flatten", self.selected_account())
