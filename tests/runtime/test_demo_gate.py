"""`invest demo` shows the LLM gate at work, offline, from verdicts recorded from a test server.

Issue 14, finding 5: no demo account used the LLM, so the "AI" never appeared. The demo
adds ``gated-daily`` (trend-daily's rules with a gate on its buys) and replays its
verdicts from the bundled cache (``runtime/examples/demo_verdicts.json``, written by
``scripts/record_demo_verdicts.py``).
"""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Callable
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from invest.runtime.cli import main
from invest.runtime.ledger import Ledger

STALE = "the prompts changed since the cache was recorded: rerun scripts/record_demo_verdicts.py"


@dataclass(frozen=True)
class Demo:
    out: str
    ledger: Path


def _offline(real: Callable[[socket.socket, Any], None]) -> Callable[[socket.socket, Any], None]:
    """``socket.connect`` that refuses IP connections (local Unix sockets still work)."""

    def connect(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            raise AssertionError(f"the demo opened a network connection to {address}")
        real(sock, address)

    return connect


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """One quick demo for the module, with every network connection refused."""
    home = tmp_path_factory.mktemp("demo-home")
    path = home / "demo.sqlite"
    buf = io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INVEST_HOME", str(home))
        mp.delenv("INVEST_CONFIG", raising=False)
        mp.setattr(socket.socket, "connect", _offline(socket.socket.connect))
        with redirect_stdout(buf):
            assert main(["demo", "--quick", "--ledger", str(path)]) == 0
    return Demo(buf.getvalue(), path)


def _read(path: Path, sql: str, *args: str) -> list[tuple[Any, ...]]:
    ledger = Ledger(path, readonly=True)
    try:
        return ledger.conn.execute(sql, args).fetchall()
    finally:
        ledger.close()


def test_the_quick_demo_replays_recorded_gate_verdicts_offline(demo: Demo) -> None:
    records = _read(
        demo.ledger,
        "SELECT record_json FROM decisions WHERE account = 'gated-daily' ORDER BY day",
    )
    verdicts = [v for (r,) in records if (llm := json.loads(r)["llm"]) for v in llm["verdicts"]]
    assert verdicts, "the gated account's buys never reached the gate"
    assert all(v["source"] == "llm" for v in verdicts), STALE  # every buy had a recording
    kinds = {v["verdict"] for v in verdicts}
    assert {"VETO", "SHRINK"} <= kinds
    assert all(
        v["reason"].startswith("Recorded from a deterministic test server") for v in verdicts
    )
    # Audited in the ledger's llm tables, as a real run's verdicts are.
    assert _read(demo.ledger, "SELECT count(*) FROM llm_audit WHERE account = 'gated-daily'")[0][0]
    # The printed results say what the gate did, and where its answers came from.
    text = " ".join(demo.out.split())
    assert "RECORDED FROM A DETERMINISTIC LOCAL TEST SERVER" in text
    assert "not a real model" in text
    assert "LLM gate of gated-daily" in text
    assert " vetoed, " in text
    assert "0 without a recorded verdict" in text, STALE
    assert "e.g. 2022-" in text


def test_the_gate_changes_the_gated_accounts_trades(demo: Demo) -> None:
    # In the quick demo trend-daily is the same account, over the same 2022, without the gate.
    sql = "SELECT day, symbol, side, quantity FROM fills WHERE account = ? ORDER BY id"
    gated = _read(demo.ledger, sql, "gated-daily")
    plain = _read(demo.ledger, sql, "trend-daily")
    assert gated
    assert plain
    assert gated != plain
    buys = {(d, s) for d, s, side, _ in plain if side == "buy"}
    assert buys - {(d, s) for d, s, side, _ in gated if side == "buy"}  # vetoed buys are gone
