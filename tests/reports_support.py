"""Reports made the way a user makes them, for the tests that look at them (the browser test).

:func:`sample_report` runs ``invest backtest`` of trend_king on the bundled sample for a
short window (about two seconds) and returns the report.html it wrote.
"""

from __future__ import annotations

from pathlib import Path

from invest.runtime.cli import main

#: The window of :func:`sample_report`: long enough for a rolling 12-month figure and a
#: drawdown (2020's crash), short enough to run in a test.
START, END = "2018-01-02", "2021-12-31"


def sample_report(tmp_path: Path, *extra: str) -> Path:
    """Run a short trend_king backtest into ``tmp_path / "bt"``; return report.html's path.

    Raises:
        AssertionError: the backtest failed or wrote no report.html.
    """
    out = tmp_path / "bt"
    args = ["backtest", "--strategy", "trend_king", "--start", START, "--end", END]
    rc = main([*args, "--out", str(out), *extra])
    assert rc == 0, f"invest backtest exited {rc}"
    page = out / "report.html"
    assert page.is_file(), f"invest backtest wrote no {page}"
    return page
