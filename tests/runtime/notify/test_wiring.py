"""The engine's notifiers and extensions come from the config and the secrets file."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from invest.runtime.config import parse_config
from invest.runtime.notify import (
    TelegramExtension,
    build_extensions,
    build_notifiers,
    build_telegram,
)
from invest.runtime.notify.discord import DiscordNotifier
from invest.runtime.paths import Paths
from tests.runtime.notify.events import sent
from tests.runtime.notify.support import TOKEN, TRADER, FakeControl, FakeTelegram, config

WEBHOOK = "https://discord.com/api/webhooks/1/fake-webhook-token"
SECRET_VARS = ("ALPACA_API_KEY", "ALPACA_SECRET_KEY", "TELEGRAM_BOT_TOKEN", "DISCORD_WEBHOOK_URL")


@pytest.fixture
def paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Paths:
    for var in SECRET_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("INVEST_SECRETS", str(tmp_path / "secrets.env"))
    return Paths(tmp_path / "config.toml", "test", tmp_path, "test")


def secrets_file(paths: Paths, **values: str) -> None:
    paths.secrets.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    paths.secrets.chmod(0o600)


def settings(**engine: Any) -> Any:
    return parse_config({"engine": engine})


def test_the_secrets_file_is_invest_secrets_else_in_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INVEST_SECRETS", "/somewhere/secrets.env")
    p = Paths(tmp_path / "c.toml", "test", tmp_path, "test")
    assert p.secrets == Path("/somewhere/secrets.env")
    monkeypatch.delenv("INVEST_SECRETS")
    monkeypatch.setattr("invest.runtime.paths.SYSTEM_SECRETS", tmp_path / "absent.env")
    assert p.secrets == tmp_path / "secrets.env"


def test_the_config_accepts_the_engine_telegram_discord_and_alpaca_sections() -> None:
    s = parse_config(
        {
            "engine": {
                "alpaca": {"paper": True, "feed": "iex"},
                "telegram": {
                    "enabled": True,
                    "chats": [{"chat_id": 42, "user_ids": [42], "role": "trader"}],
                },
                "discord": {"enabled": True, "alert_level": "warning"},
            },
            "accounts": {"live": {"universe": ["SPY"], "broker": "alpaca"}},
        }
    )
    assert s.engine.alpaca.paper
    assert s.engine.telegram.chats[0].role == "trader"
    assert s.engine.discord.alert_level == "warning"
    assert s.accounts["live"].broker == "alpaca"


def test_nothing_is_built_when_every_channel_is_off(paths: Paths) -> None:
    secrets_file(paths, TELEGRAM_BOT_TOKEN=TOKEN, DISCORD_WEBHOOK_URL=WEBHOOK)
    assert build_notifiers(settings(), paths) == []
    assert build_extensions(settings(), paths) == []


def test_discord_is_built_when_enabled_with_its_webhook(paths: Paths) -> None:
    secrets_file(paths, DISCORD_WEBHOOK_URL=WEBHOOK)
    out = build_notifiers(settings(discord={"enabled": True}), paths)
    assert len(out) == 1
    assert isinstance(out[0], DiscordNotifier)
    out[0].close()


def test_an_enabled_channel_without_its_secret_is_skipped_with_a_warning(
    paths: Paths, caplog: pytest.LogCaptureFixture
) -> None:
    s = settings(discord={"enabled": True}, telegram={"enabled": True})
    with caplog.at_level(logging.WARNING):
        assert build_notifiers(s, paths, telegram=None) == []
        assert build_telegram(s, paths) is None
    text = caplog.text
    assert "DISCORD_WEBHOOK_URL is not set" in text
    assert "TELEGRAM_BOT_TOKEN is not set" in text


def test_one_telegram_bot_is_both_the_alerts_notifier_and_the_extension(paths: Paths) -> None:
    secrets_file(paths, TELEGRAM_BOT_TOKEN=TOKEN)
    s = settings(telegram={"enabled": True})
    bot = build_telegram(s, paths)
    assert isinstance(bot, TelegramExtension)
    assert build_notifiers(s, paths, telegram=bot) == [bot]
    assert build_extensions(s, paths, telegram=bot) == [bot]
    bot.stop()  # never started: nothing to do


class PollingTelegram(FakeTelegram):
    """The fake Bot API, also answering the polling calls."""

    polls: int = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        method = request.url.path.rsplit("/", 1)[-1]
        if method == "getUpdates":
            self.polls += 1
            time.sleep(0.01)
            return httpx.Response(200, json={"ok": True, "result": []})
        if method == "deleteWebhook":
            return httpx.Response(200, json={"ok": True, "result": True})
        return super().handler(request)


def test_the_telegram_extension_starts_polls_alerts_and_stops() -> None:
    fake = PollingTelegram()
    ext = TelegramExtension(config(), TOKEN, request=fake.request(), updates_request=fake.request())
    ext.notify(sent())  # before start: queued
    ext.start(FakeControl())
    try:
        deadline = time.monotonic() + 10
        while not fake.polls:
            assert time.monotonic() < deadline, "the bot never polled"
            time.sleep(0.02)
    finally:
        ext.stop()
    assert ext.app.updater is not None
    assert not ext.app.updater.running
    assert not ext.app.running
    assert {int(c.params["chat_id"]) for c in fake.sent()} >= {TRADER}
    ext.stop()  # twice is fine


def test_reports_get_each_accounts_equity_curve_from_the_ledger(tmp_path: Path) -> None:
    from datetime import UTC, date, datetime

    from invest.runtime.cli import main
    from invest.runtime.events import AccountReport, DailyReport
    from invest.runtime.notify.format import event_message
    from invest.runtime.notify.wiring import ledger_curves

    ledger = tmp_path / "demo.sqlite"
    assert main(["demo", "--quick", "--ledger", str(ledger)]) == 0
    report = DailyReport(
        at=datetime(2022, 12, 28, 22, tzinfo=UTC),
        day=date(2022, 12, 28),
        accounts=(AccountReport("trend-daily", 9800.0, -20.0, -0.002, 0, 0, "ACTIVE"),),
    )
    data = ledger_curves(ledger, days=30)(report)
    assert [c.account for c in data.curves] == ["trend-daily"]
    assert len(data.curves[0].equity) == len(data.curves[0].days) == 30
    assert data.curves[0].days[-1] == date(2022, 12, 28)
    assert data.benchmark is None  # no benchmark source given: the chart says n/a
    message = event_message(report, ledger_curves(ledger))
    assert message.image is not None
    assert message.image.startswith(b"\x89PNG")
