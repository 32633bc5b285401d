"""The top bar of every screen: the screen's name, the engine's state, the ledger, and a
warning line while the config's accounts run on the bundled sample (demo data)."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label

from ..data.engine import EngineStatus

#: From this width the demo-data line may take a second row.
WRAP_WIDTH = 120


def _short(path: Path) -> str:
    home = Path.home()
    try:
        return "~/" + str(path.relative_to(home))
    except ValueError:
        return str(path)


class EngineBar(Vertical):
    """One line: title, engine heartbeat (or ``engine not running, read-only``), ledger path;
    under it, while there is one, the app's demo-data warning (the engine need not run)."""

    DEFAULT_CSS = """
    EngineBar {
        dock: top;
        height: auto;
    }
    EngineBar #eb-row { height: 1; background: $panel; }
    EngineBar Label { padding: 0 1; text-wrap: nowrap; }
    EngineBar #eb-demo {
        display: none;
        width: 1fr;
        background: $warning-muted;
        color: $text;
        text-overflow: ellipsis;
    }
    EngineBar #eb-demo.-shown { display: block; }
    EngineBar.-wide #eb-demo { text-wrap: wrap; height: auto; }
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
        """Title, engine and ledger labels; the demo-data line."""
        with Horizontal(id="eb-row"):
            yield Label(Text(self.title), id="eb-title")
            yield Label(id="eb-engine")
            ledger = getattr(self.app, "ledger_path", None)
            reader = getattr(self.app, "reader", None)
            demo = " (demo: replayed history)" if reader is not None and reader.is_demo() else ""
            yield Label(Text(f"ledger {_short(ledger)}{demo}" if ledger else ""), id="eb-ledger")
        yield Label(id="eb-demo")

    def on_mount(self) -> None:
        """Follow the app's engine status and demo-data warning."""
        self.watch(self.app, "engine", self._show, init=True)
        if hasattr(self.app, "demo"):
            self.watch(self.app, "demo", self._demo, init=True)

    def on_resize(self, event: events.Resize) -> None:
        """Wide: the demo line wraps, so the advice is whole; narrow: one line, its start
        (``demo data: run `invest setup` · the bundled sample ends ...``) kept."""
        self.set_class(event.size.width >= WRAP_WIDTH, "-wide")

    def _demo(self, notice: str) -> None:
        label = self.query_one("#eb-demo", Label)
        label.update(Text("⚠ " + notice if notice else ""))
        label.tooltip = notice or None
        label.set_class(bool(notice), "-shown")

    def _show(self, status: EngineStatus) -> None:
        label = self.query_one("#eb-engine", Label)
        text = status.label if status.running else f"{status.label}: read-only"
        label.update(Text(("● " if status.running else "○ ") + text))
        label.set_class(status.running, "-up")
        label.set_class(not status.running, "-down")
