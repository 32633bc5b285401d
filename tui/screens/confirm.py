"""Confirmation dialogs for steering: yes/no, and typing the account's name to flatten."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 64;
    max-width: 95%;
    height: auto;
    border: thick $warning;
    background: $surface;
    padding: 1 2;
}}
{name} Label {{ width: 100%; margin-bottom: 1; }}
{name} Horizontal {{ height: auto; align-horizontal: right; }}
{name} Button {{ margin-left: 2; }}
"""


class ConfirmScreen(ModalScreen[bool]):
    """Ask before a control request: ``y`` sends it, ``n`` or Escape does not."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]
    DEFAULT_CSS = _CSS.format(name="ConfirmScreen")

    def __init__(self, question: str, action: str = "Send") -> None:
        super().__init__()
        self.question = question
        self.action_label = action

    def compose(self) -> ComposeResult:
        """Question and two buttons."""
        with Vertical():
            yield Label(Text(self.question), id="question")
            with Horizontal():
                yield Button("No", id="no")
                yield Button(f"{self.action_label} (y)", id="yes", variant="warning")

    def action_answer(self, yes: bool) -> None:
        """Close with the answer."""
        self.dismiss(yes)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class TypedConfirmScreen(ModalScreen[bool]):
    """Flatten needs the account's name typed exactly; Escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = (
        _CSS.format(name="TypedConfirmScreen")
        + """
    TypedConfirmScreen #error { color: $error; height: 1; margin: 0; }
    """
    )

    def __init__(self, account: str) -> None:
        super().__init__()
        self.account = account

    def compose(self) -> ComposeResult:
        """Warning, the input and the error line."""
        with Vertical():
            yield Label(
                Text(
                    f"Flatten {self.account}: sell every position of this account at the "
                    "next fill. This cannot be undone.\n"
                    f"Type the account name ({self.account}) and press Enter."
                )
            )
            yield Input(placeholder=self.account, id="typed")
            yield Label("", id="error")

    def on_mount(self) -> None:
        """Put the cursor in the input."""
        self.query_one("#typed", Input).focus()

    @on(Input.Submitted, "#typed")
    def _submitted(self, event: Input.Submitted) -> None:
        if event.value.strip() == self.account:
            self.dismiss(True)
            return
        self.query_one("#error", Label).update(
            Text(f"That is not {self.account!r}; nothing was sent.")
        )

    def action_cancel(self) -> None:
        """Close without flattening."""
        self.dismiss(False)
