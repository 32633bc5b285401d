"""The Telegram bot serves allowlisted chats and users only, by role, over the control channel."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from invest.runtime.config.notify import TelegramConfig
from invest.runtime.control.api import Reply, Request
from invest.runtime.errors import ConfigError
from invest.runtime.notify.telegram import TelegramBot
from tests.runtime.notify.support import (
    GROUP,
    STRANGER,
    TOKEN,
    TRADER,
    VIEWER,
    FakeControl,
    FakeTelegram,
    as_update,
    callback_update,
    command_update,
    config,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def talk(bot: TelegramBot, fake: FakeTelegram, *updates: dict[str, Any]) -> None:
    """Feed ``updates`` through a real PTB Application whose Bot API is ``fake``."""

    async def go() -> None:
        app = bot.build_application(request=fake.request(), updates_request=fake.request())
        await app.initialize()
        try:
            for data in updates:
                await app.process_update(as_update(data, app.bot))
        finally:
            await app.shutdown()

    asyncio.run(go())


def make(
    control: FakeControl | None = None, cfg: TelegramConfig | None = None, **kw: Any
) -> tuple[TelegramBot, FakeControl, FakeTelegram]:
    control = control or FakeControl()
    return TelegramBot(cfg or config(), control, TOKEN, **kw), control, FakeTelegram()


def test_a_viewer_gets_the_status_from_the_control_channel() -> None:
    bot, control, fake = make(FakeControl({"status": Reply(ok=True, data={"engine": "ACTIVE"})}))
    talk(bot, fake, command_update("/status"))
    assert control.requests == [Request("status", {}, actor=f"telegram:{VIEWER}", role="viewer")]
    (sent,) = fake.sent()
    assert sent.params["chat_id"] == str(VIEWER)
    assert sent.params["text"] == "engine: ACTIVE"


def test_an_unknown_chat_gets_no_answer_and_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    bot, control, fake = make()
    with caplog.at_level(logging.WARNING):
        talk(bot, fake, command_update("/status", chat=STRANGER, user=STRANGER))
    assert control.requests == []
    assert fake.sent() == []
    assert [c.method for c in fake.calls] == ["getMe"]  # initialize only
    (line,) = [r.getMessage() for r in caplog.records if "not allowlisted" in r.getMessage()]
    assert f"chat {STRANGER} user {STRANGER}" in line
    assert TOKEN not in caplog.text


def test_an_allowlisted_chat_does_not_serve_an_unlisted_user() -> None:
    bot, control, fake = make()
    talk(bot, fake, command_update("/status", chat=GROUP, user=STRANGER))
    assert control.requests == []
    assert fake.sent() == []


def test_an_allowlisted_user_in_another_chat_is_a_stranger() -> None:
    bot, control, fake = make()
    talk(bot, fake, command_update("/status", chat=TRADER, user=VIEWER))
    assert control.requests == []
    assert fake.sent() == []


def test_an_empty_allowlist_serves_nobody() -> None:
    bot, control, fake = make(cfg=TelegramConfig(enabled=True))
    talk(bot, fake, command_update("/help"), command_update("/status", chat=TRADER, user=TRADER))
    assert control.requests == []
    assert fake.sent() == []


def test_a_viewer_cannot_write_and_is_told_the_role_needed() -> None:
    bot, control, fake = make()
    talk(bot, fake, command_update("/pause trend-daily"), command_update("/halt", chat=GROUP))
    assert control.requests == []
    assert fake.texts() == ["Not allowed: this needs the trader role."] * 2


def test_trader_commands_become_control_requests_with_the_actor() -> None:
    bot, control, fake = make()
    updates = [
        command_update(text, chat=TRADER, user=TRADER)
        for text in (
            "/pause trend-daily",
            "/resume trend-daily",
            "/resume all",
            "/halt market looks broken",
            "/run trend-daily",
            "/trades trend-daily 5",
            "/why aapl trend-daily",
            "/positions",
            "/pnl trend-daily",
            "/regime",
            "/report",
        )
    ]
    talk(bot, fake, *updates)
    assert [(r.op, r.args) for r in control.requests] == [
        ("pause", {"account": "trend-daily"}),
        ("resume", {"account": "trend-daily"}),
        ("resume_all", {}),
        ("halt", {"reason": "market looks broken"}),
        ("run", {"account": "trend-daily"}),
        ("trades", {"account": "trend-daily", "limit": 5}),
        ("why", {"symbol": "AAPL", "account": "trend-daily"}),
        ("positions", {}),
        ("pnl", {"account": "trend-daily"}),
        ("regime", {}),
        ("report", {}),
    ]
    assert {(r.actor, r.role) for r in control.requests} == {(f"telegram:{TRADER}", "trader")}
    assert len(fake.sent()) == len(updates)


def test_a_write_command_without_its_account_shows_the_usage() -> None:
    bot, control, fake = make()
    talk(bot, fake, command_update("/pause", chat=TRADER, user=TRADER), command_update("/why"))
    assert control.requests == []
    assert fake.texts() == ["Usage: /pause ACCOUNT", "Usage: /why SYMBOL [ACCOUNT]"]


def test_help_lists_the_trader_commands_to_traders_only() -> None:
    bot, _, fake = make()
    talk(bot, fake, command_update("/help"), command_update("/help", chat=TRADER, user=TRADER))
    viewer, trader = fake.texts()
    assert "/status" in viewer
    assert "/flatten" not in viewer
    assert "/flatten ACCOUNT" in trader


def test_why_shows_the_explanation_record_for_the_symbol() -> None:
    record = {
        "day": "2024-03-14",
        "account": "trend-daily",
        "regime": "ATTACK",
        "equity": 10234.5,
        "scores": {"AAPL": 1.8, "MSFT": 1.2},
        "orders": [
            {
                "side": "buy",
                "qty": "2",
                "symbol": "AAPL",
                "ref_price": "178",
                "reason": "target 20%",
            }
        ],
        "clamps": [{"rule": "max_position", "symbol": "MSFT", "reason": "capped"}],
    }
    bot, _, fake = make(FakeControl({"why": Reply(ok=True, data={"record": record})}))
    talk(bot, fake, command_update("/why AAPL"))
    (text,) = fake.texts()
    assert "scores: AAPL 1.8" in text
    assert "order buy 2 AAPL" in text
    assert "max_position" not in text  # MSFT's clamp is not about AAPL


def test_a_long_reply_is_split_under_telegrams_limit() -> None:
    lines = "\n".join(f"fill {i}: BUY 1 AAPL at 178.00 " + "x" * 40 for i in range(200))
    bot, _, fake = make(FakeControl({"trades": Reply(ok=True, data={"text": lines})}))
    talk(bot, fake, command_update("/trades"))
    texts = fake.texts()
    assert len(texts) == 4
    assert all(len(t) <= 4096 for t in texts)
    assert "\n".join(texts) == lines


def test_a_failed_request_shows_the_engine_error() -> None:
    bot, _, fake = make(FakeControl({"pause": Reply(ok=False, error="no account 'x'")}))
    talk(bot, fake, command_update("/pause x", chat=TRADER, user=TRADER))
    assert fake.texts() == ["✗ no account 'x'"]


def flatten_control() -> FakeControl:
    return FakeControl(
        {"flatten": Reply(ok=True, data={"confirm": "k3y9", "positions": ["AAPL", "MSFT"]})}
    )


def test_flatten_asks_for_a_confirmation_before_anything_is_sold() -> None:
    bot, control, fake = make(flatten_control())
    talk(bot, fake, command_update("/flatten trend-daily", chat=TRADER, user=TRADER))
    assert [r.args for r in control.requests] == [{"account": "trend-daily"}]  # no confirm
    (sent,) = fake.sent()
    assert "/flatten trend-daily k3y9" in sent.params["text"]
    markup = json.loads(sent.params["reply_markup"])
    (button,) = markup["inline_keyboard"][0]
    assert button["callback_data"] == "flatten:trend-daily:k3y9"


def test_flatten_runs_only_with_the_right_token_once() -> None:
    bot, control, fake = make(flatten_control())
    trader = {"chat": TRADER, "user": TRADER}
    talk(
        bot,
        fake,
        command_update("/flatten trend-daily", **trader),
        command_update("/flatten trend-daily nope", **trader),
        command_update("/flatten trend-daily k3y9", **trader),
        command_update("/flatten trend-daily k3y9", **trader),
    )
    assert [r.args for r in control.requests] == [
        {"account": "trend-daily"},
        {"account": "trend-daily", "confirm": "k3y9"},
    ]
    texts = fake.texts()
    assert texts[1].startswith("✗ No pending flatten")
    assert texts[3].startswith("✗ No pending flatten")  # a token works once


def test_flatten_is_confirmed_by_the_button() -> None:
    bot, control, fake = make(flatten_control())
    talk(
        bot,
        fake,
        command_update("/flatten trend-daily", chat=TRADER, user=TRADER),
        callback_update("flatten:trend-daily:k3y9"),
    )
    assert control.requests[-1].args == {"account": "trend-daily", "confirm": "k3y9"}
    assert [c.method for c in fake.calls if c.method == "answerCallbackQuery"] == [
        "answerCallbackQuery"
    ]


def test_a_stranger_pressing_the_button_gets_nothing() -> None:
    bot, control, fake = make(flatten_control())
    talk(
        bot,
        fake,
        command_update("/flatten trend-daily", chat=TRADER, user=TRADER),
        callback_update("flatten:trend-daily:k3y9", chat=TRADER, user=STRANGER),
    )
    assert len(control.requests) == 1
    assert len(fake.sent()) == 1
    assert not [c for c in fake.calls if c.method == "answerCallbackQuery"]


def test_a_flatten_token_expires() -> None:
    clock = Clock()
    bot, control, fake = make(flatten_control(), monotonic=clock)
    talk(bot, fake, command_update("/flatten trend-daily", chat=TRADER, user=TRADER))
    clock.now += 61
    talk(bot, fake, command_update("/flatten trend-daily k3y9", chat=TRADER, user=TRADER))
    assert len(control.requests) == 1
    assert fake.texts()[-1].startswith("✗ No pending flatten")


def test_without_a_token_from_the_engine_flatten_does_nothing() -> None:
    bot, control, fake = make(FakeControl({"flatten": Reply(ok=False, error="unknown account")}))
    talk(bot, fake, command_update("/flatten nope", chat=TRADER, user=TRADER))
    assert fake.texts() == ["✗ unknown account"]
    assert len(control.requests) == 1


def test_a_missing_token_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="TELEGRAM_BOT_TOKEN"):
        TelegramBot(config(), FakeControl(), "")


def test_the_token_appears_in_no_log_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    bot, _, fake = make(flatten_control())
    httpx_logger = logging.getLogger("httpx")
    level = httpx_logger.level
    httpx_logger.setLevel(logging.DEBUG)  # as if someone turned it back on: still redacted
    try:
        talk(
            bot,
            fake,
            command_update("/status"),
            command_update("/status", chat=STRANGER, user=STRANGER),
            command_update("/flatten trend-daily", chat=TRADER, user=TRADER),
            callback_update("flatten:trend-daily:k3y9"),
        )
        logging.getLogger("telegram.ext").info(
            "calling https://api.telegram.org/bot%s/getMe", TOKEN
        )
        try:
            raise RuntimeError(f"connection to https://api.telegram.org/bot{TOKEN}/sendMessage")
        except RuntimeError:
            logging.getLogger("invest.test").exception("send failed")
    finally:
        httpx_logger.setLevel(level)
    assert any(TOKEN in url for url in fake.urls)  # the token was really used
    assert any(r.name == "httpx" for r in caplog.records)  # and httpx really logged the URLs
    assert any("bot<redacted>" in r.getMessage() for r in caplog.records)
    assert TOKEN not in caplog.text
    secret_part = TOKEN.split(":", 1)[1]
    for record in caplog.records:
        assert secret_part not in record.getMessage()
        assert secret_part not in str(record.args)
        assert secret_part not in (record.exc_text or "")
    assert TOKEN not in repr(bot)


def test_a_failing_control_still_gets_the_chat_an_answer(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        def handle(self, request: Request) -> Reply:
            raise RuntimeError("ledger locked")

    fake = FakeTelegram()
    with caplog.at_level(logging.ERROR):
        talk(TelegramBot(config(), Broken(), TOKEN), fake, command_update("/status"))
    assert fake.texts() == ["✗ engine error: RuntimeError"]
    assert "control status failed" in caplog.text
