"""Where the backtest screen's ``r`` sends the user: the last report, a browser or a URL."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from invest.runtime.paths import Paths
from invest.tui.data.backtest import last_report, open_report, remote_session, web_url

DESKTOP = {"DISPLAY": ":0"}


def _report(paths: Paths, folder: str, mtime: float) -> Path:
    path = paths.reports / "backtests" / folder / "report.html"
    path.parent.mkdir(parents=True)
    path.write_text("<html></html>")
    os.utime(path, (mtime, mtime))
    return path


def test_the_last_report_is_the_newest_backtest_page(paths: Paths) -> None:
    assert last_report(paths) is None
    now = time.time()
    _report(paths, "a-20240101-000000", now - 100)
    newest = _report(paths, "b-20230101-000000", now)  # newer by time, not by name
    (paths.reports / "backtests" / "c-20250101-000000").mkdir()  # no report.html in it
    assert last_report(paths) == newest


@pytest.mark.parametrize(
    ("environ", "platform", "why"),
    [
        ({"SSH_CONNECTION": "1 2 3 4", "DISPLAY": ":0"}, "linux", "SSH"),
        ({"INVEST_ACTOR": "web (session 0a1b from ::1)", "DISPLAY": ":0"}, "linux", "invest web"),
        ({}, "linux", "headless"),
        ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", None),
        (DESKTOP, "linux", None),
        ({}, "darwin", None),
        ({"INVEST_ACTOR": "tui"}, "win32", None),
    ],
)
def test_a_browser_here_is_the_user_s_only_on_a_desktop(
    environ: dict[str, str], platform: str, why: str | None
) -> None:
    assert remote_session(environ, platform) == why


def test_on_a_desktop_the_report_is_opened(paths: Paths) -> None:
    report = _report(paths, "a-20240101-000000", time.time())
    opened: list[str] = []
    line = open_report(paths, report, DESKTOP, lambda u: opened.append(u) or True, "linux")
    assert opened == [report.as_uri()]
    assert line == f"opened {report}"


def test_when_the_browser_fails_the_web_address_is_given(paths: Paths) -> None:
    report = _report(paths, "a b-20240101-000000", time.time())
    line = open_report(paths, report, DESKTOP, lambda _u: False, "linux")
    assert line.startswith(f"{report}: no browser here; open http://127.0.0.1:8000/reports/")
    assert "backtests/a%20b-20240101-000000/report.html" in line


def test_over_ssh_nothing_is_opened_and_the_address_is_given(paths: Paths) -> None:
    report = _report(paths, "a-20240101-000000", time.time())
    opened: list[str] = []
    env = {"SSH_CONNECTION": "10.0.0.2 5 10.0.0.1 22", **DESKTOP}
    line = open_report(paths, report, env, lambda u: opened.append(u) or True, "linux")
    assert opened == []
    assert line == (
        f"{report}: in this SSH session, open "
        "http://127.0.0.1:8000/reports/backtests/a-20240101-000000/report.html through "
        "`invest web` (over SSH: ssh -L 8000:127.0.0.1:8000)"
    )


def test_a_report_outside_the_reports_folder_has_no_web_address(
    paths: Paths, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "mine" / "report.html"
    elsewhere.parent.mkdir()
    elsewhere.write_text("<html></html>")
    assert web_url(paths, elsewhere) is None
    line = open_report(paths, elsewhere, {"SSH_CONNECTION": "x"}, lambda _u: True, "linux")
    assert "copy it to your computer" in line
    assert "http://" not in line
