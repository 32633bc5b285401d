"""How the backtester scales with the universe: 20, 100 and 500 symbols x 20 years, via the CLI.

The bars are synthetic: a seeded random walk per symbol (and an index, ``SP500``)
written as one ``SYMBOL.csv`` per symbol into a temporary folder, read back with
``--data csv:PATH``. Nothing is bundled. For each size it runs

    invest backtest --data csv:DIR --universe S0001,... --start 2004-01-02 --end 2022-12-30

in a fresh process (imports, CSV parse, replay, the four output files) and
prints its wall time, its peak RSS (``os.wait4``'s ``ru_maxrss`` of that child)
and the ratio to the numpy reference loop (``_reference.py``) on the same bars,
timed in this process.

``--paths N`` (default 1,000; 0 skips it) then runs ``invest robustness --parts mc``
(the Monte Carlo of noisy replays) at ``--mc-size`` symbols (default 100) and
prints its wall time, the parent's peak RSS and the largest peak RSS of its
worker processes.

    python bench/bench_scale.py [--sizes 20,100,500] [--paths 1000] [--mc-size 100]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt
from _reference import time_reference

FIRST, START, END = "2003-01-01", "2004-01-02", "2022-12-30"
INDEX = "SP500"


def write_universe(
    folder: Path, size: int, layout: str = "wide", seed: int = 0
) -> tuple[list[str], Path]:
    """``size`` random-walk symbols plus the index, as ``csv:`` data; returns (symbols, path).

    ``wide``: one file, a date column and a close column per symbol. ``folder``: one
    ``SYMBOL.csv`` (date, close, volume) per symbol.
    """
    rng = np.random.default_rng(seed)
    days = np.arange(np.datetime64(FIRST), np.datetime64(END) + 1)
    days = days[np.is_busday(days)]
    dates = np.datetime_as_string(days, unit="D")
    market = rng.normal(0.0003, 0.011, len(days))
    symbols = [f"S{i:04d}" for i in range(1, size + 1)]
    closes, volumes = [], []
    for name in (*symbols, INDEX):
        beta = 1.0 if name == INDEX else rng.uniform(0.3, 1.5)
        noise = 0.0 if name == INDEX else rng.uniform(0.005, 0.025)
        drift = rng.normal(0.0, 0.0003)
        steps = beta * market + drift + rng.normal(0.0, noise, len(days))
        closes.append(rng.uniform(10, 200) * np.exp(np.cumsum(steps)))
        volumes.append(rng.integers(200_000, 5_000_000, len(days)))
    names = (*symbols, INDEX)
    if layout == "wide":
        out = folder / f"wide-{size}.csv"
        rows = np.column_stack(closes)
        lines = [
            f"{d}," + ",".join(f"{c:.4f}" for c in row) for d, row in zip(dates, rows, strict=True)
        ]
        out.write_text("date," + ",".join(names) + "\n" + "\n".join(lines) + "\n")
        return symbols, out
    out = folder / str(size)
    out.mkdir(parents=True, exist_ok=True)
    for name, close, volume in zip(names, closes, volumes, strict=True):
        lines = [f"{d},{c:.4f},{v}" for d, c, v in zip(dates, close, volume, strict=True)]
        (out / f"{name}.csv").write_text("date,close,volume\n" + "\n".join(lines) + "\n")
    return symbols, out


def load_closes(
    path: Path, symbols: list[str]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.datetime64]]:
    """The closes of ``symbols`` (rows: sessions) and the session dates, from either layout."""
    import pandas as pd

    if path.is_file():
        frame = pd.read_csv(path, index_col="date", parse_dates=True)[symbols]
    else:
        cols = [
            pd.read_csv(path / f"{s}.csv", index_col="date", parse_dates=True)["close"].rename(s)
            for s in symbols
        ]
        frame = pd.concat(cols, axis=1)
    return frame.to_numpy(dtype=np.float64), frame.index.values.astype("datetime64[D]")


def invest(*args: str) -> list[str]:
    """The ``invest`` command line, run by this Python."""
    return [
        sys.executable,
        "-c",
        "import sys; from invest.runtime.cli import main; sys.exit(main())",
        *args,
    ]


def run_child(argv: list[str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MB, stdout) of one child process."""
    t0 = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert child.stdout is not None
    out = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - t0
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(argv[3:6])}... exited {child.returncode}")
    return wall, usage.ru_maxrss / 1024, out  # ru_maxrss is in KiB on Linux


def reference_seconds(path: Path, symbols: list[str]) -> float:
    """The numpy reference loop's best time on the same bars (closes of ``symbols``)."""
    close, dates = load_closes(path, symbols)
    lo = int(np.searchsorted(dates, np.datetime64(START)))
    return time_reference(close, dates, lo)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="20,100,500")
    parser.add_argument("--paths", type=int, default=1000, help="Monte Carlo paths (0 skips)")
    parser.add_argument("--mc-size", type=int, default=100)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument(
        "--layout",
        choices=("wide", "folder"),
        default="wide",
        help="one wide CSV of closes (default), or one SYMBOL.csv per symbol with volume",
    )
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    one, five, _ = os.getloadavg()
    print(
        f"machine: {platform.machine()} python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load average {one:.2f} / {five:.2f}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for size in sizes:
            symbols, folder = write_universe(root, size, args.layout)
            wall, rss, _ = run_child(
                invest(
                    "backtest",
                    "--data",
                    f"csv:{folder}",
                    "--universe",
                    ",".join(symbols),
                    "--benchmark",
                    INDEX,
                    "--start",
                    START,
                    "--end",
                    END,
                    "--out",
                    str(root / f"out-{size}"),
                )
            )
            ref = reference_seconds(folder, symbols)
            report = json.loads((root / f"out-{size}" / "report.json").read_text())
            replay = float(report["seconds"])
            print(
                f"{size:>4} symbols x 20 years, {START}..{END}: CLI {wall:.2f} s wall, peak RSS "
                f"{rss:.0f} MB; replay {replay:.2f} s; numpy reference {ref:.3f} s; "
                f"replay / reference {replay / ref:.1f}x (goal <= 8x), "
                f"CLI / reference {wall / ref:.0f}x"
            )
        if args.paths <= 0:
            return
        symbols, folder = write_universe(root, args.mc_size, args.layout)
        # The workers' peak RSS: the largest of this child's waited-for children.
        probe = (
            "import resource, sys; from invest.runtime.cli import main; rc = main(); "
            "kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss; "
            "me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; "
            "print(f'RSS {me} {kids}'); sys.exit(rc)"
        )
        argv = [
            sys.executable,
            "-c",
            probe,
            "robustness",
            "--data",
            f"csv:{folder}",
            "--universe",
            ",".join(symbols),
            "--benchmark",
            INDEX,
            "--paths",
            str(args.paths),
            "--parts",
            "mc",
            "--out",
            str(root / "robustness"),
        ]
        if args.workers:
            argv += ["--workers", str(args.workers)]
        wall, _, out = run_child(argv)
        me, kids = (int(x) / 1024 for x in out.rsplit("RSS ", 1)[1].split())
        print(
            f"invest robustness --parts mc, {args.paths} paths at {args.mc_size} symbols "
            f"(default window: the last 5 years): {wall:.1f} s wall; peak RSS parent {me:.0f} MB, "
            f"largest worker {kids:.0f} MB"
        )


if __name__ == "__main__":
    main()
