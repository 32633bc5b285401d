"""TelegramNotifier: engine events as Telegram messages, queued and throttled per chat.

``notify(event)`` may be called from any thread (the engine's :class:`FanOut`
thread): it formats the event and queues one item per chat and message, without
waiting. A single task on the bot's event loop sends them, at most one message
per ``min_interval_s`` to each chat (Telegram allows about one a second per
chat). python-telegram-bot's ``AIORateLimiter`` needs the extra
``python-telegram-bot[rate-limiter]``, which the appliance does not install;
this throttle does the part that matters for alerts.

Long texts are split under the 4096-character limit; a report with a chart is
sent as a photo whose caption is the report's first line, followed by the text.
Flood control (``RetryAfter``) is waited out; timeouts and network errors are
retried a few times; anything else is logged (without the token) and dropped.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import time
import warnings
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application
from telegram.warnings import PTBDeprecationWarning

from invest.runtime.config.notify import Level, TelegramConfig
from invest.runtime.events import Event
from invest.runtime.notify.format import CurveSource, event_message, passes, split_text
from invest.runtime.redact import install_redaction

__all__ = ["CAPTION_LIMIT", "TelegramNotifier", "attach_alerts"]

logger = logging.getLogger(__name__)

CAPTION_LIMIT = 1024
MESSAGE_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class _Item:
    chat_id: int
    text: str
    image: bytes | None = None


def _retry_seconds(err: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)  # int now, timedelta later
        value: Any = err.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramNotifier:
    """The :class:`~invest.runtime.events.Notifier` for Telegram.

    Args:
        bot: a python-telegram-bot ``Bot`` (the bot application's ``app.bot``).
        chat_ids: where alerts go.
        level: least severity sent.
        min_interval_s: least seconds between two messages to one chat.
        curves: equity series for report charts (see :data:`CurveSource`); None sends text only.
        max_queue: items waiting beyond this are dropped, with a warning.
        retries: extra attempts after a timeout or a network error.
        monotonic, sleep: the time source and the wait of the throttle (tests).
    """

    def __init__(
        self,
        bot: Bot,
        chat_ids: Sequence[int],
        *,
        level: Level = "info",
        min_interval_s: float = 1.0,
        curves: CurveSource | None = None,
        max_queue: int = 500,
        retries: int = 3,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        install_redaction(bot.token)
        self.bot = bot
        self.chat_ids = tuple(dict.fromkeys(chat_ids))
        self.level: Level = level
        self.min_interval_s = min_interval_s
        self.curves = curves
        self.retries = retries
        self._monotonic = monotonic
        self._sleep = sleep
        self._max_queue = max_queue
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[_Item] | None = None
        self._early: collections.deque[_Item] = collections.deque(maxlen=max_queue)
        self._task: asyncio.Task[None] | None = None
        self._last: dict[int, float] = {}
        self.dropped = 0

    @classmethod
    def from_config(
        cls, bot: Bot, config: TelegramConfig, curves: CurveSource | None = None
    ) -> TelegramNotifier:
        """Alerts to every allowlisted chat that has ``alerts`` on."""
        chats = [c.chat_id for c in config.chats if c.alerts]
        return cls(
            bot,
            chats,
            level=config.alert_level,
            min_interval_s=config.min_interval_s,
            curves=curves,
        )

    def __repr__(self) -> str:
        return f"TelegramNotifier(chats={len(self.chat_ids)}, level={self.level!r})"

    def notify(self, event: Event) -> None:
        """Queue ``event`` for every chat (thread-safe; returns at once)."""
        if not passes(event, self.level) or not self.chat_ids:
            return
        out = event_message(event, self.curves)
        messages: list[tuple[str, bytes | None]] = []
        if out.image is not None:
            messages.append((out.text.split("\n", 1)[0][:CAPTION_LIMIT], out.image))
        if not messages or out.text != messages[0][0]:
            messages += [(piece, None) for piece in split_text(out.text, MESSAGE_LIMIT)]
        items = [_Item(chat, text, image) for chat in self.chat_ids for text, image in messages]
        with self._lock:
            loop = self._loop
            if loop is None:
                self._early.extend(items)
                return
        try:
            loop.call_soon_threadsafe(self._put_all, items)
        except RuntimeError:  # the loop is closed: the bot stopped
            logger.warning("telegram alert %s not sent: the bot is stopped", event.kind)

    async def start(self) -> None:
        """Start sending from the running event loop (call it in the bot's ``post_init``)."""
        queue: asyncio.Queue[_Item] = asyncio.Queue()
        with self._lock:
            self._loop = asyncio.get_running_loop()
            self._queue = queue
            early, self._early = list(self._early), collections.deque(maxlen=self._max_queue)
        self._put_all(early)
        self._task = asyncio.create_task(self._run(queue), name="telegram-alerts")

    async def drain(self) -> None:
        """Wait until every queued message has been sent (or dropped)."""
        if self._queue is not None:
            await self._queue.join()

    async def stop(self, grace_s: float = 5.0) -> None:
        """Send what is queued (up to ``grace_s`` seconds), then stop."""
        try:
            await asyncio.wait_for(self.drain(), grace_s)
        except TimeoutError:
            logger.warning("telegram alerts: stopped with messages still queued")
        with self._lock:
            self._loop = None
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def _put_all(self, items: Sequence[_Item]) -> None:
        assert self._queue is not None
        for item in items:
            if self._queue.qsize() >= self._max_queue:
                self.dropped += 1
                if self.dropped in (1, 10, 100) or self.dropped % 1000 == 0:
                    logger.warning("telegram alerts: queue full, %d dropped", self.dropped)
                continue
            self._queue.put_nowait(item)

    async def _run(self, queue: asyncio.Queue[_Item]) -> None:
        while True:
            item = await queue.get()
            try:
                await self._turn(item.chat_id)
                await self._send(item)
            except Exception:  # never let one message stop the sender
                logger.exception("telegram alert to chat %s failed", item.chat_id)
            finally:
                self._last[item.chat_id] = self._monotonic()
                queue.task_done()

    async def _turn(self, chat_id: int) -> None:
        last = self._last.get(chat_id)
        if last is not None:
            wait = last + self.min_interval_s - self._monotonic()
            if wait > 0:
                await self._sleep(wait)

    async def _send(self, item: _Item) -> None:
        for attempt in range(self.retries + 1):
            try:
                if item.image is not None:
                    await self.bot.send_photo(item.chat_id, photo=item.image, caption=item.text)
                else:
                    await self.bot.send_message(item.chat_id, item.text)
                return
            except RetryAfter as e:
                wait = min(_retry_seconds(e), 60.0)
            except (BadRequest, Forbidden) as e:
                logger.warning("telegram refused an alert to chat %s: %s", item.chat_id, e)
                return
            except NetworkError as e:  # includes TimedOut
                wait = min(2.0**attempt, 30.0)
                logger.info("telegram alert to chat %s: %s; retrying", item.chat_id, e)
            except TelegramError as e:
                logger.warning("telegram alert to chat %s failed: %s", item.chat_id, e)
                return
            if attempt < self.retries:
                await self._sleep(wait)
        logger.warning(
            "telegram alert to chat %s dropped after %d tries", item.chat_id, self.retries + 1
        )


def attach_alerts(
    app: Application[Any, Any, Any, Any, Any, Any],
    config: TelegramConfig,
    curves: CurveSource | None = None,
) -> TelegramNotifier:
    """A :class:`TelegramNotifier` on ``app``'s bot, started and stopped with the application.

    It hooks ``post_init`` and ``post_shutdown`` (kept if set), which ``run_polling``
    calls. An engine that drives the application by hand (``initialize``, ``start``,
    ``updater.start_polling``) calls ``start()`` and ``stop()`` itself instead.
    """
    notifier = TelegramNotifier.from_config(app.bot, config, curves)
    before_init, before_shutdown = app.post_init, app.post_shutdown

    async def post_init(a: Application[Any, Any, Any, Any, Any, Any]) -> None:
        if before_init is not None:
            await before_init(a)
        await notifier.start()

    async def post_shutdown(a: Application[Any, Any, Any, Any, Any, Any]) -> None:
        await notifier.stop()
        if before_shutdown is not None:
            await before_shutdown(a)

    app.post_init = post_init
    app.post_shutdown = post_shutdown
    return notifier
