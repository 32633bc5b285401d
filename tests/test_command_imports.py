"""The instant commands load none of the heavy libraries: each runs in a clean subprocess.

``invest --help``, ``paths``, ``config check``, ``status`` (also Docker's HEALTHCHECK,
``status --heartbeat-max-age``), ``models list`` and ``halt`` run through
``invest.runtime.cli.main`` in an isolated INVEST_HOME with the example config and
no engine, as on a machine where the engine is stopped: ``status`` and ``halt`` give
their one-line answer. The wrapper then reports which heavy modules are in
``sys.modules``; pandas, onnxruntime, sqlite-utils and exchange-calendars must not be.
Timings are in ``bench/bench_commands.py``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from invest.runtime.paths import example_config

#: Reported for every command (numpy, httpx and the SDKs are informative only).
WATCHED = (
    "pandas",
    "numpy",
    "onnxruntime",
    "sqlite_utils",
    "exchange_calendars",
    "alpaca",
    "yfinance",
    "httpx",
)
FORBIDDEN = ("pandas", "onnxruntime", "sqlite_utils", "exchange_calendars")
MARKER = "COMMAND-IMPORTS "

WRAPPER = f"""
import json, sys
from invest.runtime.cli import main
try:
    rc = main(sys.argv[1:])
except SystemExit as e:
    rc = e.code
sys.stdout.flush()
print({MARKER!r} + json.dumps({{"rc": rc, "loaded": [m for m in {WATCHED!r} if m in sys.modules]}}),
      file=sys.stderr)
"""

#: (argv, exit status, a piece of the answer on stdout or stderr)
CASES = [
    pytest.param(["--help"], 0, "usage: invest", id="help"),
    pytest.param(["paths"], 0, "ledger:", id="paths"),
    pytest.param(["config", "check"], 0, "OK, 5 account(s)", id="config-check"),
    pytest.param(["status"], 2, "error: no ledger at", id="status"),
    pytest.param(
        ["status", "--heartbeat-max-age", "180"],
        1,
        "unhealthy: no ledger at",
        id="status-heartbeat",
    ),
    pytest.param(["models", "list"], 0, "default", id="models-list"),
    pytest.param(["halt"], 2, "error: no engine is listening", id="halt"),
]


def _run(
    argv: list[str], root: Path, wrapper: str = WRAPPER
) -> tuple[subprocess.CompletedProcess[str], dict[str, object]]:
    config = root / "config.toml"
    shutil.copyfile(example_config(), config)
    env = {
        "PATH": "/usr/bin:/bin",
        "COLUMNS": "400",  # rich wraps at the terminal width; the tmp path is long
        "HOME": str(root),
        "INVEST_HOME": str(root / "home"),
        "INVEST_CONFIG": str(config),
        "INVEST_SECRETS": str(root / "secrets.env"),
    }
    proc = subprocess.run(
        [sys.executable, "-c", wrapper, *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        timeout=300,
        check=False,
    )
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith(MARKER)]
    assert lines, proc.stderr
    return proc, json.loads(lines[-1][len(MARKER) :])


@pytest.mark.parametrize(("argv", "rc", "answer"), CASES)
def test_an_instant_command_loads_no_heavy_library(
    argv: list[str], rc: int, answer: str, tmp_path: Path
) -> None:
    proc, report = _run(argv, tmp_path)
    assert report["rc"] == rc, proc.stdout + proc.stderr
    assert answer in proc.stdout + proc.stderr
    loaded = report["loaded"]
    assert isinstance(loaded, list)
    assert [m for m in FORBIDDEN if m in loaded] == [], f"{argv}: loaded {loaded}"


#: Commands that read the config, the ledger or the socket and no market data load
#: neither numpy (the calendar imports it when one is built) nor pydantic-settings
#: (only for INVEST__* overrides). APScheduler comes with a config: it checks crons.
LEAN = ("numpy", "pydantic_settings")
LEAN_WRAPPER = WRAPPER.replace(repr(WATCHED), repr(LEAN))


@pytest.mark.parametrize(("argv", "rc", "answer"), [c for c in CASES if c.id != "models-list"])
def test_a_command_without_market_data_loads_no_numpy(
    argv: list[str], rc: int, answer: str, tmp_path: Path
) -> None:
    proc, report = _run(argv, tmp_path, LEAN_WRAPPER)
    assert report["rc"] == rc, proc.stdout + proc.stderr
    assert answer in proc.stdout + proc.stderr
    assert report["loaded"] == [], f"{argv}: loaded {report['loaded']}"
