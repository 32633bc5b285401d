"""Keep tokens out of the logs: a redacting ``logging.Filter``, installed on every record.

httpx logs each request URL at INFO, and a Telegram Bot API URL embeds the bot
token (``https://api.telegram.org/bot<token>/sendMessage``); a Discord webhook
URL embeds one too. :func:`install_redaction` sets ``httpx``/``httpcore`` to
WARNING and applies :class:`TokenRedactingFilter` to every log record of the
process (through the record factory, so it covers every logger and every
handler, including those configured later). The filter removes the given
secrets and anything shaped like a bot token or a webhook URL, from the
message, its arguments, the exception text and the stack.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["REDACTED", "TokenRedactingFilter", "install_redaction", "redact"]

REDACTED = "<redacted>"
_SHAPES = (
    # A Bot API URL path or a bare bot token: 123456789:AA...
    (re.compile(r"bot\d{3,}:[A-Za-z0-9_-]{20,}"), f"bot{REDACTED}"),
    (re.compile(r"\b\d{5,}:[A-Za-z0-9_-]{30,}"), REDACTED),
    # A Discord webhook: .../api/webhooks/<id>/<token>
    (re.compile(r"(/api/webhooks/\d+/)[A-Za-z0-9_.-]+"), rf"\g<1>{REDACTED}"),
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without the ``secrets`` and without token-shaped substrings."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    for pattern, repl in _SHAPES:
        text = pattern.sub(repl, text)
    return text


class TokenRedactingFilter(logging.Filter):
    """Rewrite a record so that no secret (nor token-shaped text) is left in it.

    Args:
        secrets: exact strings to remove (tokens, webhook URLs); more can be added.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets: set[str] = {s for s in secrets if s}
        self._lock = threading.Lock()

    def add(self, secret: str) -> None:
        """Also remove ``secret`` (empty strings are ignored)."""
        if secret:
            with self._lock:
                self._secrets.add(secret)

    def redact(self, text: str) -> str:
        """``text`` with every known secret and token shape removed."""
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        return redact(text, secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact ``record`` in place; never drops it."""
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: keep what can be shown
            message = f"{record.msg} {record.args}"
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


_FILTER = TokenRedactingFilter()
_INSTALL_LOCK = threading.Lock()
_installed = False


def _wrap_factory(previous: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _FILTER.filter(record)
        return record

    return factory


def install_redaction(*secrets: str) -> TokenRedactingFilter:
    """Redact ``secrets`` (and token shapes) from every log record of the process.

    Idempotent: the record factory is wrapped once; later calls add secrets.
    Also sets the ``httpx`` and ``httpcore`` loggers to WARNING, so request URLs
    are not logged at all. Returns the process-wide filter (to attach to a
    handler configured elsewhere, if wanted).
    """
    global _installed
    for s in secrets:
        _FILTER.add(s)
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    with _INSTALL_LOCK:
        if not _installed:
            logging.setLogRecordFactory(_wrap_factory(logging.getLogRecordFactory()))
            _installed = True
    return _FILTER
