"""Start-up budget, import hygiene, and monochrome terminals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from textual.filter import Monochrome
from textual.widgets import DataTable

from .conftest import settle

ROOT = Path(__file__).parents[2]


def test_the_first_frame_comes_in_a_fresh_process_without_heavy_modules() -> None:
    # Functional only: the budget (1 s) is timed by bench/bench_tui.py --budget, not here.
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_tui.py"), "--runs", "1", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(out.stdout)
    print(f"first frame {result['first_frame_s']:.3f} s")  # shown with -s
    assert result["first_frame_s"] > 0  # a frame was drawn
    assert not {"torch", "onnxruntime", "pandas"} & set(result["modules_at_first_frame"])


def test_importing_the_app_loads_no_torch_onnxruntime_or_pandas() -> None:
    code = (
        "import sys, invest.tui.app\n"
        "heavy = ('torch', 'onnxruntime', 'pandas', 'sqlite_utils', 'exchange_calendars')\n"
        "print([m for m in heavy if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_no_tui_module_imports_torch() -> None:
    code = (
        "import importlib, pkgutil, sys, invest.tui\n"
        "for m in pkgutil.walk_packages(invest.tui.__path__, 'invest.tui.'):\n"
        "    importlib.import_module(m.name)\n"
        "print([m for m in ('torch', 'stable_baselines3', 'sb3_contrib') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.anyio
async def test_no_color_turns_the_app_monochrome_and_it_still_works(make_app, monkeypatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app()  # Textual reads (and removes) NO_COLOR when the app is built
    assert app.no_color
    assert any(isinstance(f, Monochrome) for f in app._filters)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.screen.query_one("#accounts", DataTable).row_count == 3
