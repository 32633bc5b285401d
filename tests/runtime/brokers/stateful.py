"""A stateful fake of Alpaca's Trading API v2 on loopback, for tests across real processes.

Unlike :mod:`.support` (recorded answers in a queue), it keeps orders: a POST
stores the order under its client id (a second POST with the same id gets
Alpaca's 422 "client_order_id must be unique"), look-ups by client id and by
id find it, open orders are listed. Orders never fill (no positions, no fill
activities), so a ledger stays at zero positions and its fills sum to nothing.

``slow_posts``: that many POSTs are stored (Alpaca accepted them) and then
answered only after ``slow_s`` seconds, past the client's read timeout.
``failing_reads``: that many GETs answer 500 (a broken look-up during an outage);
``reads_fail_after_slow``: a slow POST sets ``failing_reads`` to this (the outage
that swallowed the answer also breaks the look-up right after it).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.runtime.brokers.support import JsonHandler, fixture, loopback


@dataclass
class StatefulAlpaca:
    """The fake's state; every field is read and written under ``lock``."""

    url: str = ""
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)  # by client order id
    posts: list[str] = field(default_factory=list)  # client ids of every POST, in order
    slow_posts: int = 0
    slow_s: float = 0.0
    failing_reads: int = 0
    reads_fail_after_slow: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def post(self, body: dict[str, Any]) -> tuple[int, Any, float]:
        cid = str(body["client_order_id"])
        with self.lock:
            self.posts.append(cid)
            if cid in self.orders:
                return 422, json.loads(fixture("error_422_duplicate.json")), 0.0
            order = json.loads(fixture("order_aapl_buy_accepted.json"))
            order.update(
                id=str(uuid.uuid4()),
                client_order_id=cid,
                symbol=body["symbol"],
                side=body["side"],
                qty=None if body.get("qty") is None else str(body["qty"]),
                notional=None if body.get("notional") is None else str(body["notional"]),
                status="accepted",
            )
            self.orders[cid] = order
            delay = 0.0
            if self.slow_posts:
                self.slow_posts -= 1
                self.failing_reads = self.reads_fail_after_slow
                delay = self.slow_s
            return 200, order, delay

    def get(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        with self.lock:
            if self.failing_reads:
                self.failing_reads -= 1
                return 500, {"code": 50010000, "message": "internal server error"}
            if path == "/v2/orders:by_client_order_id":
                order = self.orders.get(query.get("client_order_id", ""))
            elif path == "/v2/orders":
                return 200, list(self.orders.values())  # none ever fills: all open
            elif path.startswith("/v2/orders/"):
                wanted = path.rsplit("/", 1)[1]
                order = next((o for o in self.orders.values() if o["id"] == wanted), None)
            elif path in ("/v2/positions", "/v2/account/activities/FILL"):
                return 200, []
            else:
                return 599, {"message": f"no route for GET {path}"}
            if order is None:
                return 404, json.loads(fixture("error_404_order.json"))
            return 200, order


@contextmanager
def serve_stateful() -> Iterator[StatefulAlpaca]:
    """Start a :class:`StatefulAlpaca` on 127.0.0.1 (port 0) for the duration of the block."""
    fake = StatefulAlpaca()

    class Handler(JsonHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            status, body, delay = fake.post(json.loads(self.rfile.read(length)))
            if delay:
                time.sleep(delay)
            self._reply(status, body)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            self._reply(*fake.get(url.path, query))

    with loopback(Handler) as fake.url:
        yield fake
