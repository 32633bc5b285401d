"""``invest web`` lists and serves INVEST_HOME/reports behind its login, and nothing outside it."""

from __future__ import annotations

from pathlib import Path

import pytest
from yarl import URL

from invest.runtime.paths import Paths
from invest.tui import web
from invest.tui.web_reports import REPORT_CSP, listing, resolve
from invest.tui.web_server import COOKIE

from .test_web import TOKEN, _client, _Server, make_server, run, serving, session_cookie

SECRET = "the ledger's secret"  # noqa: S105 - a marker that must never be served
PAGE = "<!DOCTYPE html><html><body><h1>alpha: daily report</h1></body></html>\n"


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    """A reports folder with a daily page, its PNG and a backtest; a secret beside it; links out."""
    root = tmp_path / "home" / "reports"
    day = root / "daily" / "2024-03-10"
    day.mkdir(parents=True)
    (day / "alpha.html").write_text(PAGE, encoding="utf-8")
    (day / "alpha.png").write_bytes(b"\x89PNG\r\n\x1a\nfake")
    bt = root / "backtests" / "alpha-20240310-120000"
    bt.mkdir(parents=True)
    (bt / "report.html").write_text("<html>backtest</html>", encoding="utf-8")
    (bt / "equity.csv").write_text("day,equity\n")
    outside = tmp_path / "home"
    (outside / "secret.html").write_text(SECRET)
    (outside / "ledger.sqlite").write_text(SECRET)
    (outside / "private").mkdir()
    (outside / "private" / "x.html").write_text(SECRET)
    (root / "link.html").symlink_to(outside / "secret.html")
    (root / "dirlink").symlink_to(outside / "private")
    (root / "inside.html").symlink_to(day / "alpha.html")  # a link that stays inside: fine
    return root


def test_the_listing_has_every_page_inside_and_no_link_out(reports: Path) -> None:
    assert sorted(r.path for r in listing(reports)) == [
        "backtests/alpha-20240310-120000/report.html",
        "daily/2024-03-10/alpha.html",
        "inside.html",
    ]


@pytest.mark.parametrize(
    "relative",
    [
        "../secret.html",
        "daily/../../secret.html",
        "/etc/passwd.html",
        str(Path("/") / "tmp" / "x.html"),
        "link.html",  # a symlink out of the folder
        "dirlink/x.html",  # a folder symlinked out of it
        "daily\\..\\..\\secret.html",
        "backtests/alpha-20240310-120000/equity.csv",  # not a report
        "../ledger.sqlite",
        "daily/2024-03-10",
        "missing.html",
        "",
    ],
)
def test_resolve_refuses_what_is_not_a_report_inside_the_folder(
    reports: Path, relative: str
) -> None:
    assert resolve(reports, relative) is None


def test_resolve_finds_a_report_and_a_link_that_stays_inside(reports: Path) -> None:
    assert (
        resolve(reports, "daily/2024-03-10/alpha.html")
        == (reports / "daily/2024-03-10/alpha.html").resolve()
    )
    assert resolve(reports, "inside.html") == (reports / "daily/2024-03-10/alpha.html").resolve()


def test_without_a_session_a_report_is_the_login_form_never_the_file(
    tmp_path: Path, reports: Path
) -> None:
    async def scenario() -> None:
        async with serving(make_server(tmp_path, reports=reports)) as origin, _client() as http:
            for path in ("/reports", "/reports/daily/2024-03-10/alpha.html"):
                async with http.get(f"{origin}{path}") as r:
                    assert r.status == 401, path
                    body = await r.text()
                assert 'name="token"' in body
                assert "alpha: daily report" not in body
                assert "daily/2024-03-10" not in body
            headers = {"Cookie": f"{COOKIE}=forged"}
            async with http.get(
                f"{origin}/reports/daily/2024-03-10/alpha.png", headers=headers
            ) as r:
                assert r.status == 401
                assert b"PNG" not in await r.read()

    run(scenario)


def test_with_a_session_the_listing_links_each_report_and_serves_it_under_a_strict_csp(
    tmp_path: Path, reports: Path
) -> None:
    async def scenario() -> None:
        async with serving(make_server(tmp_path, reports=reports)) as origin, _client() as http:
            cookie = {"Cookie": f"{COOKIE}={await session_cookie(http, origin)}"}
            async with http.get(f"{origin}/reports", headers=cookie) as r:
                assert r.status == 200
                listing_html = await r.text()
                assert r.headers["Content-Security-Policy"] == REPORT_CSP
            assert 'href="/reports/daily/2024-03-10/alpha.html"' in listing_html
            assert 'href="/reports/backtests/alpha-20240310-120000/report.html"' in listing_html
            assert "secret" not in listing_html
            async with http.get(
                f"{origin}/reports/daily/2024-03-10/alpha.html", headers=cookie
            ) as r:
                assert r.status == 200
                assert r.headers["Content-Type"] == "text/html; charset=utf-8"
                csp = r.headers["Content-Security-Policy"]
                assert await r.text() == PAGE
            directives = [d.strip() for d in csp.split(";")]
            for d in ("default-src 'none'", "img-src data:", "style-src 'unsafe-inline'"):
                assert d in directives
            assert not any("self" in d or "http" in d for d in directives)
            async with http.get(
                f"{origin}/reports/daily/2024-03-10/alpha.png", headers=cookie
            ) as r:
                assert r.status == 200
                assert r.headers["Content-Type"] == "image/png"
            async with http.get(f"{origin}/", headers=cookie) as r:
                assert "connect-src 'self'" in r.headers["Content-Security-Policy"]  # the TUI's

    run(scenario)


@pytest.mark.parametrize(
    "raw",
    [
        "/reports/..%2fsecret.html",
        "/reports/%2e%2e/secret.html",
        "/reports/daily/%2e%2e/%2e%2e/secret.html",
        "/reports/%2fetc%2fpasswd",
        "/reports/link.html",
        "/reports/dirlink/x.html",
        "/reports/..%5csecret.html",
        "/reports/../ledger.sqlite",
    ],
)
def test_traversal_over_http_is_refused_with_a_session(
    tmp_path: Path, reports: Path, raw: str
) -> None:
    async def scenario() -> None:
        async with serving(make_server(tmp_path, reports=reports)) as origin, _client() as http:
            cookie = {"Cookie": f"{COOKIE}={await session_cookie(http, origin)}"}
            async with http.get(URL(origin + raw, encoded=True), headers=cookie) as r:
                body = await r.read()
                assert r.status in (403, 404), (raw, r.status)
            assert SECRET.encode() not in body

    run(scenario)


def test_a_server_without_a_reports_folder_has_no_reports_route(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with serving(make_server(tmp_path)) as origin, _client() as http:
            cookie = {"Cookie": f"{COOKIE}={await session_cookie(http, origin)}"}
            async with http.get(f"{origin}/reports", headers=cookie) as r:
                assert r.status == 404

    run(scenario)


def test_invest_web_serves_the_home_s_reports_folder(paths: Paths) -> None:
    web.main(paths, server=_Server, environ={"INVEST_WEB_TOKEN": TOKEN})
    assert _Server.made[-1]["reports"] == paths.home / "reports"


def test_the_tui_page_links_the_reports(tmp_path: Path, reports: Path) -> None:
    async def scenario() -> None:
        async with serving(make_server(tmp_path, reports=reports)) as origin, _client() as http:
            cookie = {"Cookie": f"{COOKIE}={await session_cookie(http, origin)}"}
            async with http.get(f"{origin}/", headers=cookie) as r:
                assert 'href="/reports"' in await r.text()

    run(scenario)
