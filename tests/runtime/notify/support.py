"""Helpers for the notify tests: a fake Bot API behind PTB's real HTTPXRequest, updates, a control."""

from __future__ import annotations

import copy
import json
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
from telegram import Bot, Update
from telegram.request import HTTPXRequest

from invest.runtime.config.notify import ChatAccess, TelegramConfig
from invest.runtime.control.api import Reply, Request

FIXTURES = Path(__file__).parents[2] / "fixtures" / "telegram"
TOKEN = "7000000001:AAHfakeFAKEfake-TOKEN_never_logged_12345"  # noqa: S105 - fake, for the redaction tests
VIEWER, TRADER, STRANGER = 111, 333, 999
GROUP = -1001234567890


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


@dataclass
class Call:
    method: str
    params: dict[str, str]
    raw: bytes
    at: float


@dataclass
class FakeTelegram:
    """The Bot API: records every call and answers from the fixtures (or queued overrides)."""

    calls: list[Call] = field(default_factory=list)
    overrides: dict[str, deque[tuple[int, dict[str, Any]]]] = field(
        default_factory=lambda: defaultdict(deque)
    )
    urls: list[str] = field(default_factory=list)

    def fail_next(self, method: str, status: int, body: dict[str, Any]) -> None:
        self.overrides[method].append((status, body))

    def handler(self, request: httpx.Request) -> httpx.Response:
        method = request.url.path.rsplit("/", 1)[-1]
        self.urls.append(str(request.url))
        raw = request.content
        kind = request.headers.get("content-type", "")
        params = (
            {k: v[-1] for k, v in parse_qs(raw.decode()).items()}
            if kind.startswith("application/x-www-form-urlencoded")
            else {}
        )
        self.calls.append(Call(method, params, raw, time.monotonic()))
        if self.overrides[method]:
            status, body = self.overrides[method].popleft()
            return httpx.Response(status, json=body)
        return httpx.Response(200, json=self._answer(method, params))

    def _answer(self, method: str, params: dict[str, str]) -> dict[str, Any]:
        if method == "getMe":
            return fixture("get_me.json")
        if method == "answerCallbackQuery":
            return fixture("answer_callback_query.json")
        if method == "sendPhoto":
            body = fixture("send_photo.json")
            body["result"]["chat"]["id"] = int(params.get("chat_id", 0) or 0)
            return body
        body = fixture("send_message.json")
        body["result"]["chat"]["id"] = int(params.get("chat_id", 0) or 0)
        body["result"]["text"] = params.get("text", "")
        return body

    def request(self) -> HTTPXRequest:
        return HTTPXRequest(httpx_kwargs={"transport": httpx.MockTransport(self.handler)})

    def sent(self, method: str = "sendMessage") -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def texts(self) -> list[str]:
        return [c.params["text"] for c in self.sent()]


def command_update(text: str, *, chat: int = VIEWER, user: int = VIEWER) -> dict[str, Any]:
    """A message update carrying ``text`` (a /command) from ``user`` in ``chat``."""
    data = copy.deepcopy(
        fixture("update_command_private.json" if chat > 0 else "update_command_group.json")
    )
    msg = data["message"]
    msg["text"] = text
    msg["entities"][0]["length"] = len(text.split()[0])
    msg["chat"]["id"] = chat
    msg["from"]["id"] = user
    return data


def callback_update(data: str, *, chat: int = TRADER, user: int = TRADER) -> dict[str, Any]:
    """A button press with callback ``data``."""
    update = copy.deepcopy(fixture("update_callback_query.json"))
    update["callback_query"]["data"] = data
    update["callback_query"]["from"]["id"] = user
    update["callback_query"]["message"]["chat"]["id"] = chat
    return update


def as_update(data: dict[str, Any], bot: Bot) -> Update:
    update = Update.de_json(data, bot)
    assert update is not None
    return update


@dataclass
class FakeControl:
    """Answers control requests from a table by op; records every request."""

    replies: dict[str, Reply] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)

    def handle(self, request: Request) -> Reply:
        self.requests.append(request)
        return self.replies.get(request.op, Reply(ok=True, data={"text": f"{request.op} done"}))


def config(**overrides: Any) -> TelegramConfig:
    base: dict[str, Any] = {
        "enabled": True,
        "chats": [
            ChatAccess(chat_id=VIEWER, user_ids=(VIEWER,), role="viewer"),
            ChatAccess(chat_id=TRADER, user_ids=(TRADER,), role="trader"),
            ChatAccess(chat_id=GROUP, user_ids=(VIEWER, TRADER), role="viewer"),
        ],
    }
    return TelegramConfig(**{**base, **overrides})
