"""DataTable helpers: update rows in place so a refresh never flickers or loses the cursor.

Column widths are set here from the content instead of being measured by the
DataTable when it is idle. Textual 8.2.8 caches rendered lines under a counter
that its idle-time measuring does not advance, so a line drawn between an update
and that measuring kept the old, narrower columns (seen as truncated cells in
snapshots). Fixed widths that only grow also keep live refreshes from jittering.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey


def set_columns(table: DataTable[Any], columns: Sequence[tuple[str, str]]) -> None:
    """Add ``(key, label)`` columns once."""
    if not table.columns:
        for key, label in columns:
            table.add_column(label, key=key)


def _cell(value: Any) -> Any:
    # Plain strings become Text so that brackets in reasons are never read as markup.
    return Text(value) if isinstance(value, str) else value


def _width(value: Any) -> int:
    if isinstance(value, Text):
        return max((cell_len(line) for line in value.plain.splitlines()), default=0)
    return cell_len(str(value))


def _fit(table: DataTable[Any], rows: Sequence[tuple[str, Sequence[Any]]]) -> None:
    """Widen columns to fit ``rows`` (they never shrink, so a refresh does not jitter)."""
    for i, column in enumerate(table.ordered_columns):
        need = max([_width(column.label), *(_width(c[i]) for _, c in rows if i < len(c))])
        if column.auto_width:
            column.auto_width, column.width = False, need
        elif need > column.width:
            column.width = need


def sync_rows(table: DataTable[Any], rows: Sequence[tuple[str, Sequence[Any]]]) -> None:
    """Make ``table`` hold exactly ``rows`` (keyed), changing only the cells that differ.

    New keys are added at the end; the caller sorts when order matters.
    """
    prepared = [(key, [_cell(v) for v in cells]) for key, cells in rows]
    _fit(table, prepared)
    wanted = {key for key, _ in prepared}
    for gone in [k for k in table.rows if k.value not in wanted]:
        table.remove_row(gone)
    present = {k.value for k in table.rows}
    columns = list(table.columns)
    for key, cells in prepared:
        if key not in present:
            table.add_row(*cells, key=key)
            continue
        for col, value in zip(columns, cells, strict=False):
            if table.get_cell(key, col) != value:
                table.update_cell(key, col, value, update_width=True)


def fill(table: DataTable[Any], header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Replace columns and rows at once (for tables that are redrawn whole)."""
    table.clear(columns=True)
    set_columns(table, [(f"c{i}", h) for i, h in enumerate(header)])
    sync_rows(table, [(str(i), row) for i, row in enumerate(rows)])


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return value.plain if isinstance(value, Text) else value


def sort_rows(table: DataTable[Any], *columns: str, reverse: bool = False) -> None:
    """Sort by the text of ``columns`` (cells may be styled Text)."""
    table.sort(*columns, key=_plain, reverse=reverse)


def current_key(table: DataTable[Any]) -> str | None:
    """Key of the row under the cursor, or None for an empty table."""
    if not table.row_count:
        return None
    try:
        key: RowKey = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
    except Exception:  # the cursor can point past the end while rows are replaced
        return None
    return key.value
