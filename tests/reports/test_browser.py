"""The HTML reports in a real headless chromium (Debian's), opened from disk with no network.

First on small pages written here: one that is right, and, for each thing the browser check
must catch, the same page with that one thing wrong (so each check is seen to move). Then on
the real backtest report once ``invest.runtime.reports`` and ``tests/reports_support.py``
exist. The screenshots are kept in :func:`~tests.browser_support.artifact_dir`
(``build/test-artifacts/`` unless ``$INVEST_TEST_ARTIFACTS`` says otherwise).
"""

from __future__ import annotations

import http.server
import os
import re
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import browser_support
from tests.browser_support import BrowserError, artifact_dir, chromium, external_urls, render

pytestmark = [
    # One worker for all: each test starts a browser, and two at once on two cores only
    # slow each other down.
    pytest.mark.xdist_group("browser"),
    # Skipped where chromium is missing, except where INVEST_REQUIRE_CHROMIUM is set (.ci/run
    # sets it, having installed chromium): there a missing browser fails every test.
    pytest.mark.skipif(
        chromium() is None and not os.environ.get("INVEST_REQUIRE_CHROMIUM"),
        reason="chromium is not installed (.ci/run installs it with apt-get)",
    ),
]

#: Two small charts as a report draws them: an inline svg with something drawn in it.
CHART = (
    '<figure class="chart" data-chart="{name}">'
    '<svg xmlns="http://www.w3.org/2000/svg" width="480" height="240" viewBox="0 0 480 240">'
    '<polyline points="0,200 120,150 240,170 360,60 480,90" fill="none" stroke="#1f5f8b"/>'
    '<text x="10" y="20">{name}</text></svg></figure>'
)
GOOD_BODY = CHART.format(name="equity") + CHART.format(name="drawdown")


def page(tmp_path: Path, body: str, head: str = "") -> Path:
    """A one-file page with ``body``, written to ``tmp_path``."""
    path = tmp_path / "report.html"
    path.write_text(
        f'<!doctype html><html><head><meta charset="utf-8"><title>t</title>{head}</head>'
        f"<body><h1>Backtest</h1>{body}</body></html>",
        encoding="utf-8",
    )
    return path


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_a_page_with_two_charts_renders_both_offline_and_is_screenshotted(
    tmp_path: Path,
) -> None:
    shot = artifact_dir() / "browser-fixture.png"
    shot.unlink(missing_ok=True)
    result = render(page(tmp_path, GOOD_BODY), shot)
    assert result.charts == ("equity", "drawdown")
    assert result.problems() == []
    assert result.requests == ()
    assert png_size(shot)[0] == 1280  # the viewport's width


@pytest.mark.parametrize(
    ("chart", "why"),
    [
        ('<svg xmlns="http://www.w3.org/2000/svg"></svg>', "nothing drawn in the svg"),
        (
            '<svg xmlns="http://www.w3.org/2000/svg" width="0" height="0">'
            '<rect width="5" height="5"/></svg>',
            "svg box 0x0",
        ),
        ("<p>chart failed</p>", "no svg"),
    ],
    ids=["empty-svg", "zero-size-svg", "no-svg"],
)
def test_a_chart_that_did_not_render_is_named(tmp_path: Path, chart: str, why: str) -> None:
    body = (
        CHART.format(name="equity") + f'<figure class="chart" data-chart="broken">{chart}</figure>'
    )
    result = render(page(tmp_path, body), tmp_path / "shot.png")
    assert result.charts == ("equity", "broken")
    assert result.unrendered == (f"broken ({why})",)
    assert result.problems() == [f"chart did not render: broken ({why})"]


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("console.error('the chart data is missing')", "the chart data is missing"),
        ("drawChart()", "ReferenceError: drawChart is not defined"),
    ],
    ids=["console-error", "uncaught-exception"],
)
def test_a_console_error_is_caught(tmp_path: Path, script: str, expected: str) -> None:
    result = render(page(tmp_path, GOOD_BODY + f"<script>{script}</script>"), tmp_path / "s.png")
    assert result.unrendered == ()
    assert len(result.console_errors) == 1
    assert result.console_errors[0].startswith(expected)
    assert result.problems() != []


def test_an_external_image_is_caught_by_the_browser_and_by_the_parser(tmp_path: Path) -> None:
    path = page(tmp_path, GOOD_BODY + '<img src="http://example.com/x.png" alt="logo">')
    result = render(path, tmp_path / "s.png")
    assert result.off_box_requests == ("http://example.com/x.png",)
    assert result.failed_requests[0].startswith("http://example.com/x.png: net::ERR_")
    assert "request off the box: http://example.com/x.png" in result.problems()
    assert external_urls(path.read_text(encoding="utf-8")) == ["http://example.com/x.png"]


def test_a_missing_page_or_browser_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(BrowserError, match=r"no page to open at .*nope\.html: write the report"):
        render(tmp_path / "nope.html", tmp_path / "s.png")
    monkeypatch.setattr(browser_support, "chromium", lambda: None)
    with pytest.raises(BrowserError, match="chromium is not installed: apt-get install chromium"):
        render(page(tmp_path, GOOD_BODY), tmp_path / "s.png")
    assert not (tmp_path / "s.png").exists()


@pytest.fixture
def loopback_server() -> Iterator[tuple[str, list[str]]]:
    """An HTTP server on loopback and the paths it was asked for."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/svg+xml")
            self.end_headers()
            self.wfile.write(b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>')

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()


def test_the_browser_has_no_network_not_even_loopback(
    tmp_path: Path, loopback_server: tuple[str, list[str]]
) -> None:
    url, hits = loopback_server
    body = GOOD_BODY + f'<img src="{url}/logo.svg" alt="logo">'
    result = render(page(tmp_path, body), tmp_path / "s.png")
    assert hits == []  # the request never left the browser
    assert result.off_box_requests == (f"{url}/logo.svg",)
    assert len(result.failed_requests) == 1


def test_the_screenshot_is_of_the_whole_page(tmp_path: Path) -> None:
    tall = GOOD_BODY + '<div style="height: 3000px"></div><p>end of the report</p>'
    short = render(page(tmp_path, GOOD_BODY), tmp_path / "short.png")
    long = render(page(tmp_path, tall), tmp_path / "tall.png")
    assert png_size(long.screenshot)[1] > 3000
    assert png_size(long.screenshot)[1] > png_size(short.screenshot)[1] + 2500
    top = render(page(tmp_path, tall), tmp_path / "top.png", max_height=1000)
    assert png_size(top.screenshot) == (1280, 1000)


@pytest.mark.parametrize(
    "html",
    [
        '<script src="https://cdn.example.com/plot.js"></script>',
        '<link rel="stylesheet" href="//fonts.example.com/css">',
        '<img srcset="chart.png 1x, https://example.com/chart@2x.png 2x">',
        '<div style="background: url(&quot;http://example.com/bg.png&quot;)"></div>',
        "<style>@import 'https://example.com/a.css'; body {}</style>",
        "<style>h1 { background: url(https://example.com/h.png) }</style>",
        '<a href="https://example.com/">docs</a>',
    ],
    ids=["script", "link", "srcset", "inline-style", "import", "style-url", "anchor"],
)
def test_the_parser_finds_each_kind_of_external_url(html: str) -> None:
    good = '<a href="#trades">trades</a><img src="data:image/png;base64,AAAA">' + GOOD_BODY
    assert external_urls(good) == []  # svg namespaces, fragments and data: are not fetched
    found = external_urls(good + html)
    assert len(found) >= 1
    assert all("example.com" in url or url == "chart.png" for url in found)


@pytest.fixture(scope="module")
def backtest_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real report.html of the shared sample backtest (tests/reports_support.py)."""
    pytest.importorskip("invest.runtime.reports", reason="runtime/reports/ has not landed yet")
    support = pytest.importorskip(
        "tests.reports_support", reason="tests/reports_support.py (sample_report) has not landed"
    )
    report = Path(support.sample_report(tmp_path_factory.mktemp("report")))
    return report / "report.html" if report.is_dir() else report


def test_the_backtest_report_renders_in_chromium_offline(backtest_report: Path) -> None:
    html = backtest_report.read_text(encoding="utf-8")
    assert '<meta charset="utf-8">' in html.lower()
    assert external_urls(html) == []
    result = render(backtest_report, artifact_dir() / "report.png")
    assert len(result.charts) >= 5, result.charts  # equity, drawdown, yearly, rolling, exposure
    assert len(set(result.charts)) == len(result.charts), "two charts share a data-chart name"
    assert result.problems() == []
    assert result.requests == ()


def test_a_chart_emptied_out_of_the_real_report_is_caught(
    backtest_report: Path, tmp_path: Path
) -> None:
    """The check reads the real report's markup too: its first chart, emptied, is named."""
    html = backtest_report.read_text(encoding="utf-8")
    chart = re.compile(
        r'(<figure class="chart" data-chart="([^"]+)"[^>]*>.*?<svg\b[^>]*>).*?(</svg>)', re.DOTALL
    )
    match = chart.search(html)
    assert match is not None, "no <figure class=chart> with an <svg> in the report"
    broken = tmp_path / "report.html"
    broken.write_text(chart.sub(r"\1\3", html, count=1), encoding="utf-8")
    result = render(broken, tmp_path / "broken.png")
    assert result.unrendered == (f"{match.group(2)} (nothing drawn in the svg)",)
