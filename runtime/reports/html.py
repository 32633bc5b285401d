"""One self-contained HTML page: inline CSS, inline SVG charts, tables; no external URL.

The page opens from the appliance's disk or through ``invest web`` with no request
off the box: no script, no stylesheet link, no web font, no image URL. Each chart
is ``<figure class="chart" data-chart="NAME">`` holding one inline ``<svg>`` (the
contract the browser test checks). Every text goes through :func:`html.escape`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from html import escape
from pathlib import Path

from invest.runtime.paths import PRIVATE_MODE

#: The page's whole style sheet: system fonts only, readable on a phone and a desktop.
CSS = """
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: #222; background: #fafafa; margin: 0; }
main { max-width: 1100px; margin: 0 auto; padding: 16px; }
h1 { font-size: 22px; margin: 8px 0 2px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
p.sub { color: #666; margin: 0 0 12px; }
figure.chart { margin: 8px 0 16px; background: #fff; border: 1px solid #e5e5e5;
               border-radius: 4px; padding: 6px; }
figure.chart svg { width: 100%; height: auto; display: block; }
figcaption { color: #666; font-size: 12px; padding: 4px 2px 0; }
.scroll { overflow-x: auto; }
.scroll.tall { max-height: 640px; overflow-y: auto; }
table { border-collapse: collapse; background: #fff; font-variant-numeric: tabular-nums;
        font-size: 13px; margin: 4px 0 12px; }
th, td { border: 1px solid #e2e2e2; padding: 3px 8px; text-align: right; white-space: nowrap; }
th { background: #f0f0f0; position: sticky; top: 0; }
td:first-child, th:first-child { text-align: left; }
td.text { text-align: left; white-space: normal; }
pre { background: #fff; border: 1px solid #e5e5e5; padding: 8px; overflow-x: auto;
      font-size: 12px; white-space: pre-wrap; }
ul.notes li { margin: 4px 0; }
"""


def chart(name: str, svg: str, caption: str = "") -> str:
    """One chart: a figure named ``name`` around an inline SVG (from ``charts.figure_svg``)."""
    if not svg.lstrip().startswith("<svg"):
        raise ValueError(f"chart {name!r}: expected an inline <svg> element")
    cap = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
    return f'<figure class="chart" data-chart="{escape(name)}">{svg}{cap}</figure>'


def table(
    name: str,
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    styles: Sequence[Sequence[str]] | None = None,
    text_columns: Sequence[int] = (),
    scroll: bool = False,
) -> str:
    """A table named ``name`` (``data-table``); ``styles`` gives cells an inline style.

    ``text_columns`` are left-aligned and may wrap (reasons, explanations); ``scroll``
    keeps a long table in a box of its own height (the trade list).
    """
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        cells = []
        for j, cell in enumerate(row):
            style = styles[i][j] if styles is not None else ""
            attrs = (' class="text"' if j in text_columns else "") + (
                f' style="{escape(style)}"' if style else ""
            )
            cells.append(f"<td{attrs}>{escape(cell)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<div class="{"scroll tall" if scroll else "scroll"}"><table data-table="{escape(name)}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def section(title: str, *parts: str, name: str = "") -> str:
    """A titled section of already-built parts (charts, tables, text)."""
    attr = f' data-section="{escape(name)}"' if name else ""
    return f"<section{attr}><h2>{escape(title)}</h2>{''.join(parts)}</section>"


def paragraph(text: str) -> str:
    """A paragraph of plain text."""
    return f"<p>{escape(text)}</p>"


def preformatted(text: str) -> str:
    """Text kept as written (explanation records)."""
    return f"<pre>{escape(text)}</pre>"


def bullet_list(items: Sequence[str], cls: str = "") -> str:
    """A list of plain-text items."""
    attr = f' class="{escape(cls)}"' if cls else ""
    return f"<ul{attr}>" + "".join(f"<li>{escape(x)}</li>" for x in items) + "</ul>"


def page(title: str, subtitle: str, sections: Sequence[str]) -> str:
    """The whole document: one file, UTF-8, inline CSS, nothing fetched."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head>"
        f'<body><main><h1>{escape(title)}</h1><p class="sub">{escape(subtitle)}</p>'
        f"{''.join(sections)}</main></body></html>\n"
    )


def notes_section(notes: Sequence[str]) -> str:
    """The "Notes" section every report ends with (survivorship, in-sample years, ...)."""
    body = bullet_list(notes, "notes") if notes else paragraph("None.")
    return section("Notes", body, name="notes")


def write_file(path: Path, data: str | bytes) -> Path:
    """``data`` into ``path`` through a temp file and a rename, mode 0640; returns ``path``.

    A reader (``invest web``) never sees half a page, and a report names accounts and
    positions, so it is kept like the ledger. The folder is created if missing.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
        tmp.chmod(PRIVATE_MODE)
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return path
