"""Helpers for the Alpaca broker tests: a local Trading API v2 serving recorded JSON.

The real alpaca-py ``TradingClient`` talks to it through ``url_override``, so the
SDK's request building, error handling and model parsing all run.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from invest.runtime.adapters.alpaca.broker import AlpacaBroker
from invest.runtime.clock import FixedClock
from invest.runtime.config.alpaca import AlpacaConfig
from invest.runtime.domain import OrderIntent, Side, client_order_id

FIXTURES = Path(__file__).parents[2] / "fixtures" / "alpaca_trading"
KEY, SECRET = "PKTESTKEY0000000000", "trading-s3cr3t-never-shown"
ACCOUNT = "alpaca-paper"
CYCLE = "alpaca-paper:2024-03-13"
DAY = date(2024, 3, 13)
START = datetime(2024, 3, 14, 13, 0, tzinfo=UTC)


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    params: dict[str, str]
    body: Any
    key_header: str | None


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    delay_s: float = 0.0


@dataclass
class FakeAlpaca:
    """Routes (method, path) to queued answers; the last answer of a route repeats."""

    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    routes: dict[tuple[str, str], deque[Answer]] = field(default_factory=lambda: defaultdict(deque))

    def on(
        self, method: str, path: str, *answers: tuple[int, str] | tuple[int, str, float]
    ) -> None:
        """Queue answers: (status, fixture name or raw JSON[, delay in seconds]).

        ``path`` may carry an exact query (``/v2/orders:by_client_order_id?client_order_id=X``);
        such a route wins over the bare path.
        """
        for a in answers:
            body = a[1] if a[1].lstrip().startswith(("{", "[")) else fixture(a[1])
            self.routes[(method, path)].append(Answer(a[0], body, a[2] if len(a) > 2 else 0.0))

    def answer(self, method: str, path: str, query: str) -> Answer:
        queue = self.routes.get((method, f"{path}?{query}")) or self.routes.get((method, path))
        if not queue:
            return Answer(599, json.dumps({"message": f"no fixture for {method} {path}"}))
        return queue.popleft() if len(queue) > 1 else queue[0]

    def calls(self, method: str, path: str) -> list[Seen]:
        return [s for s in self.seen if (s.method, s.path) == (method, path)]


@dataclass
class Sleeps:
    """Records the waits instead of sleeping, and is the clock they advance.

    The broker's rate limiter reads :meth:`monotonic`, which moves only when the
    broker sleeps: its waits are exact however slow the machine is.
    """

    waits: list[float] = field(default_factory=list)
    now: float = 0.0

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


def intent(symbol: str, side: str = "buy", qty: str = "1", price: str = "100") -> OrderIntent:
    s = Side(side)
    return OrderIntent(
        account=ACCOUNT,
        cycle_id=CYCLE,
        symbol=symbol,
        side=s,
        quantity=Decimal(qty),
        ref_price=Decimal(price),
        reason=f"test {side} {symbol}",
        client_order_id=client_order_id(ACCOUNT, CYCLE, symbol, s),
    )


def by_client_id(order: OrderIntent) -> str:
    """The route of the lookup of ``order`` by its client order id."""
    return f"/v2/orders:by_client_order_id?client_order_id={order.client_order_id}"


def make_broker(fake: FakeAlpaca, sleeps: Sleeps | None = None, **config: Any) -> AlpacaBroker:
    cfg = AlpacaConfig(**{"read_timeout_s": 2.0, "connect_timeout_s": 2.0, **config})
    sleeps = sleeps or Sleeps()
    return AlpacaBroker(
        cfg,
        KEY,
        SECRET,
        account=ACCOUNT,
        clock=FixedClock(START),
        url_override=fake.url,
        sleep=sleeps,
        monotonic=sleeps.monotonic,
    )


class JsonHandler(BaseHTTPRequestHandler):
    """A fake server's request handler: JSON replies, no access log."""

    def _reply(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout) or was killed

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def loopback(
    handler: type[BaseHTTPRequestHandler], *, daemon_threads: bool = True
) -> Iterator[str]:
    """Serve ``handler`` on 127.0.0.1 (a free port) for the block; yields the base URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = daemon_threads
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@contextmanager
def serve() -> Iterator[FakeAlpaca]:
    """Start a FakeAlpaca on 127.0.0.1 (port 0) for the duration of the block."""
    fake = FakeAlpaca()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            fake.seen.append(
                Seen(
                    self.command,
                    url.path,
                    {k: v[-1] for k, v in parse_qs(url.query).items()},
                    json.loads(raw) if raw else None,
                    self.headers.get("APCA-API-KEY-ID"),
                )
            )
            answer = fake.answer(self.command, url.path, url.query)
            if answer.delay_s:
                time.sleep(answer.delay_s)
            data = answer.body.encode()
            try:
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (the timeout test)

        do_GET = do_POST = do_DELETE = _serve

        def log_message(self, format: str, *args: object) -> None:
            pass

    with loopback(Handler, daemon_threads=False) as fake.url:
        yield fake
