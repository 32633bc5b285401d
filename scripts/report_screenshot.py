"""Redraw the README's tearsheet screenshot, docs/images/tearsheet.png, from the code.

It runs the sample backtest the README quotes (trend_king, 1990-01-01 to 2022-12-28, on
the bundled sample data, offline) with ``invest backtest --out DIR``, then opens the
``report.html`` it wrote in headless chromium with no network (tests/browser_support.py)
and saves the top of the page: the charts and the metrics, not the whole trade list.
It refuses to save an image of a report with a chart that did not render, a console
error or a request off the box. Run from the repository root:

    .venv/bin/python scripts/report_screenshot.py [--out DIR] [--height PX]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser_support import BrowserError, render  # noqa: E402

IMAGE = ROOT / "docs" / "images" / "tearsheet.png"
BACKTEST = (
    "backtest",
    "--strategy",
    "trend_king",
    "--data",
    "sample",
    "--start",
    "1990-01-01",
    "--end",
    "2022-12-28",
)


def backtest(out: Path, home: Path) -> Path:
    """Run the sample backtest into ``out`` and return its report.html."""
    invest = Path(sys.executable).with_name("invest")
    if not invest.exists():
        sys.exit(f"no `invest` beside {sys.executable}: pip install -e . in that venv first")
    # Its own INVEST_HOME and no config file: the run does not depend on this machine's.
    env = {**os.environ, "INVEST_HOME": str(home)}
    env.pop("INVEST_CONFIG", None)
    subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
        [str(invest), *BACKTEST, "--out", str(out)], check=True, env=env, stdout=subprocess.DEVNULL
    )
    report = out / "report.html"
    if not report.is_file():
        sys.exit(f"`invest backtest` wrote no {report}: this checkout has no HTML report yet")
    return report


def main(argv: list[str] | None = None) -> None:
    """Run the backtest, screenshot its report.html, write docs/images/tearsheet.png."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="keep the backtest's files here (default: temp)")
    parser.add_argument("--height", type=int, default=2400, help="CSS pixels from the top")
    parser.add_argument("--image", type=Path, default=IMAGE, help="where to save the PNG")
    args = parser.parse_args(argv)
    if args.height <= 0:
        parser.error(f"--height must be a positive number of pixels, not {args.height}")
    with tempfile.TemporaryDirectory(prefix="invest-tearsheet-") as tmp:
        out = args.out or Path(tmp) / "out"
        out.mkdir(parents=True, exist_ok=True)
        report = backtest(out, Path(tmp) / "home")
        try:
            result = render(report, args.image, max_height=args.height)
        except BrowserError as error:
            sys.exit(str(error))
    if result.problems():
        args.image.unlink(missing_ok=True)
        sys.exit("the report is not fit to show:\n" + "\n".join(result.problems()))
    print(f"{args.image} ({len(result.charts)} charts: {', '.join(result.charts)})")


if __name__ == "__main__":
    main()
