"""Time report.html of the full 1990-2022 trend_king backtest; what matplotlib adds to RSS.

The replay runs once; then, in the same process:

* the reference: ``write_outputs`` (report.json, equity.csv, trades.csv, decisions.jsonl),
  median of ``--repeat`` runs;
* the first ``write_html`` (it imports matplotlib: what one ``invest backtest`` pays),
  then the median of ``--repeat`` more (matplotlib loaded);

and prints each against the reference and the goal (1.0 s on 2 cores), with the page's
size. ``--profile`` prints the 25 costliest functions of one warm tearsheet.

Peak RSS (VmHWM of a child process), each pair in fresh processes:

* backtest: replay + the four files, against replay + the four files + report.html;
* engine: the engine's modules and the sample Market loaded, against the same and one
  1080 px PNG chart drawn with the house style (a daily alert's chart).

    python bench/bench_report.py [--repeat 5] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

GOAL_S = 1.0


def _replay() -> Any:
    from invest.runtime.backtest.runner import replay
    from invest.runtime.config import parse_config
    from invest.runtime.cycle import AccountRuntime
    from invest.runtime.data.sample import SampleData
    from invest.runtime.market import load_market

    source = SampleData()
    universe = [s for s in source.symbols() if s != "SP500"]
    settings = parse_config(
        {"accounts": {"trend-king": {"strategy": "trend_king", "universe": universe}}}
    )
    acct = AccountRuntime.build("trend-king", settings)
    return replay(acct, load_market(source, acct, None), None)


def _child(mode: str) -> None:
    """One measured process; prints its peak RSS (VmHWM) in kB last."""
    if mode.startswith("backtest"):
        from invest.runtime.backtest.report import write_html, write_outputs

        r = _replay()
        with tempfile.TemporaryDirectory() as tmp:
            write_outputs(r, Path(tmp))
            if mode == "backtest+html":
                write_html(r, Path(tmp))
        return
    import invest.runtime.engine.engine
    import invest.runtime.engine.jobs
    import invest.runtime.notify.wiring  # noqa: F401  (what `invest engine` loads)
    from invest.runtime.data.sample import SampleData

    frame = SampleData().load(("SP500",))
    if mode == "engine+chart":
        import numpy as np

        from invest.runtime.reports import charts

        close = frame.close[-504:, 0]
        fig = charts.new_figure(6.0, 4.0, rows=2)
        x = charts.day_array([frame.day(i) for i in range(len(frame) - 504, len(frame))])
        fig.axes[0].plot(x, close, label="SP500")
        fig.axes[1].fill_between(x, close / np.maximum.accumulate(close) - 1, 0)
        charts.date_axis(fig.axes[1])
        fig.axes[0].legend()
        charts.figure_png(fig, 1080)


def _hwm_kb() -> int:
    status = Path("/proc/self/status").read_text()
    return int(next(x for x in status.splitlines() if x.startswith("VmHWM:")).split()[1])


def _rss_mb(mode: str) -> float:
    """Peak RSS of a fresh process doing ``mode``.

    Read from /proc/self/status (VmHWM) in the child: a child's ``ru_maxrss`` on Linux
    keeps the peak of the forked copy of its parent from before exec, which here is the
    parent's whole replay.
    """
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode], check=True, capture_output=True, text=True
    )
    return int(out.stdout.split()[-1]) / 1024


def _median(fn: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child)
        print(_hwm_kb())
        return

    from invest.runtime.backtest.report import write_html, write_outputs

    r = _replay()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        ref = _median(lambda: write_outputs(r, out), args.repeat)
        t0 = time.perf_counter()
        page = write_html(r, out)
        cold = time.perf_counter() - t0
        warm = _median(lambda: write_html(r, out), args.repeat)
        size = page.stat().st_size
        if args.profile:
            prof = cProfile.Profile()
            prof.runcall(write_html, r, out)
            pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
    rss = {m: _rss_mb(m) for m in ("backtest", "backtest+html", "engine", "engine+chart")}
    one, five, _ = os.getloadavg()
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"load {one:.2f}/{five:.2f}, Python {platform.python_version()}"
    )
    print(f"trend_king 1990-2022: {len(r.days)} sessions, {len(r.fills)} fills")
    print(f"  reference: the four files (write_outputs)      {ref:.3f} s")
    print(
        f"  report.html, first in the process (imports)   {cold:.3f} s  "
        f"= {cold / ref:.1f}x the four files  (goal {GOAL_S:.1f} s: {'met' if cold <= GOAL_S else 'NOT met'})"
    )
    print(f"  report.html, matplotlib loaded (median)       {warm:.3f} s  = {warm / ref:.1f}x")
    print(f"  report.html size: {size / 1024:.0f} KiB")
    print("peak RSS (VmHWM, fresh processes):")
    print(
        f"  backtest + four files {rss['backtest']:.0f} MB; + report.html "
        f"{rss['backtest+html']:.0f} MB (+{rss['backtest+html'] - rss['backtest']:.0f} MB)"
    )
    print(
        f"  engine modules + sample data {rss['engine']:.0f} MB; + one 1080 px chart "
        f"{rss['engine+chart']:.0f} MB (+{rss['engine+chart'] - rss['engine']:.0f} MB)"
    )


if __name__ == "__main__":
    main()
