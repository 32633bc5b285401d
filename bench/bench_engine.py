"""The engine process: time to ready and to the first cycle, idle memory, shutdown time.

Starts the real engine (``python -m invest.runtime.engine``) on a temporary
INVEST_HOME with two accounts on the bundled sample, on a replay clock that runs
a few 2022 sessions and then stops advancing (the engine idles, as it does
between two cycles on an appliance). Reports:

* start -> control socket listening (imports, calendar, ledger, reconciliation);
* start -> first cycle done;
* VmRSS and VmHWM of the engine from ``/proc/PID/status`` after ``--seconds``;
* SIGTERM -> exit.

    python bench/bench_engine.py [--seconds 60]
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

CONFIG = """
[accounts.trend-daily]
strategy = "trend_king"
universe = ["AAPL", "AMD", "BAC", "BBY", "CVX", "GE", "HD", "JNJ", "JPM", "KO",
            "LLY", "MRK", "MSFT", "PEP", "PFE", "PG", "RRC", "UNH", "WMT", "XOM"]
schedule = "30 16 * * mon-fri"

[accounts.defensive-weekly]
strategy = "trend_king"
universe = ["AAPL", "AMD", "BAC", "BBY", "CVX", "GE", "HD", "JPM", "LLY", "MRK", "MSFT", "RRC", "UNH", "XOM"]
schedule = "30 16 * * fri"
risk = "conservative"

[accounts.defensive-weekly.trend_king]
top_n = 4
defensive = ["JNJ", "KO", "PEP", "PG", "WMT"]
"""

MARKERS = {"ready": "control socket listening", "cycle": 'msg="cycle done"'}


def _proc_status(pid: int) -> dict[str, str]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        out[key] = value.strip()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--seconds", type=float, default=60.0, help="read the memory this long after start"
    )
    parser.add_argument("--tick", type=float, default=0.2, help="replay seconds per step")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp:
        home = Path(tmp)
        (home / "config.toml").write_text(CONFIG)
        env = {**os.environ, "INVEST_HOME": str(home), "INVEST_CONFIG": str(home / "config.toml")}
        cmd = [
            sys.executable, "-m", "invest.runtime.engine", "--replay", "2022-06-01",
            "--replay-until", "2022-06-03", "--tick", str(args.tick), "--monitor-interval", "10800",
        ]  # fmt: skip
        seen: dict[str, float] = {}
        t0 = time.monotonic()
        proc = subprocess.Popen(
            cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )

        def watch() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                for name, text in MARKERS.items():
                    if name not in seen and text in line:
                        seen[name] = time.monotonic() - t0

        reader = threading.Thread(target=watch, daemon=True)
        reader.start()
        while time.monotonic() - t0 < args.seconds and proc.poll() is None:
            time.sleep(0.2)
        if proc.poll() is not None:
            sys.exit(f"the engine exited early with {proc.returncode}")
        status = _proc_status(proc.pid)
        t1 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=90)
        stopped = time.monotonic() - t1
        reader.join(5)

    print(f"machine: {platform.machine()} python {platform.python_version()}")
    print("engine with 2 accounts on the sample, replay clock (2022-06-01..03), then idle")
    print(f"start -> control socket ready: {seen.get('ready', float('nan')):.2f} s")
    print(f"start -> first cycle done:     {seen.get('cycle', float('nan')):.2f} s")
    print(
        f"VmRSS after {args.seconds:g} s: {status.get('VmRSS')}  (peak VmHWM {status.get('VmHWM')})"
    )
    print(f"threads: {status.get('Threads')}")
    print(f"SIGTERM -> exit {code}: {stopped:.2f} s")


if __name__ == "__main__":
    main()
