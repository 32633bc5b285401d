"""`invest status` on the demo's ledger shows the last cycle the TUI shows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from invest.runtime.cli import main
from invest.runtime.ledger.views import LedgerReader


def test_status_shows_the_demo_cycles_as_the_tui_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("INVEST_HOME", str(tmp_path))
    assert main(["demo", "--quick"]) == 0
    capsys.readouterr()
    tui = {s.name: s.last_cycle for s in LedgerReader(tmp_path / "ledger.sqlite").summaries()}
    assert main(["status", "--json"]) == 0
    shown = {a["account"]: a["last_cycle"] for a in json.loads(capsys.readouterr().out)["accounts"]}
    assert shown == tui
    assert all(day and day.startswith("2022-12-") for day in shown.values())
    assert main(["status"]) == 0
    text = capsys.readouterr().out
    assert "last cycle -" not in text
    for day in tui.values():
        assert f"last cycle {day}, next" in text
