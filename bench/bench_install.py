"""Measure the appliance install: base venv size, engine idle RSS, time to first cycle.

    python bench/bench_install.py --install            # install.sh into a temporary prefix
    python bench/bench_install.py --prefix /tmp/inv    # an existing (--prefix) install
    python bench/bench_install.py --venv /opt/invest/current

The engine figures need `invest engine`; without it they are skipped with a message.
"""

from __future__ import annotations

import argparse
import os
import re
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Size:
    """How big a folder is."""

    apparent: int
    on_disk: int
    files: int


def folder_size(root: Path) -> Size:
    """Add up the files under ``root`` (symlinks are not followed)."""
    apparent = on_disk = files = 0
    for folder, _dirs, names in os.walk(root):
        for name in names:
            st = (Path(folder) / name).lstat()
            apparent += st.st_size
            on_disk += st.st_blocks * 512
            files += 1
    return Size(apparent, on_disk, files)


def install(prefix: Path) -> float:
    """Run install.sh --no-system into ``prefix``; return the seconds it took."""
    argv = [
        "bash",
        str(REPO / "install.sh"),
        "--non-interactive",
        "--no-system",
        "--prefix",
        str(prefix),
        "--source",
        str(REPO),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVEST_")}
    env["INVEST_PIP_ARGS"] = os.environ.get("INVEST_PIP_ARGS", "--quiet --progress-bar off")
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdin=subprocess.DEVNULL)
    return time.perf_counter() - started


def rss_bytes(pid: int) -> int:
    """Resident memory of a process and its children, from /proc."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.is_file():
        pids += [int(p) for p in children.read_text().split()]
    for each in pids:
        status = Path(f"/proc/{each}/status")
        if not status.is_file():
            continue
        match = re.search(r"^VmRSS:\s+(\d+) kB", status.read_text(), re.M)
        if match:
            total += int(match.group(1)) * 1024
    return total


def has_engine(invest: Path, env: dict[str, str]) -> bool:
    """Whether this `invest` has the engine subcommand."""
    result = subprocess.run(
        [str(invest), "engine", "--help"], env=env, capture_output=True, check=False, timeout=120
    )
    return result.returncode == 0


def bench_engine(invest: Path, env: dict[str, str], idle_s: float, pattern: str) -> None:
    """Start `invest engine`; print the time to the first cycle line and the idle RSS."""
    if not has_engine(invest, env):
        print("engine: skipped (`invest engine` does not exist yet)")
        return
    started = time.perf_counter()
    proc = subprocess.Popen(
        [str(invest), "engine"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    first_cycle: float | None = None
    peak = 0
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        deadline = started + idle_s
        while time.perf_counter() < deadline and proc.poll() is None:
            for _key, _events in selector.select(timeout=0.5):
                line = proc.stdout.readline()
                if first_cycle is None and re.search(pattern, line, re.I):
                    first_cycle = time.perf_counter() - started
            peak = max(peak, rss_bytes(proc.pid))
    exited = proc.poll() is not None
    idle = 0 if exited else rss_bytes(proc.pid)
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    proc.stdout.close()
    if exited:  # no idle figure to give: it did not run for idle_s
        print(f"engine: exited early with code {proc.returncode}")
        return
    print(f"engine idle RSS after {idle_s:.0f} s: {idle / MB:.1f} MB (peak {peak / MB:.1f} MB)")
    if first_cycle is None:
        print(f"engine time to first cycle: no line matching {pattern!r} within {idle_s:.0f} s")
    else:
        print(f"engine time to first cycle: {first_cycle:.1f} s")


def main() -> int:
    """Parse the options, measure, print one figure per line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--install", action="store_true", help="install into a temporary prefix")
    where.add_argument("--prefix", type=Path, help="an install made with --prefix")
    where.add_argument("--venv", type=Path, help="a venv to measure (no engine run)")
    parser.add_argument("--idle-seconds", type=float, default=60.0, help="engine run time")
    parser.add_argument(
        "--first-cycle-pattern",
        default=r"cycle|heartbeat",
        help="regex of the engine log line that marks its first cycle",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="invest-bench-") as tmp:
        prefix: Path | None = args.prefix
        if args.install:
            prefix = Path(tmp) / "prefix"
            print(f"install time: {install(prefix):.1f} s")
        venv = args.venv or (prefix / "opt/invest/current" if prefix else None)
        assert venv is not None
        size = folder_size(venv.resolve())
        print(
            f"base venv size: {size.apparent / MB:.1f} MB "
            f"({size.on_disk / MB:.1f} MB on disk, {size.files} files) at {venv.resolve()}"
        )
        if prefix is None:
            return 0
        env = {k: v for k, v in os.environ.items() if not k.startswith("INVEST_")}
        env["INVEST_HOME"] = str(Path(tmp) / "home")
        bench_engine(
            prefix / "usr/local/bin/invest", env, args.idle_seconds, args.first_cycle_pattern
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
