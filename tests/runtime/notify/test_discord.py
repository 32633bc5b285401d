"""DiscordNotifier posts events to the webhook: split under 2000, charts attached, 429 waited out."""

from __future__ import annotations

import json
import logging
import sys

import httpx
import pytest

from invest.runtime.config.notify import DiscordConfig
from invest.runtime.errors import ConfigError
from invest.runtime.events import DailyReport, ErrorEvent, Notifier
from invest.runtime.notify.discord import DiscordNotifier
from invest.runtime.notify.format import NO_MATPLOTLIB, event_message
from tests.runtime.notify.events import AT, DAY, REPORTS, curves, png_in, sent

WEBHOOK = "https://discord.com/api/webhooks/1216000000000000000/fAkEwEbHoOkToKeN_never-logged"


class Hook:
    def __init__(self, *answers: httpx.Response) -> None:
        self.requests: list[httpx.Request] = []
        self.answers = list(answers)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answers.pop(0) if self.answers else httpx.Response(204)

    def contents(self) -> list[str]:
        return [json.loads(r.content)["content"] for r in self.requests]


class Waits:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def make(hook: Hook, waits: Waits | None = None, **cfg: object) -> DiscordNotifier:
    return DiscordNotifier(
        DiscordConfig(enabled=True, **cfg),
        WEBHOOK,
        curves=curves,
        transport=httpx.MockTransport(hook),
        sleep=waits or Waits(),
    )


def test_an_event_is_posted_as_content_without_mentions() -> None:
    hook = Hook()
    notifier = make(hook)
    assert isinstance(notifier, Notifier)
    notifier.notify(sent())
    (request,) = hook.requests
    assert str(request.url) == WEBHOOK
    body = json.loads(request.content)
    assert body == {
        "content": "trend-daily: BUY 2 AAPL @~178.00 (target 20%)",
        "allowed_mentions": {"parse": []},
    }


def test_a_long_message_is_split_under_2000_characters_and_spaced() -> None:
    hook, waits = Hook(), Waits()
    make(hook, waits, min_interval_s=0.5).notify(
        ErrorEvent(at=AT, error="X", message="\n".join("z" * 99 for _ in range(50)))
    )
    contents = hook.contents()
    assert len(contents) == 3
    assert all(len(c) <= 2000 for c in contents)
    assert len(waits.waits) == 2  # the second and third posts waited their turn


def test_a_daily_report_attaches_the_chart() -> None:
    hook = Hook()
    make(hook).notify(DailyReport(at=AT, day=DAY, accounts=REPORTS))
    (request,) = hook.requests
    assert request.headers["content-type"].startswith("multipart/form-data")
    assert b'name="files[0]"; filename="equity.png"' in request.content
    report = DailyReport(at=AT, day=DAY, accounts=REPORTS)
    assert png_in(request.content) == event_message(report, curves).image  # the 1080 px chart
    assert b"Daily report 2024-03-14" in request.content


def test_without_matplotlib_the_report_is_posted_as_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    hook = Hook()
    make(hook).notify(DailyReport(at=AT, day=DAY, accounts=REPORTS))
    (content,) = hook.contents()
    assert content.startswith("Daily report 2024-03-14")
    assert content.endswith(NO_MATPLOTLIB)


def test_a_429_is_waited_out_then_posted() -> None:
    hook, waits = Hook(httpx.Response(429, json={"retry_after": 1.5, "global": False})), Waits()
    make(hook, waits, min_interval_s=0).notify(sent())
    assert len(hook.requests) == 2
    assert waits.waits == [1.5]


def test_a_failure_is_logged_without_the_webhook_token(caplog: pytest.LogCaptureFixture) -> None:
    hook = Hook(httpx.Response(404, json={"message": "Unknown Webhook", "code": 10015}))
    with caplog.at_level(logging.DEBUG):
        notifier = make(hook)
        notifier.notify(sent())
        logging.getLogger("invest.test").warning("posting to %s failed", WEBHOOK)
    assert "HTTP 404" in caplog.text
    assert "fAkEwEbHoOkToKeN" not in caplog.text


def test_an_unreachable_discord_is_logged_and_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    notifier = DiscordNotifier(
        DiscordConfig(enabled=True), WEBHOOK, transport=httpx.MockTransport(refuse)
    )
    with caplog.at_level(logging.WARNING):
        notifier.notify(sent())
    assert "ConnectError" in caplog.text
    assert "fAkEwEbHoOkToKeN" not in caplog.text


def test_the_level_filters_events() -> None:
    hook = Hook()
    make(hook, alert_level="critical").notify(sent())
    assert hook.requests == []


def test_a_missing_or_plain_http_webhook_is_a_config_error() -> None:
    for url in (None, "", "http://discord.com/api/webhooks/1/x"):
        with pytest.raises(ConfigError, match="DISCORD_WEBHOOK_URL"):
            DiscordNotifier(DiscordConfig(enabled=True), url)
