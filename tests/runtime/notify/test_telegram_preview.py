"""/preview through the real ControlService and a running engine: the next cycle's dry run,
for a viewer, writing nothing; the orders it shows are those the engine's run then places."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from invest.runtime.clock import FixedClock, nyse
from invest.runtime.control.api import Request
from invest.runtime.control.service import ControlService
from invest.runtime.engine.engine import Engine
from invest.runtime.notify.telegram import TelegramBot
from tests.runtime.engine.support import make_engine, ny, settings
from tests.runtime.notify.support import TOKEN, FakeTelegram, command_update, config
from tests.runtime.notify.test_telegram_bot import talk
from tests.runtime.notify.test_telegram_control import pumped


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[Engine, ControlService]]:
    """A fresh engine before Tuesday's close: no job due, ``weekly`` not in the ledger yet."""
    clock = FixedClock(ny("2022-06-14", "10:00"))
    engine, _ = make_engine(tmp_path, clock)
    svc = ControlService(
        tmp_path / "ledger.sqlite",
        engine,
        settings=settings(),
        clock=clock,
        wall=clock,
        calendar=nyse,
    )
    yield engine, svc
    engine.shutdown()


def _bytes(ledger: Path) -> tuple[bytes, bytes]:
    wal = Path(f"{ledger}-wal")
    return ledger.read_bytes(), wal.read_bytes() if wal.exists() else b""


def test_a_viewer_previews_the_next_cycle_and_the_run_places_those_orders(
    service: tuple[Engine, ControlService],
) -> None:
    engine, svc = service
    fake = FakeTelegram()
    bot = TelegramBot(config(), svc, TOKEN)
    before = _bytes(svc.ledger_path)
    pumped(
        engine, lambda: talk(bot, fake, command_update("/preview weekly"), command_update("/help"))
    )
    text, help_text = fake.texts()
    assert text.startswith("next cycle of weekly on the bar of 2022-06-13\n"), text
    assert "/preview [ACCOUNT]" in help_text
    replies = []
    pumped(
        engine,
        lambda: replies.append(
            svc.handle(Request("preview", {"account": "weekly"}, actor="t", role="viewer"))
        ),
    )
    assert _bytes(svc.ledger_path) == before  # a preview writes nothing, not even an audit
    (reply,) = replies
    assert reply.ok, reply.error
    (shown,) = reply.data["previews"]
    assert shown["text"] == text
    assert shown["orders"], "on the bar of 2022-06-13 (DEFENSE) weekly buys its defensive names"
    for o in shown["orders"]:
        assert (
            f"order {o['side']} {o['qty']} {o['symbol']} @~{o['ref_price']}: {o['reason']}" in text
        )

    out, error = engine.run_account("weekly")
    assert out is not None, error
    placed = [
        {"symbol": i.symbol, "side": i.side.value, "qty": str(i.quantity), "reason": i.reason}
        | {"ref_price": str(i.ref_price), "client_order_id": i.client_order_id}
        for i in out.sent
    ]
    assert placed == shown["orders"]
