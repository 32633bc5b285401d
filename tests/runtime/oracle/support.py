"""Fakes for the oracle tests: a scripted OpenAI-compatible server, a clock, a context."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from invest.runtime.oracle import (
    ChatRequest,
    ChatResponse,
    Health,
    NewsDigest,
    OracleConfig,
    OracleContext,
    PortfolioSnapshot,
    PositionSnapshot,
    SymbolSnapshot,
    Usage,
)
from invest.runtime.oracle.news.items import make_item

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "oracle"
CYCLE_TIME = datetime(2024, 6, 12, 20, 0, tzinfo=UTC)
SECRET = "sk-test-SECRET-9f8e7d6c5b4a"  # noqa: S105 - fake key; tests prove it never leaks


@dataclass
class Reply:
    """One scripted HTTP answer."""

    status: int = 200
    body: Any = None
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


def completion(
    content: str, *, model: str = "main", prompt: int = 100, completion_tokens: int = 20
) -> Reply:
    """A chat completion answer in the OpenAI shape, with a ``usage`` field."""
    return Reply(
        body={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt + completion_tokens,
            },
        }
    )


@dataclass
class Recorded:
    """A request the fake server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None


class FakeLLMServer:
    """A threaded OpenAI-compatible server answering from a script.

    Queued replies are used first; then ``respond`` (a function of the request
    body) if set; otherwise a 500.
    """

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.respond: Callable[[dict[str, Any]], Reply] | None = None
        self.requests: list[Recorded] = []
        self.models = ["main", "backup"]
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def url(self) -> str:
        """The API root, ``http://127.0.0.1:PORT/v1``."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def queue(self, *replies: Reply) -> None:
        """Script the next answers."""
        with self._lock:
            self.replies.extend(replies)

    def answer(self, *contents: str) -> None:
        """Script the next answers as completions with these contents."""
        self.queue(*(completion(c) for c in contents))

    @property
    def chat_requests(self) -> list[Recorded]:
        """Requests to ``/chat/completions``."""
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _next(self, body: dict[str, Any] | None) -> Reply:
        with self._lock:
            if self.replies:
                return self.replies.popleft()
        if self.respond is not None and body is not None:
            return self.respond(body)
        return Reply(500, {"error": "no scripted reply"})

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append(Recorded("GET", self.path, dict(self.headers), None))
                models = {"object": "list", "data": [{"id": m} for m in server.models]}
                self._send(Reply(body=models))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                server.requests.append(Recorded("POST", self.path, dict(self.headers), body))
                self._send(server._next(body))

            def _send(self, reply: Reply) -> None:
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                if isinstance(reply.body, str):
                    payload = reply.body.encode()
                else:
                    payload = json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and left

        return Handler


class FixedClock:
    """A clock that only moves when told to."""

    def __init__(self, at: datetime = CYCLE_TIME) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, **kwargs: float) -> None:
        self.at += timedelta(**kwargs)


def make_config(server: FakeLLMServer, **overrides: Any) -> OracleConfig:
    """Settings pointing at the fake server, with small timeouts and no real waits."""
    values: dict[str, Any] = {
        "base_url": server.url,
        "model": "main",
        "fallback_models": ("backup",),
        "api_key": SECRET,
        "timeout_s": 2.0,
        "connect_timeout_s": 1.0,
        "max_retries": 1,
        "backoff_s": 0.5,
        "backoff_max_s": 5.0,
    }
    values.update(overrides)
    return OracleConfig.model_validate(values)


def sample_context(news: NewsDigest | None = None) -> OracleContext:
    """A small point-in-time context: three symbols, one position, two headlines."""
    closes = tuple(180.0 + i for i in range(30))
    if news is None:
        items = (
            make_item(
                "Apple (AAPL) beats estimates",
                "https://news.example.com/a",
                source="wire",
                published=CYCLE_TIME - timedelta(days=1),
                fetched=CYCLE_TIME,
                symbols=("AAPL",),
            ),
            make_item(
                "Probe into MSFT cloud contracts",
                "https://news.example.com/m",
                source="wire",
                published=CYCLE_TIME - timedelta(days=2),
                fetched=CYCLE_TIME,
                symbols=("MSFT",),
            ),
        )
        news = NewsDigest(items, "2 headlines")
    return OracleContext(
        cycle_time=CYCLE_TIME,
        regime="ATTACK",
        symbols={
            s: SymbolSnapshot(s, closes, {"rsi_14": 55.5, "sma200_gap": 0.04}, "Technology")
            for s in ("AAPL", "MSFT", "NVDA")
        },
        portfolio=PortfolioSnapshot(
            equity=Decimal("100000"),
            cash=Decimal("40000"),
            positions=(PositionSnapshot("MSFT", Decimal("20000"), 0.2, 0.05, 40),),
        ),
        news=news,
    )


class ScriptedClient:
    """An in-process LLMClient answering from a function of the request; counts calls."""

    model = "scripted"

    def __init__(self, answer: Callable[[ChatRequest], str]) -> None:
        self.answer = answer
        self.calls: list[ChatRequest] = []

    def complete(self, request: ChatRequest) -> ChatResponse:
        self.calls.append(request)
        return ChatResponse(self.answer(request), self.model, Usage(10, 5))

    def health(self) -> Health:
        return Health(ok=True)

    def close(self) -> None:
        pass
