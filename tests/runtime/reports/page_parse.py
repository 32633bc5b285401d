"""A report page read back with the standard library's HTML parser: tables, charts, URLs."""

from __future__ import annotations

import re
from html.parser import HTMLParser

#: A CSS reference to something: url(...) or @import.
CSS_REF = re.compile(r"url\(\s*['\"]?([^'\")]*)|@import\s+(?:url\()?['\"]?([^'\";)\s]+)", re.I)
#: Attributes that make a browser fetch or navigate.
URL_ATTRS = {"src", "href", "xlink:href", "action", "data", "poster", "srcset", "background"}


class Page(HTMLParser):
    """Everything the tests check, collected in one pass."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[list[str]]] = {}
        #: data-chart name -> the (width, height) attributes of each <svg> directly inside.
        self.charts: dict[str, list[tuple[str, str]]] = {}
        #: every URL the page refers to: attributes, CSS url() and @import.
        self.refs: list[str] = []
        self.scripts = 0
        self.charset: str | None = None
        self.text: list[str] = []
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._chart: str | None = None
        self._depth = 0
        self._style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.refs += [v for k, v in a.items() if k in URL_ATTRS]
        if "style" in a:
            self.refs += [m.group(1) or m.group(2) for m in CSS_REF.finditer(a["style"])]
        if tag == "script":
            self.scripts += 1
        elif tag == "meta" and "charset" in a:
            self.charset = a["charset"]
        elif tag == "style":
            self._style = True
        elif tag == "table":
            self._table = a.get("data-table", "")
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "figure" and a.get("class") == "chart":
            self._chart = a["data-chart"]
            self.charts[self._chart] = []
            self._depth = 0
        elif tag == "svg" and self._chart is not None:
            if self._depth == 0:
                self.charts[self._chart].append((a.get("width", ""), a.get("height", "")))
            self._depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None
        elif tag == "svg" and self._chart is not None:
            self._depth -= 1
        elif tag == "figure":
            self._chart = None
        elif tag == "style":
            self._style = False

    def handle_data(self, data: str) -> None:
        if self._style:
            self.refs += [m.group(1) or m.group(2) for m in CSS_REF.finditer(data)]
        if self._cell is not None:
            self._cell.append(data)
        self.text.append(data)


def parse(page: str) -> Page:
    """The page read back."""
    p = Page()
    p.feed(page)
    p.close()
    return p


def external(ref: str) -> bool:
    """True for a reference that leaves the page: anything but a fragment (#id) or data: URI."""
    ref = ref.strip()
    return not (ref.startswith("#") or ref.lower().startswith("data:"))
