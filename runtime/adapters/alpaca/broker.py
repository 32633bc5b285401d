"""AlpacaBroker: the Broker protocol over Alpaca's Trading API v2 (alpaca-py ``TradingClient``).

* **Endpoint.** Paper unless the config says ``paper = false``, which also needs
  ``live = true`` and ``live_confirm = "I understand this trades real money"``.
* **Orders.** Market, day orders. Buys go as dollar amounts (notional) when
  fractional trading is on, sells as (fractional) share quantities. The client
  order id is the intent's, which the ledger stored before :meth:`submit`.
* **Never twice.** After a timeout or a 5xx the order is looked up by its client
  id before anything is sent again; a 422 "client_order_id must be unique" means
  the first attempt arrived: the order is fetched and tracked. :meth:`submit`
  answers each order (an :class:`~.base.Ack`: accepted with Alpaca's id, or
  rejected), which the caller records after the send; :meth:`find` answers an
  order by its client id, for the ledger's outbox recovery. An order whose fate
  stays unknown (Alpaca down) is looked up at the next :meth:`poll`; if Alpaca
  never heard of it, it is reported through :meth:`take_cancelled`. The broker
  never resends on its own (the outbox recovery decides that).
* **Rate limit.** Every HTTP request takes a token from a thread-safe bucket that
  stays under Alpaca's 200 requests a minute (``rate_limit_per_min + burst``).
* **Errors** are translated in :mod:`.parsing`; 429, 5xx and timeouts are
  retried with a bounded exponential backoff.
* **Fills** come from the account activities (``FILL``): one :class:`Fill` per
  execution, so a partial fill gives several fills with the same client id.
  Alpaca's ``Order``, ``Position`` and activities never leave this package.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import SecretStr

from invest.runtime.adapters.alpaca.parsing import (
    DEAD_STATUSES,
    NotFoundError,
    OrderSnapshot,
    fill_from_activity,
    foreign_intent,
    is_option,
    order_fields,
    order_snapshot,
    position_qty,
    sdk,
)
from invest.runtime.adapters.alpaca.retry import RetryingCalls
from invest.runtime.clock import Clock, SystemClock
from invest.runtime.config.alpaca import AlpacaConfig, endpoint_problem
from invest.runtime.domain import Ack, Fill, OrderIntent, OrderStatus
from invest.runtime.errors import (
    BrokerError,
    ConfigError,
    OrderRejectedError,
)

if TYPE_CHECKING:
    from invest.runtime.market import Market

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Activities are read again this far behind the newest one seen (late arrivals).
_FILL_OVERLAP = timedelta(minutes=10)
_PAGE = 100


class RateLimiter:
    """A thread-safe token bucket: ``burst`` requests at once, then ``per_minute`` a minute.

    A caller that finds the bucket empty reserves the next token and sleeps until
    it is due, so waiting callers are served in turn. Over any 60 seconds at most
    ``per_minute + burst`` tokens are handed out.

    Args:
        per_minute: sustained rate.
        burst: bucket size (and the tokens there at the start).
        monotonic: the time source (injected in tests).
        sleep: how to wait (injected in tests).
    """

    def __init__(
        self,
        per_minute: float,
        burst: int = 10,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError("per_minute must be > 0 and burst >= 1")
        self._rate = per_minute / 60.0
        self._burst = float(burst)
        self._monotonic = monotonic
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._last = monotonic()

    def acquire(self) -> float:
        """Take one token, sleeping until it is due; return the seconds waited."""
        with self._lock:
            now = self._monotonic()
            self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
            self._last = now
            self._tokens -= 1
            wait = 0.0 if self._tokens >= 0 else -self._tokens / self._rate
        if wait > 0:
            self._sleep(wait)
        return wait


@functools.cache
def _session_class() -> type[Any]:
    import requests  # imported on first use: the config model must stay light to import

    class LimitedSession(requests.Session):
        """The session alpaca-py uses: one token per request, and a default timeout.

        alpaca-py sends without a timeout; without one, a hung POST would block
        forever instead of turning into a lookup by client id.
        """

        def __init__(self, limiter: RateLimiter, timeout: tuple[float, float]) -> None:
            super().__init__()
            self._limiter = limiter
            self._timeout = timeout

        def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> requests.Response:
            self._limiter.acquire()
            kwargs.setdefault("timeout", self._timeout)
            return super().request(method, url, *args, **kwargs)

    return LimitedSession


def _reveal(value: str | SecretStr | None) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else value.get_secret_value()


class AlpacaBroker(RetryingCalls):
    """The :class:`~invest.runtime.brokers.base.Broker` for one Alpaca account (see the module).

    Args:
        config: the ``alpaca`` config section.
        api_key: ALPACA_API_KEY (``str`` or ``SecretStr``), from the secrets file or the environment.
        secret_key: ALPACA_SECRET_KEY.
        account: the appliance account this Alpaca account trades for (stamped on fills).
        pending: orders the ledger holds as sent but not settled, restored after a
            restart; they are looked up by client id at the first :meth:`poll`.
        clock: where "now" comes from (the start of the fills :meth:`poll` reports).
        fills_after: report fills after this time only (default: now). Reconciliation
            reads the fills in between with :meth:`fills_since`.
        url_override: another base URL (tests, proxies).
        sleep, monotonic: injected into the backoff and the rate limiter (tests).

    Raises:
        ConfigError: a key is missing, or the config picks the live endpoint
            without ``live = true`` and the confirmation.
    """

    name = "alpaca"

    def __init__(
        self,
        config: AlpacaConfig,
        api_key: str | SecretStr | None,
        secret_key: str | SecretStr | None,
        *,
        account: str,
        pending: Sequence[tuple[OrderIntent, date]] = (),
        clock: Clock | None = None,
        fills_after: datetime | None = None,
        url_override: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        problem = endpoint_problem(config)
        if problem:
            raise ConfigError(problem)
        key, secret = _reveal(api_key), _reveal(secret_key)
        if not key or not secret:
            raise ConfigError(
                "the alpaca broker needs ALPACA_API_KEY and ALPACA_SECRET_KEY; set them in "
                "the secrets file (mode 0600) or the environment"
            )
        self.config = config
        self.account = account
        self._sleep = sleep
        limiter = RateLimiter(
            config.rate_limit_per_min, config.burst, monotonic=monotonic, sleep=sleep
        )
        client = sdk().TradingClient(
            api_key=key, secret_key=secret, paper=config.paper, url_override=url_override
        )
        client._retry = 0  # our retries: alpaca-py would re-POST a 504 without a lookup
        client._session = _session_class()(
            limiter, (config.connect_timeout_s, config.read_timeout_s)
        )
        self._client: Any = client
        self._intents: dict[str, OrderIntent] = {}  # every order known, by client id
        self._order_ids: dict[str, str] = {}  # Alpaca order id -> client id
        self._open: set[str] = set()  # at Alpaca, not final
        self._unconfirmed: set[str] = set()  # fate unknown: look up by client id
        self._done: set[str] = set()  # filled, cancelled or rejected
        self._foreign: dict[str, str] = {}  # Alpaca order id -> client id of orders not ours
        self._cancelled: list[tuple[OrderIntent, str]] = []
        self._answers: dict[str, Ack] = {}  # the latest answer per client id
        now = (clock or SystemClock()).now()
        self._floor = fills_after or now
        self._cursor = self._floor
        self._seen: dict[str, datetime] = {}  # activity id -> time, inside the overlap
        for intent, _day in pending:
            self._intents[intent.client_order_id] = intent
            self._unconfirmed.add(intent.client_order_id)

    def __repr__(self) -> str:
        return f"AlpacaBroker(account={self.account!r}, paper={self.config.paper})"

    def close(self) -> None:
        """Close the HTTP session (the broker is not used afterwards)."""
        self._client._session.close()

    # -- Broker protocol ---------------------------------------------------------------

    def submit(self, intents: Sequence[OrderIntent], day: date) -> list[Ack]:
        """Send market, day orders for ``intents`` (committed to the ledger's outbox already).

        An intent whose client id is open, filled or cancelled is not sent again: its
        earlier answer is returned. A rejected order is answered ``REJECTED`` (and not
        reported again by :meth:`take_cancelled`), and the others are still sent.

        Raises:
            TemporaryBrokerError: Alpaca stayed unreachable after the retries. The
                order in flight and those after it are looked up at the next poll.
            BrokerError: the keys are refused; nothing more is sent.
        """
        settled = self._open | self._done
        todo = [i for i in intents if i.client_order_id not in settled]
        self._intents.update((i.client_order_id, i) for i in todo)
        for n, intent in enumerate(todo):
            cid = intent.client_order_id
            try:
                snap = self._send(intent)
            except OrderRejectedError as e:
                logger.warning("alpaca rejected %s: %s", cid, e)
                self._finish(cid, f"rejected: {e}", report=False)
                self._answers[cid] = Ack(cid, OrderStatus.REJECTED, None, f"rejected: {e}")
                continue
            except BrokerError:
                self._unconfirmed.update(i.client_order_id for i in todo[n:])
                raise
            self._track(cid, snap, report=False)
        return [
            self._answers.get(i.client_order_id) or Ack(i.client_order_id, OrderStatus.SUBMITTED)
            for i in intents
        ]

    def find(self, client_order_id: str) -> Ack | None:
        """Alpaca's answer for the order with ``client_order_id`` (looked up); None: no such order.

        A dead order (cancelled, expired, rejected at Alpaca) is answered ``CANCELLED``
        with why; any other (accepted, open, filled) ``SUBMITTED`` with Alpaca's id.

        Raises:
            TemporaryBrokerError: Alpaca stayed unreachable after the retries.
        """
        snap = self.lookup(client_order_id)
        if snap is None:
            return None
        if client_order_id in self._intents:
            self._track(client_order_id, snap, report=False)
        return _answer(client_order_id, snap)

    def poll(self, market: Market, t: int, cash: Decimal) -> list[Fill]:
        """Fills of this broker's orders since the last poll (``market``, ``t`` and ``cash`` unused).

        First settles the state of every open or unconfirmed order (by client id),
        queueing the dead ones for :meth:`take_cancelled`, then reads the new
        ``FILL`` activities.

        Raises:
            TemporaryBrokerError: Alpaca stayed unreachable after the retries.
        """
        self._refresh()
        fills: list[Fill] = []
        seen: dict[str, datetime] = {}
        after = max(self._floor, self._cursor - _FILL_OVERLAP)
        for activity in self._activities(after):
            at = activity.transaction_time
            if activity.id in self._seen or at <= after:  # seen, or older than asked for
                continue
            cid = self._client_id_of(str(activity.order_id))
            intent = self._intents.get(cid) if cid else None
            seen[activity.id] = at
            if intent is None:
                logger.warning(
                    "alpaca fill %s of order %s was not sent by this broker; left to reconciliation",
                    activity.id,
                    activity.order_id,
                )
                continue
            fills.append(fill_from_activity(activity, cid or "", self.account, intent.reason))
        # Committed only now: if a read above failed, the next poll reads these fills again.
        self._seen.update(seen)
        self._cursor = max([self._cursor, *seen.values()])
        horizon = self._cursor - _FILL_OVERLAP
        self._seen = {k: v for k, v in self._seen.items() if v > horizon}
        return fills

    def take_cancelled(self) -> list[tuple[OrderIntent, str]]:
        """Orders that ended unfilled (cancelled, expired, rejected, never arrived), then forgets them."""
        out, self._cancelled = self._cancelled, []
        return out

    def open_orders(self) -> list[OrderIntent]:
        """Alpaca's open orders (ours as sent, others as foreign intents), plus unconfirmed ones.

        An unconfirmed order may exist at Alpaca: it counts as open until a poll
        settles it, so that its cash stays reserved.
        """
        listed: list[OrderIntent] = []
        for snap in self._open_snapshots():
            known = self._intents.get(snap.client_order_id)
            if known is not None:
                self._order_ids[snap.order_id] = snap.client_order_id
            listed.append(known or foreign_intent(snap, self.account))
        ids = {i.client_order_id for i in listed}
        return listed + [
            self._intents[c]
            for c in sorted(self._unconfirmed)
            if c not in ids and c in self._intents
        ]

    def cancel_all(self) -> list[OrderIntent]:
        """Ask Alpaca to cancel every open order; return those it accepted to cancel."""
        answers = self._call("cancelling all orders", lambda: self._client.cancel_orders())
        out: list[OrderIntent] = []
        for answer in answers:
            order_id = str(answer.id)
            if answer.status >= 300:
                logger.warning("alpaca could not cancel order %s: %s", order_id, answer.body)
                continue
            cid = self._client_id_of(order_id)
            if cid is not None and cid in self._intents:
                self._open.discard(cid)
                self._done.add(cid)
                out.append(self._intents[cid])
            else:
                out.append(foreign_intent(self._order_by_id(order_id), self.account))
        return out

    # -- reconciliation ----------------------------------------------------------------

    def positions(self) -> dict[str, Decimal]:
        """Shares held at Alpaca, by symbol (negative when short)."""
        held = self._call("reading positions", lambda: self._client.get_all_positions())
        # Option positions are reconciled by option_orders (signed contracts per OCC symbol).
        return {p.symbol: position_qty(p) for p in held if not is_option(p)}

    def fills_since(self, ts: datetime) -> list[Fill]:
        """Every fill after ``ts`` (tz-aware), oldest first, one row per execution.

        Fills of orders this appliance did not send carry Alpaca's client order id
        and the reason ``not sent by invest``.
        """
        if ts.tzinfo is None:
            raise ValueError("fills_since needs a timezone-aware time")
        out: list[Fill] = []
        for activity in self._activities(ts):
            cid = self._client_id_of(str(activity.order_id))
            intent = self._intents.get(cid) if cid else None
            reason = intent.reason if intent else "not sent by invest"
            out.append(fill_from_activity(activity, cid or "", self.account, reason))
        return out

    def lookup(self, client_order_id: str) -> OrderSnapshot | None:
        """Alpaca's view of the order with ``client_order_id``; None if Alpaca has none."""
        try:
            snap = self._call(
                f"looking up order {client_order_id}",
                lambda: order_snapshot(self._client.get_order_by_client_id(client_order_id)),
            )
        except NotFoundError:
            return None
        self._order_ids[snap.order_id] = snap.client_order_id
        return snap

    # -- internals ---------------------------------------------------------------------

    def _send(self, intent: OrderIntent) -> OrderSnapshot:
        """POST one order; after a doubtful failure look it up by client id, never resend blindly."""
        cid = intent.client_order_id
        what = f"sending {intent.side.value} {intent.symbol} {cid}"
        fields = order_fields(
            intent, fractional=self.config.fractional, notional_buys=self.config.notional_buys
        )
        try:
            request = sdk().MarketOrderRequest(**fields)
        except ValueError as e:  # pydantic's ValidationError: alpaca-py refuses the fields
            raise OrderRejectedError(f"{what}: alpaca-py refuses the order: {e}"[:500]) from e
        snap = self._post_once(
            what, cid, lambda: order_snapshot(self._client.submit_order(request)), self.lookup
        )
        self._order_ids[snap.order_id] = cid  # lookup records it too; a fresh POST here
        return snap

    def _track(self, cid: str, snap: OrderSnapshot, *, report: bool = True) -> None:
        """Follow ``snap``; ``report=False``: a dead order is answered, not queued for take_cancelled."""
        self._unconfirmed.discard(cid)
        self._order_ids[snap.order_id] = cid
        self._answers[cid] = _answer(cid, snap)
        if snap.status == "filled":
            self._open.discard(cid)
            self._done.add(cid)
        elif snap.status in DEAD_STATUSES:
            self._finish(cid, snap.outcome(), report=report)
        else:
            self._open.add(cid)

    def _finish(self, cid: str, reason: str, *, report: bool = True) -> None:
        self._open.discard(cid)
        self._unconfirmed.discard(cid)
        self._done.add(cid)
        if report:
            self._cancelled.append((self._intents[cid], reason))

    def _refresh(self) -> None:
        """Settle every open or unconfirmed order from its state at Alpaca."""
        for cid in sorted(self._open | self._unconfirmed):
            snap = self.lookup(cid)
            if snap is not None:
                self._track(cid, snap)
            elif cid in self._unconfirmed:
                self._finish(cid, "never reached Alpaca (no order with this client id)")
            else:
                logger.error("alpaca lost open order %s (404 by client id)", cid)

    def _client_id_of(self, order_id: str) -> str | None:
        cid = self._order_ids.get(order_id) or self._foreign.get(order_id)
        if cid is not None:
            return cid
        try:
            snap = self._order_by_id(order_id)
        except NotFoundError:
            return None
        if snap.client_order_id in self._intents:
            self._order_ids[order_id] = snap.client_order_id
        else:
            self._foreign[order_id] = snap.client_order_id
        return snap.client_order_id

    def _open_snapshots(self) -> list[OrderSnapshot]:
        s = sdk()
        request = s.GetOrdersRequest(status=s.QueryOrderStatus.OPEN, limit=500)
        return self._call(
            "listing open orders",
            lambda: [
                order_snapshot(o) for o in self._client.get_orders(request) if not is_option(o)
            ],
        )

    def _activities(self, after: datetime) -> list[Any]:
        """Every ``FILL`` activity after ``after``, oldest first (all pages)."""
        params: dict[str, Any] = {
            "after": after.isoformat(),
            "direction": "asc",
            "page_size": _PAGE,
        }
        out: list[Any] = []
        while True:
            page = self._call("reading fills", lambda: self._activity_page(dict(params)))
            out.extend(a for a in page if not is_option(a))  # option fills: option_orders
            if len(page) < _PAGE:
                return out
            params["page_token"] = page[-1].id

    def _activity_page(self, params: dict[str, Any]) -> list[Any]:
        raw = self._client.get("/account/activities/FILL", params) or []
        return [sdk().TradeActivity(**a) for a in raw]

    def _order_by_id(self, order_id: str) -> OrderSnapshot:
        return self._call(
            f"reading order {order_id}",
            lambda: order_snapshot(self._client.get_order_by_id(order_id)),
        )


def _answer(cid: str, snap: OrderSnapshot) -> Ack:
    """The ledger's answer for an Alpaca order: dead ones are cancelled, the rest submitted."""
    if snap.status in DEAD_STATUSES:
        return Ack(cid, OrderStatus.CANCELLED, snap.order_id, snap.outcome())
    return Ack(cid, OrderStatus.SUBMITTED, snap.order_id)
