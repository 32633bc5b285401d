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


FIRST_FRAME = r"""
import json, shutil, sys
from pathlib import Path
from invest.runtime.paths import Paths, example_config
from invest.tui.app import InvestApp
home = Path(sys.argv[1])
shutil.copyfile(sys.argv[2], home / "ledger.sqlite")
seen = {}
def first(_seconds):
    seen["modules"] = sorted(m for m in sys.argv[3].split(",") if m in sys.modules)
    app.set_interval(0.01, rows)
def rows():
    found = app.screen.query("#accounts")
    if found and found.first().row_count:
        seen["rows"] = found.first().row_count
        app.exit()
app = InvestApp(Paths(example_config(), "test", home, "test"), on_first_frame=first, live=False)
app.run(headless=True, size=(120, 40))
print(json.dumps(seen))
"""


def test_the_first_frame_comes_in_a_fresh_process_without_heavy_modules(tmp_path: Path) -> None:
    # Functional only: how fast the frame comes is bench/bench_tui.py's job (--budget).
    fixture = ROOT / "tests" / "fixtures" / "ledger" / "demo.sqlite"
    heavy = "torch,onnxruntime,pandas"
    out = subprocess.run(
        [sys.executable, "-c", FIRST_FRAME, str(tmp_path), str(fixture), heavy],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["rows"] == 3  # the first frame was drawn, then the accounts came
    assert seen["modules"] == []


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
