"""The engine log, followed live and filtered by level and account."""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Input, Label, RichLog, Select
from textual.worker import get_current_worker

from ..data.logs import LEVELS, LogLine, LogTail, find_log
from ..messages import LogLinesRead
from ..widgets.footer import KeysFooter
from ..widgets.status import EngineBar

if TYPE_CHECKING:
    from textual import getters

    from ..app import InvestApp

#: Lines kept for re-filtering.
KEEP = 5000
POLL_S = 0.5
STYLE = {"DEBUG": "dim", "WARNING": "yellow", "ERROR": "red", "CRITICAL": "bold red"}


class LogsScreen(Screen[None]):
    """Tail of the engine log."""

    if TYPE_CHECKING:
        app = getters.app(InvestApp)

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+l", "clear", "Clear"),
        Binding("slash", "focus_filter", "Filter"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.lines: deque[LogLine] = deque(maxlen=KEEP)
        self.level: str | None = None
        self.account: str | None = None

    def compose(self) -> ComposeResult:
        """Filters, path, the log."""
        yield EngineBar("Invest · Logs")
        with Horizontal(id="log-filters"):
            yield Select[str](
                [(f"≥ {lv}", lv) for lv in LEVELS],
                prompt="all levels",
                id="log-level",
                compact=True,
            )
            yield Input(placeholder="account filter", id="log-account", compact=True)
            yield Label("", id="log-path")
        yield RichLog(id="log", max_lines=KEEP, wrap=False, markup=False, highlight=False)
        yield KeysFooter()

    def on_mount(self) -> None:
        """Start following the log."""
        self.follow()

    @work(thread=True, exclusive=True, group="logs")
    def follow(self) -> None:
        """Poll the file for new lines (thread: file I/O), until the screen goes."""
        worker = get_current_worker()
        path = self.app.log_path or find_log(self.app.paths)
        tail = LogTail(path)
        first = True
        while not worker.is_cancelled:
            lines, reset = tail.poll()
            if lines or reset or first:
                self.post_message(LogLinesRead(lines, reset, path, path.is_file()))
            first = False
            if not self.app.live:
                return
            deadline = time.monotonic() + POLL_S
            while time.monotonic() < deadline and not worker.is_cancelled:
                time.sleep(0.05)

    def on_log_lines_read(self, message: LogLinesRead) -> None:
        """Append (or start over after a rotation)."""
        missing = "" if message.exists else "  (not there yet: is the engine running?)"
        label = str(message.path) + missing
        self.query_one("#log-path", Label).update(Text(label))
        log = self.query_one("#log", RichLog)
        if message.reset:
            self.lines.clear()
            log.clear()
        self.lines.extend(message.lines)
        for line in message.lines:
            self._write(log, line)

    def _write(self, log: RichLog, line: LogLine) -> None:
        if line.matches(self.level, self.account):
            log.write(Text(line.text, style=STYLE.get(line.level or "", "")))

    def _refilter(self) -> None:
        log = self.query_one("#log", RichLog)
        log.clear()
        for line in self.lines:
            self._write(log, line)

    @on(Select.Changed, "#log-level")
    def _level(self, event: Select.Changed) -> None:
        self.level = event.value if isinstance(event.value, str) else None
        self._refilter()

    @on(Input.Changed, "#log-account")
    def _account(self, event: Input.Changed) -> None:
        self.account = event.value.strip() or None
        self._refilter()

    def action_clear(self) -> None:
        """Clear the view (the file is untouched)."""
        self.lines.clear()
        self.query_one("#log", RichLog).clear()

    def action_focus_filter(self) -> None:
        """Jump to the account filter."""
        self.query_one("#log-account", Input).focus()
