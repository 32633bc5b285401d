"""The engine's notifiers and extensions, built from the config and the secrets file.

:func:`build_notifiers` gives the enabled alert channels (Discord; Telegram), and
:func:`build_extensions` the Telegram bot, which answers commands over the
engine's control channel. An enabled channel whose secret is missing is skipped
with a warning: the engine still starts. Both read ``paths.secrets`` and install
log redaction for the secrets found.

One :class:`TelegramExtension` is both the Telegram alerts notifier and the bot
extension (one bot, one event loop). Pass the same one to both functions
(``telegram=``), as ``invest engine`` does; otherwise each builds its own.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING, Any

from invest.runtime.errors import ConfigError
from invest.runtime.notify.curves import ledger_curves, offline_benchmark
from invest.runtime.redact import install_redaction
from invest.runtime.secrets import Secrets, load_secrets

if TYPE_CHECKING:
    from telegram.ext import Application
    from telegram.request import BaseRequest

    from invest.runtime.config import Settings
    from invest.runtime.config.notify import TelegramConfig
    from invest.runtime.control.api import Control
    from invest.runtime.events import Event, Notifier
    from invest.runtime.notify.format import CurveSource
    from invest.runtime.notify.telegram_alerts import TelegramNotifier
    from invest.runtime.paths import Paths

__all__ = [
    "TelegramExtension",
    "build_extensions",
    "build_notifiers",
    "build_telegram",
    "ledger_curves",
    "report_curves",
]

logger = logging.getLogger(__name__)


class _Build:
    """The default of ``telegram=``: build the bot from the config."""


BUILD = _Build()


def _secrets(paths: Paths) -> Secrets:
    secrets = load_secrets(paths.secrets)
    install_redaction(
        *(
            value.get_secret_value()
            for value in (
                secrets.alpaca_api_key,
                secrets.alpaca_secret_key,
                secrets.telegram_bot_token,
                secrets.discord_webhook_url,
            )
            if value is not None
        )
    )
    return secrets


def report_curves(settings: Settings, paths: Paths) -> CurveSource:
    """The reports' chart data: the ledger's equity and fills, the benchmark from local data."""
    return ledger_curves(paths.ledger, benchmark=offline_benchmark(settings, paths))


class TelegramExtension:
    """The Telegram bot inside the engine: alerts (a Notifier) and commands (an Extension).

    It runs python-telegram-bot on its own thread with its own asyncio loop.
    Alerts sent before :meth:`start` wait in the notifier's queue.

    Args:
        config: the ``engine.telegram`` section.
        token: TELEGRAM_BOT_TOKEN.
        request, updates_request: PTB's HTTP layers (tests pass a fake transport).
    """

    def __init__(
        self,
        config: TelegramConfig,
        token: str,
        *,
        request: BaseRequest | None = None,
        updates_request: BaseRequest | None = None,
        curves: CurveSource | None = None,
    ) -> None:
        from invest.runtime.notify.telegram import application
        from invest.runtime.notify.telegram_alerts import TelegramNotifier

        install_redaction(token)
        self.config = config
        self._token = token
        self.app: Application[Any, Any, Any, Any, Any, Any] = application(
            token, request, updates_request
        )
        self.alerts: TelegramNotifier = TelegramNotifier.from_config(self.app.bot, config, curves)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"TelegramExtension(chats={len(self.config.chats)})"

    def notify(self, event: Event) -> None:
        """Queue ``event`` for the allowlisted chats (thread-safe)."""
        self.alerts.notify(event)

    def start(self, control: Control, timeout: float = 30.0) -> None:
        """Register the commands over ``control`` and start polling on the bot's thread.

        Raises:
            Exception: the bot could not start (bad token, Telegram unreachable).
        """
        from invest.runtime.notify.telegram import TelegramBot

        TelegramBot(self.config, control, self._token).register(self.app)
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="telegram", daemon=True)
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._start(), loop).result(timeout)
        except BaseException:
            self.stop()
            raise

    async def _start(self) -> None:
        await self.app.initialize()
        await self.alerts.start()
        await self.app.start()
        assert self.app.updater is not None
        await self.app.updater.start_polling(drop_pending_updates=True)

    async def _stop(self) -> None:
        updater = self.app.updater
        if updater is not None and updater.running:
            await updater.stop()
        if self.app.running:
            await self.app.stop()
        await self.alerts.stop()
        await self.app.shutdown()

    def stop(self, timeout: float = 15.0) -> None:
        """Stop polling, send the queued alerts, stop the loop. Safe without :meth:`start`."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._loop = self._thread = None
        try:
            asyncio.run_coroutine_threadsafe(self._stop(), loop).result(timeout)
        except Exception:
            logger.exception("telegram: the bot did not stop cleanly")
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
            if not thread.is_alive():
                loop.close()


def build_telegram(settings: Settings, paths: Paths) -> TelegramExtension | None:
    """The Telegram bot when ``engine.telegram.enabled`` and TELEGRAM_BOT_TOKEN is set, else None."""
    config = settings.engine.telegram
    if not config.enabled:
        return None
    token = _secrets(paths).telegram_bot_token
    if token is None:
        logger.warning(
            "telegram is enabled but TELEGRAM_BOT_TOKEN is not set (secrets file %s or the "
            "environment): the bot and its alerts are off",
            paths.secrets,
        )
        return None
    return TelegramExtension(
        config, token.get_secret_value(), curves=report_curves(settings, paths)
    )


def build_notifiers(
    settings: Settings, paths: Paths, *, telegram: TelegramExtension | _Build | None = BUILD
) -> list[Notifier]:
    """The enabled alert channels whose secret is set: Discord, then Telegram.

    Args:
        telegram: the bot from :func:`build_telegram` (None: no bot); by default one is
            built when enabled.
    """
    out: list[Notifier] = []
    discord = settings.engine.discord
    if discord.enabled:
        url = _secrets(paths).discord_webhook_url
        if url is None:
            logger.warning(
                "discord is enabled but DISCORD_WEBHOOK_URL is not set (secrets file %s or "
                "the environment): no Discord alerts",
                paths.secrets,
            )
        else:
            from invest.runtime.notify.discord import DiscordNotifier

            try:
                out.append(DiscordNotifier(discord, url, curves=report_curves(settings, paths)))
            except ConfigError as e:
                logger.warning("%s: no Discord alerts", e)
    if isinstance(telegram, _Build):
        telegram = build_telegram(settings, paths)
    if telegram is not None:
        out.append(telegram)
    return out


def build_extensions(
    settings: Settings, paths: Paths, *, telegram: TelegramExtension | _Build | None = BUILD
) -> list[TelegramExtension]:
    """What runs beside the engine: the Telegram bot, when enabled and its token is set.

    Args:
        telegram: the bot from :func:`build_telegram` (None: no bot); by default one is
            built when enabled.
    """
    if isinstance(telegram, _Build):
        telegram = build_telegram(settings, paths)
    return [telegram] if telegram is not None else []
