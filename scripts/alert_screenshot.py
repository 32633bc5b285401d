"""Redraw the README's daily Telegram report image in docs/images/ with the notifier's own code.

The report is the engine's: :func:`~invest.runtime.control.reports.daily_report` of every
account of the fixed demo ledger (tests/fixtures/ledger/demo.sqlite) on 2022-04-13, a
session with sells in two accounts, and its message is made by ``event_message`` with
the chart data the engine's notifiers gather (:func:`report_curves`: the ledger's
equity and fills, SP500 from the bundled sample). The same ledger and day draw the
same PNG on every run. Run from the repository root:

    .venv/bin/python scripts/alert_screenshot.py
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from contextlib import closing
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from invest.runtime.config.load import load_config  # noqa: E402
from invest.runtime.control.reports import daily_report  # noqa: E402
from invest.runtime.ledger import reads  # noqa: E402
from invest.runtime.notify.format import event_message  # noqa: E402
from invest.runtime.notify.wiring import report_curves  # noqa: E402
from invest.runtime.paths import Paths, example_config  # noqa: E402
from tests.tui.conftest import FIXTURE  # noqa: E402

DAY = date(2022, 4, 13)
OUT = ROOT / "docs" / "images" / "telegram-daily.png"


def render() -> tuple[str, bytes]:
    """The daily report's message text and its PNG, from a copy of the demo ledger."""
    with tempfile.TemporaryDirectory() as home:
        shutil.copyfile(FIXTURE, Path(home) / "ledger.sqlite")
        paths = Paths(example_config(), "demo", Path(home), "demo")
        with closing(reads.connect_readonly(paths.ledger)) as conn:
            at = datetime(DAY.year, DAY.month, DAY.day, 21, tzinfo=UTC)
            report = daily_report(conn, reads.account_names(conn), DAY, at)
        out = event_message(report, report_curves(load_config(example_config()), paths))
    if out.image is None:
        raise SystemExit(f"no chart drawn: {out.text.splitlines()[-1]}")
    return out.text, out.image


def main() -> None:
    """Write the PNG and print the message's text (the photo's caption and the text after it)."""
    text, image = render()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_bytes(image)
    print(text)
    print(OUT.relative_to(ROOT))


if __name__ == "__main__":
    main()
