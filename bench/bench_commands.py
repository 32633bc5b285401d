"""Wall time of the instant ``invest`` commands, each in a fresh process, against the floor.

Runs ``invest --help``, ``paths``, ``config check``, ``status``, ``models list`` and
``halt`` (plus ``status --heartbeat-max-age``, Docker's HEALTHCHECK) as subprocesses
in an isolated INVEST_HOME with the example config and no engine: ``status`` and
``halt`` answer with their one-line error, as they do on a machine where the engine
is stopped. Each figure is the median of ``--repeat`` runs; ``python -c pass`` and
``invest --version`` are timed in the same run, interleaved, so the ratios hold on a
busy machine. The goal of issue 13 is 0.3 s or less for each command.

``--backtest`` adds the full backtest CLI, ``invest backtest --strategy trend_king
--start 1990-01-02 --end 2022-12-30 --out DIR`` (imports, sample data, the replay and
the four output files), against its own goal of 1.0 s; the warm-up run builds the
calendar cache of the isolated INVEST_HOME, as a first run on a new machine does.

    python bench/bench_commands.py [--repeat 7] [--backtest]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS: tuple[tuple[str, ...], ...] = (
    ("--help",),
    ("paths",),
    ("config", "check"),
    ("status",),
    ("status", "--heartbeat-max-age", "180"),
    ("models", "list"),
    ("halt",),
)
GOAL_S = 0.3
BACKTEST = (
    "backtest", "--strategy", "trend_king", "--start", "1990-01-02", "--end", "2022-12-30", "--no-html"
)  # fmt: skip  # report.html is timed by bench_report.py
BACKTEST_GOAL_S = 1.0


def _env(root: Path) -> dict[str, str]:
    from invest.runtime.paths import example_config

    config = root / "config.toml"
    shutil.copyfile(example_config(), config)
    env = dict(os.environ)
    env.update(
        INVEST_HOME=str(root / "home"),
        INVEST_CONFIG=str(config),
        INVEST_SECRETS=str(root / "secrets.env"),
    )
    return env


def _wall(argv: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--backtest", action="store_true", help="also time the backtest CLI")
    args = parser.parse_args()
    script = Path(sys.executable).parent / "invest"  # the console script users run
    invest = [str(script)] if script.exists() else [sys.executable, "-m", "invest.runtime.cli"]
    rows: list[tuple[str, list[str]]] = [
        ("python -c pass", [sys.executable, "-c", "pass"]),
        ("invest --version", [*invest, "--version"]),
        *((f"invest {' '.join(c)}", [*invest, *c]) for c in COMMANDS),
    ]
    goals = dict.fromkeys((name for name, _ in rows[2:]), GOAL_S)
    with tempfile.TemporaryDirectory() as tmp:
        if args.backtest:
            name = "invest backtest trend_king 1990-2022 --out"
            rows.append((name, [*invest, *BACKTEST, "--out", str(Path(tmp) / "backtest")]))
            goals[name] = BACKTEST_GOAL_S
        env = _env(Path(tmp))
        for _, argv in rows:  # warm the file cache once
            _wall(argv, env)
        times: dict[str, list[float]] = {name: [] for name, _ in rows}
        for _ in range(args.repeat):
            for name, argv in rows:
                times[name].append(_wall(argv, env))
    median = {name: statistics.median(t) for name, t in times.items()}
    floor, version = median["python -c pass"], median["invest --version"]
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} {os.cpu_count()} cpus, "
        f"python {platform.python_version()}, median of {args.repeat} runs"
    )
    print(f"{'command':<46} {'wall s':>7} {'x pass':>7} {'x version':>9}  goal")
    for name, _ in rows:
        m = median[name]
        goal = goals.get(name)
        mark = "" if goal is None else f"{goal} s " + ("ok" if m <= goal else "SLOW")
        print(f"{name:<46} {m:7.3f} {m / floor:7.2f} {m / version:9.2f}  {mark}")


if __name__ == "__main__":
    main()
