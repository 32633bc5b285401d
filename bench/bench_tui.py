"""Start-up of the TUI: a fresh process, to its first frame and to the first ledger rows.

Each run starts ``python`` anew (interpreter, imports, Textual, the overview
screen) on a copy of the fixed demo ledger, headless at 120x40, and reports:

* ``first frame``: process start to the first frame drawn (the design's budget is 1 s);
* ``imports``: process start to ``invest.tui.app`` imported;
* ``rows``: first frame to the accounts table filled from the ledger (a worker);
* which heavy modules were loaded at the first frame (torch, onnxruntime and pandas
  must not be).

    python bench/bench_tui.py [--runs 5] [--json] [--budget 1.0]

``--budget S`` exits 1 when the median first frame is over S seconds (the timing
check that used to live in tests/tui/test_startup.py; run it on a quiet machine).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

FIXTURE = Path(__file__).parents[1] / "tests" / "fixtures" / "ledger" / "demo.sqlite"
HEAVY = ("torch", "onnxruntime", "pandas", "sqlite_utils", "exchange_calendars", "textual_plotext")

CHILD = r"""
import json, sys, time
t0 = time.time()
from pathlib import Path
from invest.runtime.paths import Paths, example_config
from invest.tui.app import InvestApp
imported = time.time()
marks = {}
def first(_seconds):
    marks["first_frame"] = time.time()
    marks["modules"] = sorted(m for m in HEAVY if m in sys.modules)
    app.set_interval(0.005, rows)
def rows():
    found = app.screen.query("#accounts")
    if found and found.first().row_count:
        marks["rows"] = time.time()
        app.exit()
paths = Paths(example_config(), "bench", Path(sys.argv[1]), "bench")
app = InvestApp(paths, on_first_frame=first, live=False)
app.run(headless=True, size=(120, 40))
print(json.dumps({"t0": t0, "imported": imported, **marks}))
"""


def run_once(home: Path) -> dict[str, Any]:
    """One fresh process; seconds from its start to each mark."""
    start = time.time()
    out = subprocess.run(
        [sys.executable, "-c", f"HEAVY = {HEAVY!r}\n{CHILD}", str(home)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    marks = json.loads(out.stdout.strip().splitlines()[-1])
    return {
        "first_frame_s": marks["first_frame"] - start,
        "imports_s": marks["imported"] - start,
        "rows_after_first_frame_s": marks["rows"] - marks["first_frame"],
        "interpreter_s": marks["t0"] - start,
        "modules_at_first_frame": marks["modules"],
    }


def measure(runs: int) -> dict[str, Any]:
    """Median figures over ``runs`` processes (the first run also warms the .pyc files)."""
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        shutil.copyfile(FIXTURE, home / "ledger.sqlite")
        results = [run_once(home) for _ in range(runs)]
    keys = ("first_frame_s", "imports_s", "rows_after_first_frame_s", "interpreter_s")
    summary: dict[str, Any] = {k: statistics.median(r[k] for r in results) for k in keys}
    summary["worst_first_frame_s"] = max(r["first_frame_s"] for r in results)
    summary["modules_at_first_frame"] = sorted(
        {m for r in results for m in r["modules_at_first_frame"]}
    )
    summary["runs"] = runs
    return summary


def main() -> None:
    """Print the start-up figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--budget", type=float, metavar="S", help="exit 1 when the median first frame is over S s"
    )
    args = parser.parse_args()
    s = measure(args.runs)
    over = args.budget is not None and s["first_frame_s"] > args.budget
    if args.json:
        print(json.dumps(s))
    else:
        _report(s)
    if over:
        print(f"over budget: first frame {s['first_frame_s']:.3f} s > {args.budget:g} s")
        raise SystemExit(1)


def _report(s: dict[str, Any]) -> None:
    print(f"TUI start-up, median of {s['runs']} fresh processes ({platform.machine()}):")
    print(
        f"  process start -> first frame   {s['first_frame_s']:.3f} s (worst {s['worst_first_frame_s']:.3f} s)"
    )
    print(f"  process start -> app imported  {s['imports_s']:.3f} s")
    print(f"  interpreter start              {s['interpreter_s']:.3f} s")
    print(f"  first frame -> ledger rows     {s['rows_after_first_frame_s']:.3f} s")
    print(f"  heavy modules at first frame: {', '.join(s['modules_at_first_frame']) or 'none'}")


if __name__ == "__main__":
    main()
