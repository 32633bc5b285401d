"""``python -m invest.tui [--config PATH]``: the TUI on its own (textual-serve runs this)."""

from __future__ import annotations

import argparse
import sys

from invest.runtime.paths import Paths

from .app import main


def run(argv: list[str] | None = None) -> int:
    """Parse ``--config`` and open the TUI."""
    parser = argparse.ArgumentParser(prog="python -m invest.tui")
    parser.add_argument("--config", help="config file (default: as `invest` resolves it)")
    args = parser.parse_args(argv)
    return main(Paths.resolve(args.config))


if __name__ == "__main__":
    sys.exit(run())
