"""Model packs: installed and bundled, their manifests, checks and walk-forward results."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Label, Static

from ..data.models import PackInfo
from ..messages import PacksLoaded, PackVerified
from ..widgets.footer import KeysFooter
from ..widgets.status import EngineBar
from ..widgets.tables import current_key, fill, set_columns, sync_rows

if TYPE_CHECKING:
    from textual import getters

    from ..app import InvestApp

COLUMNS = (
    ("name", "Pack"),
    ("where", "Where"),
    ("policies", "Policies"),
    ("spec", "Spec"),
    ("created", "Created"),
    ("status", "Status"),
)


class ModelsScreen(Screen[None]):
    """Packs on the left, the selected one's manifest and walk-forward table on the right."""

    if TYPE_CHECKING:
        app = getters.app(InvestApp)

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("v", "verify", "Verify (ONNX)"),
        Binding("ctrl+r", "reload", "Reload"),
    ]
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]  # noqa: RUF012 - Textual reads it as declared on Screen

    def __init__(self) -> None:
        super().__init__()
        self.packs: dict[str, PackInfo] = {}
        self.verified: set[str] = set()

    def compose(self) -> ComposeResult:
        """Pack table, detail panel."""
        yield EngineBar("Invest · Models")
        with Horizontal(id="models-body"):
            yield DataTable(id="packs", cursor_type="row")
            with VerticalScroll(id="pack-detail"):
                yield Static(id="pack-summary")
                yield Label("Walk-forward", classes="section")
                yield DataTable(id="walk-forward", cursor_type="row", show_cursor=False)
        yield KeysFooter()

    def on_mount(self) -> None:
        """List the packs."""
        set_columns(self.query_one("#packs", DataTable), COLUMNS)
        self.query_one("#packs", DataTable).focus()
        self.action_reload()

    def action_reload(self) -> None:
        """Find the packs again."""
        self.query_one("#pack-summary", Static).update(Text("Reading model packs…", style="dim"))
        self.load()

    @work(thread=True, exclusive=True, group="models")
    def load(self) -> None:
        """Read manifests and checksums (thread: files; no onnxruntime yet)."""
        from ..data.models import list_packs

        self.post_message(PacksLoaded(list_packs(self.app.paths)))

    def on_packs_loaded(self, message: PacksLoaded) -> None:
        """Show the packs."""
        self.packs = {str(p.path): p for p in message.packs}
        self._rows()
        if not self.packs:
            self.query_one("#pack-summary", Static).update(
                Text(f"No model packs in {self.app.paths.packs} or bundled.", style="dim")
            )
        else:
            self._detail()

    def _rows(self) -> None:
        rows = []
        for key, p in self.packs.items():
            status = "ok" if p.ok else "REFUSED"
            if key in self.verified and p.ok:
                status = "ok, ONNX verified"
            rows.append(
                (
                    key,
                    (
                        p.name,
                        p.where,
                        str(p.policies or "-"),
                        p.spec,
                        p.created,
                        Text(status, style="green" if p.ok else "bold red"),
                    ),
                )
            )
        sync_rows(self.query_one("#packs", DataTable), rows)

    @on(DataTable.RowHighlighted, "#packs")
    def _detail(self) -> None:
        key = current_key(self.query_one("#packs", DataTable))
        p = self.packs.get(key or "")
        if p is None:
            return
        text = Text()
        text.append(f"{p.name}", style="bold")
        text.append(f"  ({p.where}) {p.path}\n", style="dim")
        text.append("status: ")
        text.append(p.reason, style="green" if p.ok else "bold red")
        for line in p.lines:
            text.append(f"\n{line}")
        self.query_one("#pack-summary", Static).update(text)
        fill(self.query_one("#walk-forward", DataTable), p.wf_columns, p.wf_rows)
        label = self.query_one(".section", Label)
        label.update(
            f"Walk-forward ({p.wf_metric or 'metric not named'})"
            if p.wf_columns
            else "Walk-forward: none in the manifest"
        )

    def action_verify(self) -> None:
        """Load the selected pack into onnxruntime and check its inputs and outputs."""
        key = current_key(self.query_one("#packs", DataTable))
        p = self.packs.get(key or "")
        if p is None:
            return
        self.notify(f"Verifying {p.name}…", title="Models")
        self.verify(p)

    @work(thread=True, group="models-verify")
    def verify(self, pack: PackInfo) -> None:
        """The full check (thread: onnxruntime is imported and sessions are built here)."""
        from ..data.models import pack_info

        self.post_message(PackVerified(pack_info(pack.path, pack.where, check_models=True)))

    def on_pack_verified(self, message: PackVerified) -> None:
        """Record the outcome."""
        p: PackInfo = message.info
        key = str(p.path)
        self.packs[key] = p
        if p.ok:
            self.verified.add(key)
        self._rows()
        self._detail()
        self.notify(
            f"{p.name}: {'verified' if p.ok else p.reason}",
            title="Models",
            severity="information" if p.ok else "error",
        )
