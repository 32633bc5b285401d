"""DiscordNotifier: engine events posted to a Discord channel through its webhook (send-only).

One ``POST`` per message with httpx, under Discord's 2000-character limit; a
report with a chart attaches the PNG (``multipart/form-data`` with
``payload_json``). Posts are spaced by ``min_interval_s``; a 429 is waited out
(``retry_after``, at most 30 s) and retried; any other failure is logged and the
message dropped. The webhook URL embeds a token: it is redacted from every log
record, and log lines name only the HTTP status.

``notify`` blocks while it posts: the engine calls it from its notifier thread
(:class:`~invest.runtime.events.FanOut`), never from a cycle.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from pydantic import SecretStr

from invest.runtime.config.notify import DiscordConfig
from invest.runtime.errors import ConfigError
from invest.runtime.events import Event
from invest.runtime.notify.format import CurveSource, event_message, passes, split_text
from invest.runtime.redact import install_redaction

__all__ = ["DISCORD_LIMIT", "DiscordNotifier"]

logger = logging.getLogger(__name__)

DISCORD_LIMIT = 2000
_MAX_WAIT_S = 30.0


class DiscordNotifier:
    """The :class:`~invest.runtime.events.Notifier` for a Discord webhook.

    Args:
        config: the ``discord`` config section.
        webhook_url: DISCORD_WEBHOOK_URL (``str`` or ``SecretStr``).
        curves: equity series for report charts; None sends text only.
        transport: an httpx transport (tests pass ``httpx.MockTransport``).
        sleep, monotonic: the waits and the time source (tests).

    Raises:
        ConfigError: the URL is missing or is not an https URL.
    """

    def __init__(
        self,
        config: DiscordConfig,
        webhook_url: str | SecretStr | None,
        *,
        curves: CurveSource | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        retries: int = 2,
    ) -> None:
        url = webhook_url.get_secret_value() if isinstance(webhook_url, SecretStr) else webhook_url
        if not url or not url.startswith("https://"):
            raise ConfigError("discord.enabled needs DISCORD_WEBHOOK_URL (an https:// URL)")
        install_redaction(url)
        self.config = config
        self.curves = curves
        self.retries = retries
        self._url = SecretStr(url)
        self._client = httpx.Client(timeout=config.timeout_s, transport=transport)
        self._sleep = sleep
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._last: float | None = None

    def __repr__(self) -> str:
        return f"DiscordNotifier(level={self.config.alert_level!r})"

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()

    def notify(self, event: Event) -> None:
        """Post ``event`` (blocking; failures are logged, never raised)."""
        if not passes(event, self.config.alert_level):
            return
        out = event_message(event, self.curves)
        pieces = split_text(out.text, DISCORD_LIMIT)
        with self._lock:
            for n, piece in enumerate(pieces):
                image = out.image if n == 0 else None
                if not self._post(piece, image):
                    return

    def _post(self, content: str, image: bytes | None) -> bool:
        payload: dict[str, Any] = {"content": content, "allowed_mentions": {"parse": []}}
        for attempt in range(self.retries + 1):
            self._space()
            try:
                if image is None:
                    response = self._client.post(self._url.get_secret_value(), json=payload)
                else:
                    response = self._client.post(
                        self._url.get_secret_value(),
                        data={"payload_json": json.dumps(payload)},
                        files={"files[0]": ("equity.png", image, "image/png")},
                    )
            except httpx.HTTPError as e:
                logger.warning("discord alert not sent: %s", type(e).__name__)
                return False
            finally:
                self._last = self._monotonic()
            if response.status_code == 429 and attempt < self.retries:
                self._sleep(min(self._retry_after(response), _MAX_WAIT_S))
                continue
            if response.is_success:
                return True
            logger.warning("discord refused an alert: HTTP %d", response.status_code)
            return False
        logger.warning("discord alert dropped: still rate limited")
        return False

    def _space(self) -> None:
        if self._last is not None:
            wait = self._last + self.config.min_interval_s - self._monotonic()
            if wait > 0:
                self._sleep(wait)

    @staticmethod
    def _retry_after(response: httpx.Response) -> float:
        try:
            return float(response.json().get("retry_after", 1.0))
        except (ValueError, AttributeError):
            return float(response.headers.get("Retry-After", 1.0))
