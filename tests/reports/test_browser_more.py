"""The robustness report and a model pack's report in a real headless chromium, offline.

Each page is made the way a user makes it (`invest robustness` with 20 paths over one
year; `invest models show default --html`), opened from disk with no network, and
screenshotted into :func:`~tests.browser_support.artifact_dir`.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path

import pytest

from invest.runtime.cli import main
from tests.browser_support import artifact_dir, chromium, external_urls, render

pytestmark = [
    pytest.mark.xdist_group("browser"),
    pytest.mark.skipif(
        chromium() is None and not os.environ.get("INVEST_REQUIRE_CHROMIUM"),
        reason="chromium is not installed (.ci/run installs it with apt-get)",
    ),
]

ROBUSTNESS_CHARTS = {"mc-fan", "mc-histograms", "bootstrap-histograms", "stress"} | {
    f"crisis-{i}" for i in range(4)
}


def _quiet(args: list[str]) -> int:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return main(args)


@pytest.fixture(scope="module")
def robustness_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rob") / "rob"
    window = ["--start", "2021-01-04", "--end", "2021-12-31"]
    args = ["robustness", "--strategy", "trend_king", *window, "--paths", "20", "--workers", "1"]
    assert _quiet([*args, "--out", str(out)]) == 0
    return out / "report.html"


@pytest.fixture(scope="module")
def pack_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pack") / "report.html"
    assert _quiet(["models", "show", "default", "--html", "--out", str(out)]) == 0
    return out


def test_the_robustness_report_renders_in_chromium_offline(robustness_page: Path) -> None:
    assert external_urls(robustness_page.read_text(encoding="utf-8")) == []
    result = render(robustness_page, artifact_dir() / "robustness.png")
    assert set(result.charts) == ROBUSTNESS_CHARTS
    assert len(result.charts) == len(ROBUSTNESS_CHARTS)
    assert result.problems() == []
    assert result.requests == ()
    assert result.screenshot.stat().st_size > 0


def test_the_pack_report_renders_in_chromium_offline(pack_page: Path) -> None:
    assert external_urls(pack_page.read_text(encoding="utf-8")) == []
    result = render(pack_page, artifact_dir() / "pack-default.png")
    assert result.charts == ("walk-forward",)
    assert result.problems() == []
    assert result.requests == ()
    assert result.screenshot.stat().st_size > 0


def test_an_emptied_fan_is_caught_in_the_robustness_report(
    robustness_page: Path, tmp_path: Path
) -> None:
    """The check reads this page's markup too: the fan, emptied, is named."""
    html = robustness_page.read_text(encoding="utf-8")
    fan = re.compile(r'(<figure class="chart" data-chart="mc-fan"><svg\b[^>]*>).*?(</svg>)', re.S)
    assert fan.search(html) is not None
    broken = tmp_path / "report.html"
    broken.write_text(fan.sub(r"\1\2", html, count=1), encoding="utf-8")
    result = render(broken, tmp_path / "broken.png")
    assert result.unrendered == ("mc-fan (nothing drawn in the svg)",)
