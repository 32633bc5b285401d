"""The README's quick start is two commands, and CI (`.ci/run`) runs exactly those two.

A change to the README's test command (say, its xdist options) that `.ci/run` does not
follow would leave CI testing something other than what a reader runs.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[2]


def _quick_start_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def test_the_quick_start_is_two_commands_that_ci_runs_verbatim() -> None:
    commands = _quick_start_commands()
    assert len(commands) == 2, commands
    ci = (ROOT / ".ci/run").read_text(encoding="utf-8").splitlines()
    for command in commands:
        assert command in ci, f".ci/run does not run the README's command: {command}"


def test_the_test_command_needs_only_the_dev_extra() -> None:
    test_command = _quick_start_commands()[1]
    assert "'.[dev]'" in test_command
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    dev = {
        re.split(r"[<>=!~;\[ ]", req, maxsplit=1)[0]
        for req in extras["optional-dependencies"]["dev"]
    }
    if re.search(r"pytest .*-n \S+", test_command):  # xdist's option
        assert "pytest-xdist" in dev, sorted(dev)
