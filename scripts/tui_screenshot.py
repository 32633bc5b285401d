"""Redraw the README's TUI screenshots in docs/images/ with the app's own ``save_screenshot``.

The app runs headless on the fixed demo ledger (tests/fixtures/ledger/demo.sqlite) with
the snapshot tests' clock and no engine, so each run draws the same frames: the overview
at 120x36 and the closed-trades view (``t``) at 120x36. Run from the repository root:

    .venv/bin/python scripts/tui_screenshot.py
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from invest.runtime.paths import Paths, example_config  # noqa: E402
from invest.tui.app import InvestApp  # noqa: E402
from tests.tui.conftest import FIXTURE, NOW, FakeEngine, settle  # noqa: E402

#: The ledger's folder is on screen: a stable one keeps the images the same on every machine.
HOME = Path("/tmp/invest-demo")  # noqa: S108 - a fixed folder: its path is on screen
OUT = ROOT / "docs" / "images"
SIZE = (120, 36)
#: (file name, keys pressed on the overview before the frame is saved)
SHOTS = (("tui-overview.svg", ()), ("tui-trades.svg", ("t",)))


async def shoot(paths: Paths, name: str, keys: tuple[str, ...]) -> Path:
    """Open the app, press ``keys``, wait for every worker, save the frame as ``name``."""
    app = InvestApp(paths, control=FakeEngine(running=False), now=lambda: NOW, live=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)
        return Path(app.save_screenshot(name, str(OUT)))


def main() -> None:
    """Copy the demo ledger to a stable folder and save each shot."""
    HOME.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(FIXTURE, HOME / "ledger.sqlite")
    OUT.mkdir(parents=True, exist_ok=True)
    paths = Paths(example_config(), "demo", HOME, "demo")
    for name, keys in SHOTS:
        print(asyncio.run(shoot(paths, name, keys)).relative_to(ROOT))


if __name__ == "__main__":
    main()
