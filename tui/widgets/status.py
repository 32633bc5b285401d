"""The top bar of every screen: the screen's name, the engine's state, the ledger."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label

from ..data.engine import EngineStatus


def _short(path: Path) -> str:
    home = Path.home()
    try:
        return "~/" + str(path.relative_to(home))
    except ValueError:
        return str(path)


class EngineBar(Horizontal):
    """One line: title, engine heartbeat (or ``engine not running, read-only``), ledger path."""

    DEFAULT_CSS = """
    EngineBar {
        dock: top;
        height: 1;
        background: $panel;
    }
    EngineBar Label { padding: 0 1; text-wrap: nowrap; }
    EngineBar #eb-title { text-style: bold; background: $primary; color: $text; }
    EngineBar #eb-engine.-up { color: $success; }
    EngineBar #eb-engine.-down { color: $warning; text-style: bold; }
    EngineBar #eb-ledger {
        width: 1fr;
        text-align: right;
        color: $text-muted;
        text-overflow: ellipsis;
    }
    """

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title = title

    def compose(self) -> ComposeResult:
        """Title, engine and ledger labels."""
        yield Label(Text(self.title), id="eb-title")
        yield Label(id="eb-engine")
        ledger = getattr(self.app, "ledger_path", None)
        reader = getattr(self.app, "reader", None)
        demo = " (demo: replayed history)" if reader is not None and reader.is_demo() else ""
        yield Label(Text(f"ledger {_short(ledger)}{demo}" if ledger else ""), id="eb-ledger")

    def on_mount(self) -> None:
        """Follow the app's engine status."""
        self.watch(self.app, "engine", self._show, init=True)

    def _show(self, status: EngineStatus) -> None:
        label = self.query_one("#eb-engine", Label)
        text = status.label if status.running else f"{status.label}: read-only"
        label.update(Text(("● " if status.running else "○ ") + text))
        label.set_class(status.running, "-up")
        label.set_class(not status.running, "-down")
