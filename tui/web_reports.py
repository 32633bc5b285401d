"""The reports of ``INVEST_HOME/reports`` behind ``invest web``'s login: a listing and the files.

``GET /reports`` lists every ``*.html`` under the folder (the engine's daily pages in
``daily/<day>/``, the backtests' ``report.html`` in ``backtests/<account>-<time>/``),
newest first; ``GET /reports/<relative path>`` serves one of them, or a PNG beside it.
The guard in :mod:`invest.tui.web_server` asks for a session first.

A path is served only when, once every symlink is resolved, it is a regular file
inside the folder with an allowed suffix: ``..``, an absolute path, a backslash or a
symlink that leads out are all refused (404, saying nothing of what exists
elsewhere). Pages go out as ``text/html; charset=utf-8`` with :data:`REPORT_CSP`,
which forbids every request (no script, no fetch, no image but ``data:``): a
report page is one self-contained file, so it loses nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path, PurePosixPath

from aiohttp import web

from invest.runtime.reports import html

#: The policy of a served report: nothing may be fetched, only inline styles and data: images.
REPORT_CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
#: What may be served, and as what.
TYPES = {".html": ("text/html", "utf-8"), ".png": ("image/png", None)}
#: Pages the listing shows (the newest); older ones are still served by their path.
LISTED = 1000


@dataclass(frozen=True)
class Listed:
    """One report of the listing: its path under the folder, when it was written, its size."""

    path: str
    modified: datetime
    size: int


def resolve(root: Path, relative: str) -> Path | None:
    """The file ``relative`` names inside ``root``, or None when it must not be served."""
    if not relative or "\\" in relative or "\x00" in relative:
        return None
    rel = PurePosixPath(relative)
    if rel.is_absolute() or any(part in ("..", ".", "") for part in rel.parts):
        return None
    if rel.suffix not in TYPES:
        return None
    try:
        base = root.resolve(strict=True)
        target = (base / rel).resolve(strict=True)
    except (OSError, RuntimeError):  # missing, or a symlink loop
        return None
    if not target.is_relative_to(base) or not target.is_file():
        return None
    if target.suffix not in TYPES:  # a link named .html to something else
        return None
    return target


def listing(root: Path, limit: int = LISTED) -> list[Listed]:
    """Every servable page under ``root``, newest first (symlinks to folders are not walked)."""
    if not root.is_dir():
        return []
    found: list[Listed] = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if not name.endswith(".html") or name.startswith("."):
                continue
            rel = Path(folder, name).relative_to(root).as_posix()
            path = resolve(root, rel)
            if path is None:
                continue
            st = path.stat()
            found.append(Listed(rel, datetime.fromtimestamp(st.st_mtime, UTC), st.st_size))
    found.sort(key=lambda x: (x.modified, x.path), reverse=True)
    return found[:limit]


def listing_page(root: Path) -> str:
    """The listing as one page in the reports' style (``reports.html.page``)."""
    rows = listing(root)
    if rows:
        items = "".join(
            f'<tr><td><a href="/reports/{escape(r.path, quote=True)}">{escape(r.path)}</a></td>'
            f"<td>{r.modified:%Y-%m-%d %H:%M} UTC</td><td>{r.size / 1024:,.0f} KiB</td></tr>"
            for r in rows
        )
        body = (
            '<div class="scroll"><table data-table="reports"><thead><tr><th>Report</th>'
            f"<th>Written</th><th>Size</th></tr></thead><tbody>{items}</tbody></table></div>"
        )
    else:
        body = html.paragraph(
            "No report yet: the engine writes daily/<day>/<account>.html after each daily "
            "report, and `invest backtest` writes backtests/<account>-<time>/report.html."
        )
    return html.page("Reports", str(root), [html.section(f"{len(rows)} reports", body)])


def _headers() -> dict[str, str]:
    return {"Cache-Control": "no-store", "Content-Security-Policy": REPORT_CSP}


class ReportRoutes:
    """The two routes over one folder (``Paths.reports``)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def add_to(self, app: web.Application) -> None:
        """Register ``/reports`` and ``/reports/{path}``."""
        app.router.add_get("/reports", self.handle_listing, name="reports")
        app.router.add_get("/reports/{path:.+}", self.handle_file, name="report")

    async def handle_listing(self, _request: web.Request) -> web.Response:
        """``GET /reports``: the listing."""
        return web.Response(
            text=listing_page(self.root),
            content_type="text/html",
            charset="utf-8",
            headers=_headers(),
        )

    async def handle_file(self, request: web.Request) -> web.Response:
        """``GET /reports/<path>``: one report, or 404."""
        path = resolve(self.root, request.match_info["path"])
        if path is None:
            raise web.HTTPNotFound(text="no such report")
        content_type, charset = TYPES[path.suffix]
        return web.Response(
            body=path.read_bytes(),
            content_type=content_type,
            charset=charset,
            headers=_headers(),
        )
