"""End to end: Telegram commands through the real ControlService and a running engine."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from invest.runtime.clock import FixedClock, nyse
from invest.runtime.control.service import ControlService
from invest.runtime.domain import HaltState
from invest.runtime.engine.engine import Engine
from invest.runtime.ledger import engine_state as repo
from invest.runtime.notify.telegram import TelegramBot
from tests.runtime.engine.support import make_engine, ny, settings, two_weeks
from tests.runtime.notify.support import (
    TOKEN,
    TRADER,
    FakeTelegram,
    callback_update,
    command_update,
    config,
)
from tests.runtime.notify.test_telegram_bot import talk


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("tg-built")
    two_weeks(home)
    return home / "ledger.sqlite"


@pytest.fixture
def service(
    tmp_path_factory: pytest.TempPathFactory, built: Path
) -> Iterator[tuple[Engine, ControlService]]:
    home = tmp_path_factory.mktemp("tg")
    shutil.copy(built, home / "ledger.sqlite")
    clock = FixedClock(ny("2022-06-14", "18:00"))
    engine, _ = make_engine(home, clock)
    svc = ControlService(
        home / "ledger.sqlite", engine, settings=settings(), clock=clock, wall=clock, calendar=nyse
    )
    yield engine, svc
    engine.shutdown()


def pumped(engine: Engine, work: Callable[[], None]) -> None:
    """Run ``work`` (the bot) in a thread while this thread, the engine's, answers its commands."""
    worker = threading.Thread(target=work)
    worker.start()
    while worker.is_alive():
        engine.step(wait=False)
        time.sleep(0.01)
    worker.join()


def test_a_viewer_reads_but_cannot_pause(service: tuple[Engine, ControlService]) -> None:
    engine, svc = service
    fake = FakeTelegram()
    talk(
        TelegramBot(config(), svc, TOKEN),
        fake,
        command_update("/positions weekly"),
        command_update("/pause weekly"),
    )
    positions, denied = fake.texts()
    assert positions.startswith("positions:\n  weekly:")
    assert denied == "Not allowed: this needs the trader role."
    assert repo.account_halt(engine.ledger.conn, "weekly") is HaltState.ACTIVE


def test_a_trader_flattens_with_the_engines_token(service: tuple[Engine, ControlService]) -> None:
    engine, svc = service
    fake = FakeTelegram()
    bot = TelegramBot(config(), svc, TOKEN)
    talk(bot, fake, command_update("/flatten weekly", chat=TRADER, user=TRADER))
    (ask,) = fake.sent()
    token = ask.params["reply_markup"].split("flatten:weekly:", 1)[1].split('"', 1)[0]
    assert f"/flatten weekly {token}" in ask.params["text"]
    assert repo.account_halt(engine.ledger.conn, "weekly") is HaltState.ACTIVE
    pumped(engine, lambda: talk(bot, fake, callback_update(f"flatten:weekly:{token}")))
    assert repo.account_halt(engine.ledger.conn, "weekly") is HaltState.HALTED
    assert {i.side.value for i, _ in engine.ledger.open_orders("weekly")} == {"sell"}
    assert "orders" in fake.texts()[-1]
