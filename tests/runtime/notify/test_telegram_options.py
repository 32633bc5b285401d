"""/options: the bot over the real control service and a ledger written by a short options
backtest, so a chat sees the open positions with legs, DTE, P&L and the nearest trigger, and
the week's closes with their outcome."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from invest.runtime.control.options_view import options_view
from invest.runtime.ledger import reads
from invest.runtime.notify.telegram import TelegramBot
from tests.runtime.notify.support import (
    STRANGER,
    TOKEN,
    FakeTelegram,
    command_update,
    config,
)
from tests.runtime.notify.test_telegram_bot import talk
from tests.runtime.notify.test_telegram_views import Recording
from tests.runtime.options_ledger_support import VIEWS_END, build_options_ledger


@pytest.fixture(scope="module")
def ledger_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("opt") / "ledger.sqlite"
    build_options_ledger(path, VIEWS_END)
    return path


@pytest.fixture
def bot(ledger_path: Path) -> tuple[TelegramBot, Recording]:
    service = Recording(ledger_path)
    service.requests = []
    return TelegramBot(config(), service, TOKEN), service


def test_options_shows_open_positions_with_legs_dte_pnl_and_the_nearest_trigger(
    bot: tuple[TelegramBot, Recording], ledger_path: Path
) -> None:
    fake = FakeTelegram()
    talk(bot[0], fake, command_update("/options"), command_update("/options spreads-weekly"))
    every, spreads = fake.texts()
    conn = reads.connect_readonly(ledger_path)
    try:
        marks = reads.option_marks(conn)
        closed = [
            p
            for p in reads.option_positions(conn, closed=True)
            if p.closed and p.closed > "2016-06-09"
        ]
        outcomes = reads.option_outcomes(conn)
    finally:
        conn.close()
    lines = every.splitlines()
    assert lines[0] == f"Open option positions ({len(marks)}), marked {VIEWS_END.isoformat()}:"
    for m in marks:
        near = m.nearest
        assert near is not None
        head = f"{m.account} {m.underlying} {m.kind} x{m.contracts}, {m.dte} DTE, P&L {m.unrealised:+,.2f}"
        (line,) = [x for x in lines if x.startswith(head)]
        assert line.endswith(near_text(ledger_path, m.position_id))
    assert any(x.startswith("  legs -") for x in lines)  # strikes and expiry in words
    assert lines.count(f"Closed since 2016-06-09 ({len(closed)}):") == 1
    assert closed
    for p in closed:
        assert f"{p.closed} {p.account} {p.underlying} {p.kind} x{p.contracts}: " in every
        assert outcomes[p.id] in every
    # one account: only its rows
    assert "wheel-weekly" not in spreads
    assert spreads.splitlines()[0] == "Open option positions (0), marked 2016-06-16:"
    assert "spreads-weekly SP500 bull_call x4: " in spreads
    assert "auto_close" in spreads
    assert [(r.op, r.args, r.role) for r in bot[1].requests] == [
        ("options", {}, "viewer"),
        ("options", {"account": "spreads-weekly"}, "viewer"),
    ]


def near_text(path: Path, position_id: str) -> str:
    conn = reads.connect_readonly(path)
    try:
        (p,) = [p for p in options_view(conn, None)["open"] if p["id"] == position_id]
    finally:
        conn.close()
    return str(p["nearest"]["text"])


def test_options_of_an_unknown_account_says_so_and_a_stranger_gets_nothing(
    bot: tuple[TelegramBot, Recording],
) -> None:
    fake = FakeTelegram()
    talk(
        bot[0],
        fake,
        command_update("/options nope"),
        command_update("/options", chat=STRANGER, user=STRANGER),
    )
    texts = fake.texts()
    assert "no account 'nope' in the ledger" in texts[0]
    assert len(texts) <= 2
    assert all(r.actor != f"telegram:{STRANGER}" for r in bot[1].requests)


def test_the_view_moves_with_the_marks(ledger_path: Path, tmp_path: Path) -> None:
    """Without the marks table's rows the open positions show no P&L and no trigger."""
    copy = tmp_path / "ledger.sqlite"
    shutil.copy(ledger_path, copy)
    with sqlite3.connect(copy) as conn:
        conn.execute("DELETE FROM option_marks")
    conn = reads.connect_readonly(copy)
    try:
        view = options_view(conn, None)
    finally:
        conn.close()
    assert view["open"]
    assert all(p["unrealised"] is None and p["nearest"] is None for p in view["open"])
    assert all(isinstance(p["dte"], int) for p in view["open"])
