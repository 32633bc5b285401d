"""A fake Alpaca account that fills orders, on loopback, for crash tests across real processes.

Like :mod:`.stateful` it keeps orders and refuses a second POST with a client id
it has (Alpaca's 422 "client_order_id must be unique"); unlike it, it runs an
account: cash, positions, and ``FILL`` activities, so that the real
``AlpacaBroker`` can trade a replay against it and a test can compare the ledger
with what the "broker" holds.

**Time** is the engine's replay clock: every request may carry the header
``X-Fake-Clock`` (an ISO time); the fake's clock is the latest one seen (it never
goes back, so a restarted engine that resumes a little earlier changes nothing).
A request without the header leaves the clock alone. :meth:`FillingAlpaca.freeze`
stops the clock (nothing fills any more), so that a test can let the engine
catch up with a fixed state.

**Fills** are deterministic: a market day order fills in whole at the close of
the first session that closes (16:00 New York) after the order was created, at
that session's close in the bundled sample (``invest.runtime.data.sample``),
rounded to cents; it fills when the clock reaches that close, and the fill
activity is stamped with it. A notional buy gets ``notional / price`` shares,
rounded down to 9 decimals. A symbol with no price that day: the order expires.

**Checks at the POST**, as Alpaca does: a buy needs buying power (cash less the
open buys), a sell needs the shares (the position less the open sells); else 403.

The state lives in the test process; the engine children come and go (SIGKILL).
"""

from __future__ import annotations

import bisect
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import ROUND_DOWN, Decimal
from functools import cache
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np

from invest.runtime.clock import NEW_YORK
from invest.runtime.data.sample import SampleData
from invest.runtime.domain import money
from tests.runtime.brokers.support import JsonHandler, fixture, loopback

#: The header that carries the engine's clock.
CLOCK_HEADER = "X-Fake-Clock"
ACCOUNT_ID = "e6fe16f3-64a4-4921-8928-cadf02f92f98"
OPEN_STATUSES = frozenset({"new", "accepted", "partially_filled"})
_NINE = Decimal("1e-9")


@cache
def _closes() -> tuple[list[datetime], list[date], dict[str, np.ndarray]]:
    """Session closes (16:00 New York, as UTC), their dates, and each symbol's closes."""
    sample = SampleData()
    bars = sample.load(list(sample.symbols()))
    days = [date.fromisoformat(str(d)) for d in bars.dates]
    at = [datetime.combine(d, time(16), NEW_YORK).astimezone(UTC) for d in days]
    prices = {s: bars.close[:, i] for i, s in enumerate(bars.symbols)}
    return at, days, prices


def fill_session(created: datetime) -> tuple[datetime, date] | None:
    """The close an order created at ``created`` fills at, and its session; None past the sample."""
    at, days, _ = _closes()
    i = bisect.bisect_right(at, created)
    return (at[i], days[i]) if i < len(at) else None


def close_price(symbol: str, day: date) -> Decimal | None:
    """The sample's close of ``symbol`` on ``day``, in cents; None when there is none."""
    _, days, prices = _closes()
    i = bisect.bisect_left(days, day)
    if symbol not in prices or i >= len(days) or days[i] != day:
        return None
    px = float(prices[symbol][i])
    return money(round(px, 2)) if np.isfinite(px) and px > 0 else None


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _text(value: Decimal) -> str:
    return format(value.normalize(), "f")


@dataclass
class FillingAlpaca:
    """The fake's state; every field is read and written under ``lock``."""

    cash: Decimal
    url: str = ""
    now: datetime = datetime(1990, 1, 1, tzinfo=UTC)
    frozen: bool = False
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)  # by client order id
    posts: list[str] = field(default_factory=list)  # client ids of every POST, in order
    duplicates: list[str] = field(default_factory=list)  # POSTs of a client id it has: 422
    refused: list[tuple[str, str]] = field(default_factory=list)  # (client id, why): 403s
    positions: dict[str, Decimal] = field(default_factory=dict)
    cost: dict[str, Decimal] = field(default_factory=dict)  # cost basis per symbol
    activities: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    # -- the clock -------------------------------------------------------------------

    def advance(self, stamp: str | None) -> None:
        """Move the clock to ``stamp`` (if later and not frozen), then fill what is due."""
        if not stamp or self.frozen:
            return
        t = datetime.fromisoformat(stamp).astimezone(UTC)
        if t > self.now:
            self.now = t
            self._fill_due()

    def freeze(self) -> datetime:
        """Stop the clock (and the fills) where it is; return that time."""
        with self.lock:
            self.frozen = True
            return self.now

    def _fill_due(self) -> None:
        due = []
        for cid, o in self.orders.items():
            if o["status"] not in OPEN_STATUSES:
                continue
            when = fill_session(datetime.fromisoformat(o["created_at"]))
            if when is not None and when[0] <= self.now:
                due.append((when, o["created_at"], cid))
        for (close_at, day), _, cid in sorted(due):
            self._fill(self.orders[cid], close_at, day)

    def _fill(self, o: dict[str, Any], at: datetime, day: date) -> None:
        price = close_price(o["symbol"], day)
        if price is None:
            o.update(status="expired", expired_at=_iso(at), updated_at=_iso(at))
            return
        if o["qty"] is not None:
            qty = Decimal(o["qty"])
        else:
            qty = (Decimal(o["notional"]) / price).quantize(_NINE, rounding=ROUND_DOWN)
        value = money(qty * price)
        sym = o["symbol"]
        if o["side"] == "buy":
            self.cash -= value
            self.positions[sym] = self.positions.get(sym, Decimal(0)) + qty
            self.cost[sym] = self.cost.get(sym, Decimal(0)) + value
        else:
            held = self.positions.get(sym, Decimal(0))
            self.cash += value
            self.cost[sym] = (
                self.cost.get(sym, Decimal(0)) * (held - qty) / held if held else Decimal(0)
            )
            self.positions[sym] = held - qty
            if not self.positions[sym]:
                del self.positions[sym]
                del self.cost[sym]
        o.update(
            status="filled",
            filled_qty=_text(qty),
            filled_avg_price=_text(price),
            filled_at=_iso(at),
            updated_at=_iso(at),
        )
        stamp = at.astimezone(UTC).strftime("%Y%m%d%H%M%S%f")[:17]
        self.activities.append(
            {
                "id": f"{stamp}::{uuid.uuid4()}",
                "account_id": ACCOUNT_ID,
                "activity_type": "FILL",
                "transaction_time": _iso(at),
                "type": "fill",
                "price": _text(price),
                "qty": _text(qty),
                "side": o["side"],
                "symbol": sym,
                "leaves_qty": "0",
                "order_id": o["id"],
                "cum_qty": _text(qty),
                "order_status": "filled",
            }
        )

    # -- requests --------------------------------------------------------------------

    def _open(self, side: str, symbol: str | None = None) -> list[dict[str, Any]]:
        return [
            o
            for o in self.orders.values()
            if o["status"] in OPEN_STATUSES
            and o["side"] == side
            and (symbol is None or o["symbol"] == symbol)
        ]

    def post(self, body: dict[str, Any], stamp: str | None) -> tuple[int, Any]:
        cid = str(body["client_order_id"])
        with self.lock:
            self.advance(stamp)
            self.posts.append(cid)
            if cid in self.orders:
                self.duplicates.append(cid)
                return 422, json.loads(fixture("error_422_duplicate.json"))
            sym, side = str(body["symbol"]), str(body["side"])
            qty = None if body.get("qty") is None else Decimal(str(body["qty"]))
            notional = None if body.get("notional") is None else Decimal(str(body["notional"]))
            why = ""
            if side == "buy":
                reserved = sum(Decimal(o["notional"] or 0) for o in self._open("buy"))
                asked = notional if notional is not None else Decimal(0)
                if qty is not None:
                    why = "buys by quantity are not supported by this fake"
                elif asked > self.cash - reserved:
                    why = "insufficient buying power"
            else:
                selling = sum(Decimal(o["qty"]) for o in self._open("sell", sym))
                if qty is None or qty > self.positions.get(sym, Decimal(0)) - selling:
                    why = "insufficient qty available for order"
            if why:
                self.refused.append((cid, why))
                return 403, {"code": 40310000, "message": why}
            order = json.loads(fixture("order_aapl_buy_accepted.json"))
            order.update(
                id=str(uuid.uuid4()),
                client_order_id=cid,
                symbol=sym,
                side=side,
                position_intent=f"{side}_to_{'open' if side == 'buy' else 'close'}",
                qty=None if qty is None else _text(qty),
                notional=None if notional is None else _text(notional),
                status="accepted",
                created_at=_iso(self.now),
                updated_at=_iso(self.now),
                submitted_at=_iso(self.now),
                expires_at=None,
            )
            self.orders[cid] = order
            return 200, order

    def delete(self, path: str, stamp: str | None) -> tuple[int, Any]:
        with self.lock:
            self.advance(stamp)
            if path != "/v2/orders":
                return 599, {"message": f"no route for DELETE {path}"}
            out = []
            for o in self.orders.values():
                if o["status"] in OPEN_STATUSES:
                    o.update(
                        status="canceled", canceled_at=_iso(self.now), updated_at=_iso(self.now)
                    )
                    out.append({"id": o["id"], "status": 200, "body": o})
            return 207, out

    def get(self, path: str, query: dict[str, str], stamp: str | None) -> tuple[int, Any]:
        with self.lock:
            self.advance(stamp)
            order: dict[str, Any] | None
            if path == "/v2/orders:by_client_order_id":
                order = self.orders.get(query.get("client_order_id", ""))
            elif path == "/v2/orders":
                wanted = query.get("status", "open")
                listed = [
                    o
                    for o in self.orders.values()
                    if wanted == "all" or (o["status"] in OPEN_STATUSES) == (wanted == "open")
                ]
                return 200, listed[: int(query.get("limit", "500"))]
            elif path.startswith("/v2/orders/"):
                wanted = path.rsplit("/", 1)[1]
                order = next((o for o in self.orders.values() if o["id"] == wanted), None)
            elif path == "/v2/positions":
                return 200, [self._position(s, q) for s, q in sorted(self.positions.items())]
            elif path == "/v2/account":
                return 200, self._account()
            elif path == "/v2/account/activities/FILL":
                return 200, self._activities(query)
            else:
                return 599, {"message": f"no route for GET {path}"}
            if order is None:
                return 404, json.loads(fixture("error_404_order.json"))
            return 200, order

    def _position(self, symbol: str, qty: Decimal) -> dict[str, Any]:
        cost = money(self.cost.get(symbol, Decimal(0)))
        return {
            "asset_id": str(uuid.uuid5(uuid.NAMESPACE_DNS, symbol)),
            "symbol": symbol,
            "exchange": "NYSE",
            "asset_class": "us_equity",
            "asset_marginable": True,
            "qty": _text(qty),
            "qty_available": _text(qty),
            "avg_entry_price": _text(money(cost / qty)) if qty else "0",
            "side": "long" if qty > 0 else "short",
            "cost_basis": _text(cost),
        }

    def _account(self) -> dict[str, Any]:
        cash = _text(self.cash)
        return {
            "id": ACCOUNT_ID,
            "account_number": "PA3FAKE00000",
            "status": "ACTIVE",
            "currency": "USD",
            "cash": cash,
            "buying_power": cash,
            "portfolio_value": cash,
            "pattern_day_trader": False,
            "trading_blocked": False,
            "transfers_blocked": False,
            "account_blocked": False,
            "created_at": "2020-01-01T00:00:00Z",
            "shorting_enabled": False,
            "multiplier": "1",
            "sma": "0",
            "daytrade_count": 0,
        }

    def _activities(self, query: dict[str, str]) -> list[dict[str, Any]]:
        rows = sorted(self.activities, key=lambda a: (a["transaction_time"], a["id"]))
        if query.get("after"):
            after = datetime.fromisoformat(query["after"]).astimezone(UTC)
            rows = [a for a in rows if datetime.fromisoformat(a["transaction_time"]) > after]
        if query.get("direction", "desc") == "desc":
            rows.reverse()
        token = query.get("page_token")
        if token:
            ids = [a["id"] for a in rows]
            rows = rows[ids.index(token) + 1 :] if token in ids else []
        return rows[: int(query.get("page_size", "100"))]

    # -- what a test compares with the ledger ----------------------------------------

    def fills(self) -> dict[str, list[tuple[Decimal, Decimal]]]:
        """(quantity, price) of every fill, by client order id."""
        out: dict[str, list[tuple[Decimal, Decimal]]] = {}
        with self.lock:
            by_id = {o["id"]: cid for cid, o in self.orders.items()}
            for a in self.activities:
                out.setdefault(by_id[a["order_id"]], []).append(
                    (Decimal(a["qty"]), Decimal(a["price"]))
                )
        return out


@contextmanager
def serve_filling(cash: Decimal) -> Iterator[FillingAlpaca]:
    """Start a :class:`FillingAlpaca` with ``cash`` on 127.0.0.1 (port 0) for the block."""
    fake = FillingAlpaca(cash=cash)

    class Handler(JsonHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length))
            self._reply(*fake.post(body, self.headers.get(CLOCK_HEADER)))

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            self._reply(*fake.get(url.path, query, self.headers.get(CLOCK_HEADER)))

        def do_DELETE(self) -> None:
            self._reply(*fake.delete(urlsplit(self.path).path, self.headers.get(CLOCK_HEADER)))

    _closes()  # warm: the first request must not pay for loading the sample
    with loopback(Handler) as fake.url:
        yield fake
