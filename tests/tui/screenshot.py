"""Redraw docs/tui-overview.svg: the overview on the demo ledger, with the app's own
``save_screenshot``. Run from the repository root:

    .venv/bin/python tests/tui/screenshot.py
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
sys.path.insert(0, str(ROOT))

from invest.runtime.paths import Paths, example_config  # noqa: E402
from invest.tui.app import InvestApp  # noqa: E402
from tests.tui.conftest import FIXTURE, NOW, FakeEngine, settle  # noqa: E402

HOME = Path("/tmp/invest-demo")


async def shoot(paths: Paths) -> None:
    """Open the overview at 140x36 and save the frame."""
    app = InvestApp(paths, control=FakeEngine(running=False), now=lambda: NOW, live=False)
    async with app.run_test(size=(140, 36)) as pilot:
        await settle(pilot)
        app.save_screenshot("tui-overview.svg", str(ROOT / "docs"))


def main() -> None:
    """Copy the demo ledger to a stable folder (its path is on screen) and shoot."""
    HOME.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(FIXTURE, HOME / "ledger.sqlite")
    asyncio.run(shoot(Paths(example_config(), "demo", HOME, "demo")))


if __name__ == "__main__":
    main()
