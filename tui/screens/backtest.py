"""Backtests: pick an account or a strategy, dates and data; replay in a thread worker.

The replay is CPU-bound numpy work, so it runs in a thread worker; it polls
``worker.is_cancelled`` about a hundred times and returns a partial result when
cancelled. The metrics and the chart compare it with both benchmarks.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Button, DataTable, Input, Label, ProgressBar, Select
from textual.worker import Worker, get_current_worker

from invest.runtime.errors import InvestError

from ..data.backtest import SOURCES, BacktestSpec
from ..messages import (
    BacktestFailed,
    BacktestFinished,
    BacktestProgress,
    BacktestSaved,
    BacktestTargets,
)
from ..widgets.chart import EquityChart
from ..widgets.footer import KeysFooter
from ..widgets.status import EngineBar
from ..widgets.tables import fill

if TYPE_CHECKING:
    from textual import getters

    from ..app import InvestApp

DEFAULT_START = "2018-01-02"
CONFIG_DATA = "config"


class BacktestScreen(Screen[None]):
    """Run, cancel and save backtests."""

    if TYPE_CHECKING:
        app = getters.app(InvestApp)

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "run", "Run"),
        Binding("ctrl+o", "save", "Save"),
        # Off the footer (80 columns hold no more keys): the save row's button says "r".
        Binding("r", "open_report", "Report", show=False),
        # Shown only while a replay runs; otherwise Esc falls through to the app's
        # "leave field", so typed keys (o b m l q) work again after Esc.
        Binding("escape", "cancel", "Cancel"),
    ]
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]  # noqa: RUF012 - Textual reads it as declared on Screen

    def __init__(self) -> None:
        super().__init__()
        self.worker: Worker[None] | None = None
        self.result: Any = None
        self.last_saved: Path | None = None

    def compose(self) -> ComposeResult:
        """Form, buttons, progress, metrics and chart, save row."""
        yield EngineBar("Invest · Backtest")
        with Horizontal(id="bt-form"):
            yield Select[str]([], prompt="account or strategy", id="bt-target", compact=True)
            yield Select[str](
                [("data: from config", CONFIG_DATA)] + [(f"data: {s}", s) for s in SOURCES],
                value=CONFIG_DATA,
                allow_blank=False,
                id="bt-data",
                compact=True,
            )
            yield Input(placeholder="or csv:PATH", id="bt-csv", compact=True)
            yield Input(DEFAULT_START, placeholder="start YYYY-MM-DD", id="bt-start", compact=True)
            yield Input(placeholder="end (empty: last)", id="bt-end", compact=True)
            with Horizontal(id="bt-buttons"):
                yield Button("Run ^r", id="bt-run", variant="primary", compact=True)
                yield Button("Cancel esc", id="bt-cancel", disabled=True, compact=True)
                yield Button("Save ^o", id="bt-save", disabled=True, compact=True)
        with Horizontal(id="bt-status-row"):
            yield ProgressBar(total=100, show_eta=False, id="bt-progress")
            yield Label("", id="bt-status")
        with Horizontal(id="bt-results"):
            yield DataTable(id="bt-metrics", cursor_type="row", show_cursor=False)
            yield EquityChart(id="bt-chart")
        with Horizontal(id="bt-save-row"):
            yield Label("save to ", id="bt-out-label")
            yield Input(placeholder="results folder", id="bt-out", compact=True)
            yield Button(
                "Report r",
                id="bt-report",
                compact=True,
                tooltip="Open the last report.html (over SSH: its `invest web` address)",
            )
        yield KeysFooter()

    def on_mount(self) -> None:
        """Offer the config's accounts and the strategies (read in a worker)."""
        self.load_targets()

    @work(thread=True, group="backtest-targets")
    def load_targets(self) -> None:
        """Read the config's accounts (pydantic is imported here, not at start-up)."""
        from ..data.backtest import targets

        self.post_message(BacktestTargets(targets(self.app.paths)))

    def on_backtest_targets(self, message: BacktestTargets) -> None:
        """Fill the target selector; the first account is the default."""
        select = self.query_one("#bt-target", Select)
        select.set_options(message.choices)
        if message.choices:
            select.value = message.choices[0][1]

    # -- run -------------------------------------------------------------------------------
    def spec(self) -> BacktestSpec | None:
        """The form as a spec, or None (with a notice) when incomplete."""
        target = self.query_one("#bt-target", Select).value
        if not isinstance(target, str):
            self.notify("Choose an account or a strategy.", severity="warning")
            return None
        csv = self.query_one("#bt-csv", Input).value.strip()
        data = self.query_one("#bt-data", Select).value
        if csv:
            data = csv if csv.startswith("csv:") else f"csv:{csv}"
        start = self.query_one("#bt-start", Input).value.strip() or None
        end = self.query_one("#bt-end", Input).value.strip() or None
        return BacktestSpec(target, start, end, None if data == CONFIG_DATA else str(data))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Cancel only while running; save only with a result."""
        if action == "cancel":
            return self.running  # hidden, not disabled, while idle: Esc then leaves a field
        return None if self.disabled_reason(action) else True

    @property
    def running(self) -> bool:
        """A replay is in flight."""
        return self.worker is not None and self.worker.is_running

    def disabled_reason(self, action: str) -> str | None:
        """Why ``action`` does nothing now (the toast a disabled key shows), or None."""
        if action == "run" and self.running:
            return "A backtest is running: Esc cancels it."
        if action == "save" and self.running:
            return "Wait for the backtest to finish (Esc cancels it), then save."
        if action == "save" and self.result is None:
            return "Nothing to save yet: run a backtest first (ctrl+r)."
        return None

    def action_run(self) -> None:
        """Start a replay."""
        spec = self.spec()
        if spec is None:
            return
        self.result = None
        self.query_one("#bt-progress", ProgressBar).update(total=100, progress=0)
        self._status(f"running {spec.target} from {spec.start or 'the start'}…")
        self.worker = self.replay(spec)
        self._buttons()

    def action_cancel(self) -> None:
        """Stop the replay; what it did so far is kept."""
        if self.worker is not None and self.worker.is_running:
            self.worker.cancel()
            self._status("cancelling…")

    @work(thread=True, exclusive=True, group="backtest")
    def replay(self, spec: BacktestSpec) -> None:
        """Run the replay (thread: CPU-bound), posting progress and the result."""
        from ..data.backtest import curves, run_backtest, summary

        worker = get_current_worker()

        def progress(done: int, total: int) -> None:
            self.post_message(BacktestProgress(done, total))

        try:
            result = run_backtest(
                spec, self.app.paths, progress=progress, cancelled=lambda: worker.is_cancelled
            )
        except InvestError as e:
            self.post_message(BacktestFailed(str(e)))
            return
        except Exception as e:  # show any failure in the screen instead of crashing the TUI
            self.post_message(BacktestFailed(f"{type(e).__name__}: {e}"))
            return
        header, rows = summary(result)
        days, series = curves(result)
        self.post_message(BacktestFinished(result, worker.is_cancelled, header, rows, days, series))

    def on_backtest_progress(self, message: BacktestProgress) -> None:
        """Move the bar."""
        self.query_one("#bt-progress", ProgressBar).update(
            total=max(message.total, 1), progress=message.done
        )

    def on_backtest_failed(self, message: BacktestFailed) -> None:
        """Say why."""
        self._status(f"failed: {message.error}", error=True)
        self.notify(message.error, title="Backtest", severity="error")
        self._buttons()

    def on_backtest_finished(self, message: BacktestFinished) -> None:
        """Show metrics and chart; propose a results folder."""
        from ..data.backtest import default_out

        r = self.result = message.result
        fill(self.query_one("#bt-metrics", DataTable), message.header, message.rows)
        self.query_one(EquityChart).show(f"{r.account} vs benchmarks", message.days, message.series)
        span = f"{r.days[0]} .. {r.days[-1]}" if r.days else "no sessions"
        state = "CANCELLED, partial result" if message.cancelled else "done"
        self._status(f"{state}: {r.account}, {len(r.days)} sessions {span}")
        self.query_one("#bt-out", Input).value = str(default_out(self.app.paths, r, self.app.now()))
        self._buttons()

    # -- save ------------------------------------------------------------------------------
    def action_save(self) -> None:
        """Write the four result files (in a worker)."""
        if self.result is None:
            return
        out = self.query_one("#bt-out", Input).value.strip()
        if not out:
            self.notify("Give a results folder.", severity="warning")
            return
        self.write(self.result, Path(out).expanduser())

    @work(thread=True, group="backtest-save")
    def write(self, result: Any, out: Path) -> None:
        """write_outputs (thread: file I/O)."""
        from ..data.backtest import save

        try:
            self.post_message(BacktestSaved(save(result, out)))
        except OSError as e:
            self.post_message(BacktestFailed(f"cannot write {out}: {e}"))

    def on_backtest_saved(self, message: BacktestSaved) -> None:
        """Say where; the report.html saved is the one ``r`` opens."""
        where = message.files[0].parent if message.files else "?"
        pages = [p for p in message.files if p.name == "report.html"]
        if pages:
            self.last_saved = pages[0]
        self._status(f"saved {len(message.files)} files in {where}")
        self.notify(f"Saved in {where}", title="Backtest")

    # -- the last report ------------------------------------------------------------------
    def action_open_report(self) -> None:
        """Show the last report.html's path; open it on a desktop, else say the web address.

        The last one saved here, else the newest under INVEST_HOME/reports/backtests
        (``invest backtest`` writes there by default).
        """
        import os
        import webbrowser

        from ..data.backtest import last_report, open_report

        report = self.last_saved or last_report(self.app.paths)
        if report is None:
            self.notify(
                "No report yet: run a backtest and save it (ctrl+o), or run `invest backtest`.",
                title="Report",
                severity="warning",
            )
            return
        line = open_report(self.app.paths, report, os.environ, webbrowser.open)
        self._status(line)
        self.notify(line, title="Report", timeout=15)

    # -- widgets ---------------------------------------------------------------------------
    @on(Button.Pressed, "#bt-run")
    def _run_pressed(self) -> None:
        self.action_run()

    @on(Button.Pressed, "#bt-cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    @on(Button.Pressed, "#bt-save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#bt-report")
    def _report_pressed(self) -> None:
        self.action_open_report()

    @on(Input.Submitted, "#bt-start, #bt-end, #bt-csv")
    def _submitted(self) -> None:
        self.action_run()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Keep the buttons and keys in step with the worker."""
        if event.worker is self.worker:
            self._buttons()

    def _buttons(self) -> None:
        running = self.worker is not None and self.worker.is_running
        self.query_one("#bt-run", Button).disabled = running
        self.query_one("#bt-cancel", Button).disabled = not running
        self.query_one("#bt-save", Button).disabled = running or self.result is None
        self.refresh_bindings()

    def _status(self, text: str, error: bool = False) -> None:
        self.query_one("#bt-status", Label).update(Text(text, style="red" if error else ""))
