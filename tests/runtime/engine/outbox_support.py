"""Homes and child runs for the outbox tests (restart after a kill, broker timeout)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from invest.runtime.paths import example_config

CHILD = Path(__file__).with_name("outbox_child.py")
ROOT = Path(__file__).parents[3]
#: The account the tests trade: on the sample's last bar it buys several names.
ACCOUNT = "defensive-weekly"
#: Upper bound of one child command; a hang fails the test instead of the suite.
CHILD_TIMEOUT_S = 180


@dataclass(frozen=True)
class OutboxHome:
    """An INVEST_HOME whose account trades through ``broker`` (paper, or the fake Alpaca)."""

    home: Path
    url: str

    @classmethod
    def make(cls, home: Path, url: str, broker: str, alpaca: str = "") -> OutboxHome:
        text = example_config().read_text()
        header = f"[accounts.{ACCOUNT}]\n"
        text = text.replace(header, f'{header}broker = "{broker}"\n', 1)
        text += f"\n[engine.alpaca]\nretries = 0\nbackoff_s = 0\n{alpaca}\n"
        home.mkdir(parents=True, exist_ok=True)
        (home / "config.toml").write_text(text)
        return cls(home, url)

    @property
    def ledger(self) -> Path:
        return self.home / "ledger.sqlite"

    def child(self, mode: str, *args: str) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "INVEST_HOME": str(self.home),
            "INVEST_CONFIG": str(self.home / "config.toml"),
            "ALPACA_API_KEY": "PKTESTKEY0000000000",
            "ALPACA_SECRET_KEY": "trading-s3cr3t-never-shown",
            "INVEST_TEST_ALPACA_URL": self.url,
            "PYTHONPATH": str(ROOT),
        }
        return subprocess.run(
            [sys.executable, str(CHILD), mode, *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT_S,
            check=False,
            cwd=ROOT,
        )

    def orders(self) -> dict[str, tuple[str, str | None]]:
        """client order id -> (status, broker order id) of every order row."""
        with closing(sqlite3.connect(f"file:{self.ledger}?mode=ro", uri=True)) as db:
            return {
                str(c): (str(s), b)
                for c, s, b in db.execute(
                    "SELECT client_order_id, status, broker_order_id FROM orders"
                )
            }

    def events(self, kind: str) -> list[str]:
        with closing(sqlite3.connect(f"file:{self.ledger}?mode=ro", uri=True)) as db:
            return [
                str(r[0])
                for r in db.execute(
                    "SELECT json_extract(detail_json, '$.client_order_id') FROM events "
                    "WHERE kind = ?",
                    [kind],
                )
            ]
