"""`invest preview`: the next cycle's dry run of each account, with its reasons, writing nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from invest.runtime.cli import main
from invest.runtime.ledger import Ledger
from invest.runtime.paths import Paths


def _previews(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, object]]:
    capsys.readouterr()
    assert main(["preview", *argv, "--json"]) == 0
    previews: list[dict[str, object]] = json.loads(capsys.readouterr().out)
    return previews


def _files(home: Path) -> dict[str, bytes]:
    """The ledger byte for byte, and its write-ahead log (a WAL reader such as `invest status`
    makes an empty one and the -shm index when none is there: no write, no frame)."""
    wal = home / "ledger.sqlite-wal"
    return {
        "ledger.sqlite": (home / "ledger.sqlite").read_bytes(),
        "wal": wal.read_bytes() if wal.exists() else b"",
    }


def test_preview_shows_the_orders_and_reasons_that_run_then_places(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # On the last sample bar the regime is DEFENSE: this account buys its defensive names.
    (shown,) = _previews(capsys, "defensive-weekly")
    assert shown["regime"] == "DEFENSE"
    assert shown["day"] == "2022-12-28"
    orders = shown["orders"]
    assert isinstance(orders, list)
    assert len(orders) == 5
    assert {o["reason"] for o in orders} == {"target 15.0%"}
    assert {c["rule"] for c in shown["clamps"]} == {"max_position"}  # type: ignore[union-attr]
    assert not Paths.resolve().ledger.exists()  # the preview wrote no ledger

    assert main(["preview", "defensive-weekly"]) == 0
    text = capsys.readouterr().out
    assert "next cycle of defensive-weekly on the bar of 2022-12-28" in text
    assert "order buy 23.946243 KO @~62.609: target 15.0%" in text
    assert "risk max_position [KO]: weight 20.0% capped at 15%" in text
    assert "weights -> targets: JNJ 0.0%->15.0%" in text

    assert main(["run", "defensive-weekly"]) == 0
    ledger = Ledger(Paths.resolve().ledger, readonly=True)
    placed = [
        {"symbol": i.symbol, "side": i.side.value, "qty": str(i.quantity), "reason": i.reason}
        | {"ref_price": str(i.ref_price), "client_order_id": i.client_order_id}
        for i, _ in ledger.open_orders("defensive-weekly")
    ]
    ledger.close()
    key = lambda o: o["client_order_id"]  # noqa: E731
    assert sorted(placed, key=key) == sorted(orders, key=key)  # type: ignore[arg-type]


def test_preview_leaves_the_ledger_byte_identical_and_says_a_run_would_place_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["run", "defensive-weekly"]) == 0
    home = Paths.resolve().ledger.parent
    before = _files(home)
    previews = _previews(capsys)
    assert main(["preview"]) == 0
    assert _files(home) == before
    by = {p["account"]: p for p in previews}
    assert set(by) == {
        "trend-daily", "defensive-weekly", "hybrid-daily", "wheel-weekly", "spreads-weekly"
    }  # fmt: skip
    # an options account's preview: its structures with their reasons
    assert "cash_secured_put" in str(by["wheel-weekly"]["text"])
    assert by["wheel-weekly"]["orders"]
    notes = by["defensive-weekly"]["notes"]
    assert any("has run already: a run now places no new order" in n for n in notes)  # type: ignore[union-attr]
    assert by["trend-daily"]["notes"] == []  # not in the ledger yet: planned from its cash


def test_preview_of_an_unknown_account_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview", "nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert "nope" in err
    assert "\n" not in err
