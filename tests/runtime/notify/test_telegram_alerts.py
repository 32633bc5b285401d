"""TelegramNotifier sends engine events to the alert chats: queued, throttled, split, with charts."""

from __future__ import annotations

import asyncio
import itertools
import sys
import threading
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from telegram import Bot
from telegram.ext import Application

from invest.runtime.config.notify import ChatAccess, TelegramConfig
from invest.runtime.events import DailyReport, ErrorEvent, Notifier
from invest.runtime.notify.format import NO_MATPLOTLIB, event_message
from invest.runtime.notify.telegram_alerts import TelegramNotifier, attach_alerts
from tests.runtime.notify.events import AT, DAY, REPORTS, curves, every_event, png_in, sent
from tests.runtime.notify.support import TOKEN, TRADER, VIEWER, FakeTelegram, fixture


def run(fake: FakeTelegram, body: Callable[[Bot], Coroutine[Any, Any, None]]) -> None:
    async def go() -> None:
        bot = Bot(TOKEN, request=fake.request())
        async with bot:
            await body(bot)

    asyncio.run(go())


class Waits:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def test_the_notifier_is_a_notifier() -> None:
    async def body(bot: Bot) -> None:
        assert isinstance(TelegramNotifier(bot, [VIEWER]), Notifier)

    run(FakeTelegram(), body)


def test_events_before_start_are_kept_and_sent_to_every_alert_chat() -> None:
    fake = FakeTelegram()
    cfg = TelegramConfig(
        chats=(
            ChatAccess(chat_id=VIEWER, user_ids=(VIEWER,)),
            ChatAccess(chat_id=TRADER, user_ids=(TRADER,), role="trader"),
            ChatAccess(chat_id=555, user_ids=(555,), alerts=False),
        ),
        min_interval_s=0.05,
    )

    async def body(bot: Bot) -> None:
        notifier = TelegramNotifier.from_config(bot, cfg)
        notifier.notify(sent())
        await notifier.start()
        await notifier.stop()

    run(fake, body)
    assert sorted(int(c.params["chat_id"]) for c in fake.sent()) == [VIEWER, TRADER]
    assert fake.texts()[0] == "trend-daily: BUY 2 AAPL @~178.00 (target 20%)"


def test_every_event_kind_is_sent_as_text_with_its_severity() -> None:
    fake = FakeTelegram()

    async def body(bot: Bot) -> None:
        notifier = TelegramNotifier(bot, [VIEWER], min_interval_s=0.05, sleep=Waits())
        await notifier.start()
        for event in every_event():
            notifier.notify(event)
        await notifier.stop()

    run(fake, body)
    texts = fake.texts()
    assert len(texts) == 10
    assert texts[2].startswith("⚠️ trend-daily: order TSLA rejected")
    assert texts[5].startswith("🛑 engine HALTED")
    assert "risk cash_reserve [*]: kept 5% cash" in texts[4]  # the explanation record
    assert texts[8].startswith("Daily report 2024-03-14\ntrend-daily 10,234.50")


def test_the_level_filters_out_info_events() -> None:
    fake = FakeTelegram()

    async def body(bot: Bot) -> None:
        notifier = TelegramNotifier(bot, [VIEWER], level="warning", sleep=Waits())
        await notifier.start()
        notifier.notify(sent())
        notifier.notify(ErrorEvent(at=AT, error="DataError", message="bad bars"))
        await notifier.stop()

    run(fake, body)
    assert len(fake.texts()) == 1


def test_messages_to_one_chat_are_spaced_by_the_interval() -> None:
    fake = FakeTelegram()

    async def body(bot: Bot) -> None:
        notifier = TelegramNotifier(bot, [VIEWER], min_interval_s=0.1)
        await notifier.start()
        for _ in range(3):
            notifier.notify(sent())
        await notifier.stop()

    run(fake, body)
    stamps = [c.at for c in fake.sent()]
    assert len(stamps) == 3
    assert all(b - a >= 0.09 for a, b in itertools.pairwise(stamps))


def test_a_long_message_is_split_under_4096_characters() -> None:
    fake = FakeTelegram()
    long = ErrorEvent(at=AT, error="X", message="\n".join("y" * 100 for _ in range(100)))

    async def body(bot: Bot) -> None:
        notifier = TelegramNotifier(bot, [VIEWER], sleep=Waits())
        await notifier.start()
        notifier.notify(long)
        await notifier.stop()

    run(fake, body)
    texts = fake.texts()
    assert len(texts) == 3
    assert all(len(t) <= 4096 for t in texts)


def test_a_daily_report_comes_with_an_equity_chart() -> None:
    fake = FakeTelegram()

    async def body(bot: Bot) -> None:
        notifier = TelegramNotifier(bot, [VIEWER], curves=curves, sleep=Waits())
        await notifier.start()
        notifier.notify(DailyReport(at=AT, day=DAY, accounts=REPORTS))
        await notifier.stop()

    run(fake, body)
    (photo,) = fake.sent("sendPhoto")
    report = DailyReport(at=AT, day=DAY, accounts=REPORTS)
    assert png_in(photo.raw) == event_message(report, curves).image  # the 1080 px chart
    assert b"Daily report 2024-03-14" in photo.raw  # the caption
    (text,) = fake.texts()
    assert "trend-daily ▁" in text  # a sparkline per account


def test_without_matplotlib_a_daily_report_is_sent_as_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    fake = FakeTelegram()

    async def body(bot: Bot) -> None:
        notifier = TelegramNotifier(bot, [VIEWER], curves=curves, sleep=Waits())
        await notifier.start()
        notifier.notify(DailyReport(at=AT, day=DAY, accounts=REPORTS))
        await notifier.stop()

    run(fake, body)
    assert not fake.sent("sendPhoto")
    (text,) = fake.texts()
    assert text.startswith("Daily report 2024-03-14")
    assert text.endswith(NO_MATPLOTLIB)


def test_flood_control_is_waited_out_and_the_message_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "PTB_TIMEDELTA", "true"
    )  # PTB 22's retry_after without a deprecation warning
    fake = FakeTelegram()
    fake.fail_next("sendMessage", 429, fixture("error_429_retry_after.json"))
    waits = Waits()

    async def body(bot: Bot) -> None:
        notifier = TelegramNotifier(bot, [VIEWER], sleep=waits)
        await notifier.start()
        notifier.notify(sent())
        await notifier.stop()

    run(fake, body)
    assert len(fake.sent()) == 2
    assert waits.waits == [1.0]


def test_a_refused_message_is_dropped_and_the_next_one_still_goes() -> None:
    fake = FakeTelegram()
    fake.fail_next("sendMessage", 400, fixture("error_400_chat_not_found.json"))

    async def body(bot: Bot) -> None:
        notifier = TelegramNotifier(bot, [VIEWER], sleep=Waits())
        await notifier.start()
        notifier.notify(sent())
        notifier.notify(sent())
        await notifier.stop()

    run(fake, body)
    assert len(fake.sent()) == 2  # the refused one was not retried


def test_notify_from_another_thread_is_delivered_on_the_bots_loop() -> None:
    fake = FakeTelegram()

    async def body(bot: Bot) -> None:
        notifier = TelegramNotifier(bot, [VIEWER], sleep=Waits())
        await notifier.start()
        threads = [threading.Thread(target=notifier.notify, args=(sent(),)) for _ in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        await asyncio.sleep(0.05)  # let the loop take the items in
        await notifier.stop()

    run(fake, body)
    assert len(fake.texts()) == 5


def test_attached_alerts_start_and_stop_with_the_application() -> None:
    fake = FakeTelegram()
    cfg = TelegramConfig(chats=(ChatAccess(chat_id=VIEWER, user_ids=(VIEWER,)),))

    async def go() -> None:
        app = Application.builder().token(TOKEN).request(fake.request()).job_queue(None).build()
        notifier = attach_alerts(app, cfg)
        notifier.notify(sent())  # before the bot runs: kept
        async with app:
            assert app.post_init is not None
            await app.post_init(app)  # what run_polling does
            await notifier.drain()
            assert app.post_shutdown is not None
            await app.post_shutdown(app)

    asyncio.run(go())
    assert fake.texts() == ["trend-daily: BUY 2 AAPL @~178.00 (target 20%)"]
